// The example graphs (examples/*.graph) compiled to fused and unfused plans
// with the standard rules, for the PTX tests.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "egfuse/fusion.hpp"
#include "egfuse/graph_text.hpp"
#include "egfuse/rule_ast.hpp"
#include "egfuse_config.h"

namespace egfuse::ptxtest {

struct ExamplePlans {
  std::string name;
  Graph graph;
  Plan fused, unfused;
};

struct Examples {
  TemplateRegistry reg = TemplateRegistry::builtin();
  std::vector<ExamplePlans> plans;
  std::string errors;
};

inline Examples load_examples() {
  Examples ex;
  std::string root = std::getenv("EGFUSE_SOURCE_ROOT") ? std::getenv("EGFUSE_SOURCE_ROOT") : EGFUSE_SOURCE_ROOT;
  Diagnostics diags;
  std::vector<std::string> files;
  for (const std::string& f : rules::standard_rule_files())
    if (std::ifstream(f).good()) files.push_back(f);
  rules::RuleSet rs = rules::load_rules(files, diags);
  rs.register_templates(ex.reg, diags);
  std::vector<std::filesystem::path> graphs;
  for (auto& e : std::filesystem::directory_iterator(root + "/examples"))
    if (e.path().extension() == ".graph") graphs.push_back(e.path());
  std::sort(graphs.begin(), graphs.end());
  for (auto& path : graphs) {
    auto g = load_graph(path.string(), ex.reg, diags);
    if (!g) continue;
    CompileResult cr = compile_graph(*g, rs, ex.reg, CompileOptions{}, diags);
    if (!cr.ok) continue;
    ex.plans.push_back({path.stem().string(), std::move(*g), std::move(cr.plan), std::move(cr.unfused)});
  }
  ex.errors = diags.render();
  return ex;
}

}  // namespace egfuse::ptxtest
