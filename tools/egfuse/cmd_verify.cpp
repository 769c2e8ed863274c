// egfuse verify: parse a graph file and run the IR verifier (types, mutation, hazards).
#include <CLI/CLI.hpp>

#include <iostream>

#include "tools/egfuse/command.hpp"
#include "tools/egfuse/common.hpp"

namespace egfuse::cli {
namespace {
struct VerifyOptions {
  std::string graph;
  std::vector<std::string> rules;
  bool json = false;
};
}  // namespace

EGFUSE_COMMAND(verify, "verify", "Parse a graph file and verify it (types, mutation targets, hazards)", [](CLI::App& sub) {
  auto o = std::make_shared<VerifyOptions>();
  sub.add_option("graph", o->graph, "Graph file (docs/graph-format.md)")->required();
  sub.add_flag("--json", o->json, "Print diagnostics (or the summary) as JSON lines on stdout");
  add_rules_option(sub, o->rules);
  return std::function<int()>([o] {
    Diagnostics diags;
    TemplateRegistry reg = load_registry(o->rules, diags);
    auto g = diags.has_errors() ? std::nullopt : load_graph_file(o->graph, reg, diags, true);
    if (!g) return std::max(1, report(diags, o->json));
    report(diags, o->json);
    size_t inputs = g->inputs().size();
    if (o->json)
      std::cout << "{\"graph\":\"" << g->name << "\",\"ok\":true,\"nodes\":" << g->size() << ",\"inputs\":" << inputs
                << ",\"outputs\":" << g->outputs.size() << "}\n";
    else
      std::cout << o->graph << ": ok: graph " << g->name << ", " << g->size() << " nodes (" << inputs << " inputs), "
                << g->outputs.size() << (g->outputs.size() == 1 ? " output\n" : " outputs\n");
    return 0;
  });
});

}  // namespace egfuse::cli
