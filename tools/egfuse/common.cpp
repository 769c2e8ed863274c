// Shared CLI helpers (see common.hpp).
#include "tools/egfuse/common.hpp"

#include <unistd.h>

#include <iostream>

#include <CLI/CLI.hpp>

#include "egfuse/graph_text.hpp"

namespace egfuse::cli {

void add_rules_option(CLI::App& sub, std::vector<std::string>& rules) {
  sub.add_option("--rules", rules, "Rule files declaring extra template kinds")->check(CLI::ExistingFile);
}

TemplateRegistry load_registry(const std::vector<std::string>& rules, Diagnostics& diags) {
  TemplateRegistry reg = TemplateRegistry::builtin();
  // Rule files need the rule front end (engine/rules); until it is in the
  // library only the built-in kinds (mm, bmm, addmm) are known.
  for (const std::string& r : rules) {
    SourceSpan s;
    s.file = make_source(r, "");
    diags.error(s, "E-rules-unavailable", "this build cannot read rule files yet; only built-in template kinds are known");
  }
  return reg;
}

std::optional<Graph> load_graph_file(const std::string& path, const TemplateRegistry& reg, Diagnostics& diags,
                                     bool verify_too) {
  auto g = load_graph(path, reg, diags);
  if (g && verify_too && !verify(*g, reg, diags)) return std::nullopt;
  return g;
}

int report(const Diagnostics& diags, bool json) {
  Diagnostics sorted = diags;
  sorted.sort();
  if (json) std::cout << sorted.render_json();
  else std::cerr << sorted.render(isatty(2) != 0);
  return sorted.has_errors() ? 1 : 0;
}

}  // namespace egfuse::cli
