// egfuse parse: parse a graph file and print its canonical form, or the errors.
#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>

#include "egfuse/graph_text.hpp"
#include "tools/egfuse/command.hpp"
#include "tools/egfuse/common.hpp"

namespace egfuse::cli {
namespace {
struct ParseOptions {
  std::string graph, out;
  std::vector<std::string> rules;
  bool json = false;
};
}  // namespace

EGFUSE_COMMAND(parse, "parse", "Parse a graph file and print its canonical form (or its errors)", [](CLI::App& sub) {
  auto o = std::make_shared<ParseOptions>();
  sub.add_option("graph", o->graph, "Graph file (docs/graph-format.md)")->required();
  sub.add_option("-o,--output", o->out, "Write the canonical form to this file instead of stdout");
  sub.add_flag("--json", o->json, "Print diagnostics as JSON lines on stdout");
  add_rules_option(sub, o->rules);
  return std::function<int()>([o] {
    Diagnostics diags;
    TemplateRegistry reg = load_registry(o->rules, diags);
    auto g = diags.has_errors() ? std::nullopt : load_graph_file(o->graph, reg, diags, false);
    if (!g) return std::max(1, report(diags, o->json));
    report(diags, o->json);  // warnings
    std::string text = print_graph(*g);
    if (o->out.empty()) {
      std::cout << text;
    } else {
      std::ofstream f(o->out, std::ios::binary);
      f << text;
      if (!f) throw Error(o->out + ": cannot write file");
    }
    return 0;
  });
});

}  // namespace egfuse::cli
