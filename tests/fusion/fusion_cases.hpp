// Shared helpers of the fusion tests: a rule set naming every rule family, a
// registry with mutating templates, and plan queries.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "egfuse/fusion.hpp"
#include "egfuse/plan.hpp"
#include "egfuse/templates.hpp"

namespace fusion_test {
using namespace egfuse;

// The standard rule files and a registry holding their template kinds.
struct StandardRules {
  rules::RuleSet rules;
  TemplateRegistry reg;
};
inline StandardRules load_standard_rules() {
  StandardRules s;
  Diagnostics d;
  s.rules = rules::load_rules(rules::standard_rule_files(), d);
  s.rules.register_templates(s.reg, d);
  INFO(d.render());
  REQUIRE(!d.has_errors());
  return s;
}

// The .graph files of a directory, sorted.
inline std::vector<std::string> graph_files(const std::string& dir) {
  std::vector<std::string> files;
  for (auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".graph") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

inline TensorType ty(Shape s, DType d = DType::f32) { return TensorType{d, std::move(s), {}, 0}; }

// The standard rules (ops, templates, fusion, mutation), without the rules of
// the families in `except` (a rule belongs to the family its name starts with).
inline rules::RuleSet family_rules(std::vector<std::string> except = {}) {
  Diagnostics d;
  std::vector<std::string> files;
  for (auto& f : rules::standard_rule_files())
    if (f.find("algebra") == std::string::npos) files.push_back(f);
  rules::RuleSet rs = rules::load_rules(files, d);
  INFO(d.render());
  REQUIRE(!d.has_errors());
  auto excluded = [&](const std::string& name) {
    return std::any_of(except.begin(), except.end(), [&](const std::string& f) { return name.rfind(f, 0) == 0; });
  };
  rs.rules.erase(std::remove_if(rs.rules.begin(), rs.rules.end(), [&](auto& r) { return excluded(r.name); }),
                 rs.rules.end());
  for (auto& set : rs.rulesets)
    set.rules.erase(std::remove_if(set.rules.begin(), set.rules.end(), excluded), set.rules.end());
  return rs;
}

inline TemplateRegistry mutating_registry() {
  TemplateRegistry reg;
  std::string err;
  TemplateKind k;
  k.name = "kv_cache_update";
  k.impl = "index_copy";
  k.inputs = {{"cache", {DimExpr::variable("S"), DimExpr::variable("D")}, {}, false, true},
              {"idx", {DimExpr::variable("T")}, DType::i64, false, false},
              {"src", {DimExpr::variable("T"), DimExpr::variable("D")}, {}, true, false}};
  k.out_shape = {DimExpr::variable("T"), DimExpr::variable("D")};
  k.epilogue = true;
  REQUIRE(reg.add(k, err));
  return reg;
}

inline CompileResult compile(const Graph& g, const TemplateRegistry& reg, CompileOptions opts = {},
                             const rules::RuleSet& rs = family_rules()) {
  Diagnostics d;
  Diagnostics vd;
  REQUIRE(verify(g, reg, vd));
  auto r = compile_graph(g, rs, reg, opts, d);
  INFO(d.render());
  INFO(r.plan.to_text());
  CHECK(r.ok);
  CHECK(validate_plan(r.unfused, reg, d));
  return r;
}

// The kernel computing graph node `name` (-1 if none).
inline int kernel_of(const Plan& p, const std::string& name) {
  for (size_t i = 0; i < p.kernels.size(); ++i)
    for (auto& n : p.kernels[i].nodes)
      if (n == name) return int(i);
  return -1;
}
inline bool same_kernel(const Plan& p, const std::string& a, const std::string& b) {
  return kernel_of(p, a) >= 0 && kernel_of(p, a) == kernel_of(p, b);
}
inline bool kernel_has_rule(const Plan& p, const std::string& node, const std::string& rule) {
  int k = kernel_of(p, node);
  if (k < 0) return false;
  for (auto& r : p.kernels[size_t(k)].rules)
    if (r.rfind(rule, 0) == 0) return true;
  return false;
}

}  // namespace fusion_test
