// Shared CLI helpers (see common.hpp).
#include "tools/egfuse/common.hpp"

#include <unistd.h>

#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "egfuse/graph_text.hpp"
#include "egfuse/rule_ast.hpp"

namespace egfuse::cli {

void add_rules_option(CLI::App& sub, std::vector<std::string>& rules) {
  sub.add_option("--rules", rules, "Rule files declaring extra template kinds")->check(CLI::ExistingFile);
}

TemplateRegistry load_registry(const std::vector<std::string>& extra, Diagnostics& diags) {
  TemplateRegistry reg = TemplateRegistry::builtin();
  // The standard rules declare the in-place kinds (kv_cache_update, ...); an
  // installation without them still knows the built-ins.
  std::vector<std::string> files;
  for (const std::string& f : rules::standard_rule_files())
    if (std::ifstream(f).good()) files.push_back(f);
  files.insert(files.end(), extra.begin(), extra.end());
  if (files.empty()) return reg;
  rules::RuleSet set = rules::load_rules(files, diags);
  set.register_templates(reg, diags);
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
