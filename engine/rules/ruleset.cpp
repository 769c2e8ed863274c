// The RuleSet API: lookups, template registration, the standard library's
// location, and the load entry points (parse with includes, then check).
#include <cstdlib>
#include <filesystem>

#include "egfuse_config.h"
#include "engine/rules/syntax.hpp"

namespace egfuse::rules {

template <class T>
static const T* find_named(const std::vector<T>& v, const std::string& n) {
  for (auto& x : v)
    if (x.name == n) return &x;
  return nullptr;
}
const OpDecl* RuleSet::find_op(const std::string& n) const { return find_named(ops, n); }
const Rule* RuleSet::find_rule(const std::string& n) const { return find_named(rules, n); }
const Ruleset* RuleSet::find_ruleset(const std::string& n) const { return find_named(rulesets, n); }
const Schedule* RuleSet::find_schedule(const std::string& n) const { return find_named(schedules, n); }

// A declaration that restates a kind already registered (the built-ins mm, bmm,
// addmm) with the same meaning is accepted; a different meaning is an error.
static bool same_kind(const TemplateKind& a, const TemplateKind& b) {
  if (a.inputs.size() != b.inputs.size()) return false;
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    auto &x = a.inputs[i], &y = b.inputs[i];
    if (x.name != y.name || x.shape != y.shape || x.dtype != y.dtype || x.prologue != y.prologue ||
        x.mutated != y.mutated)
      return false;
  }
  return a.out_shape == b.out_shape && a.out_dtype == b.out_dtype && a.epilogue == b.epilogue &&
         a.is_extern == b.is_extern && a.impl == b.impl;
}

void RuleSet::register_templates(TemplateRegistry& reg, Diagnostics& diags) const {
  for (auto& t : templates) {
    if (const TemplateKind* old = reg.find(t.kind.name)) {
      if (same_kind(*old, t.kind)) continue;
      Diagnostic d{Severity::error, "E-template-redeclared",
                   "template kind '" + t.kind.name + "' is already registered with a different signature", t.span, {}};
      if (old->span.file) d.notes.emplace_back(old->span, "registered from here");
      diags.add(std::move(d));
      continue;
    }
    std::string err;
    if (!reg.add(t.kind, err)) diags.error(t.span, "E-template", err);
  }
}

std::string standard_rules_dir() {
  if (const char* env = std::getenv("EGFUSE_RULES_DIR"); env && *env) return env;
  std::error_code ec;
  if (std::filesystem::exists(EGFUSE_SOURCE_RULES_DIR "/ops.rules", ec)) return EGFUSE_SOURCE_RULES_DIR;
  return EGFUSE_INSTALL_RULES_DIR;
}

std::vector<std::string> standard_rule_files() {
  std::string d = standard_rules_dir();
  std::vector<std::string> out;
  for (const char* f : {"ops", "templates", "fusion", "mutation", "algebra"}) out.push_back(d + "/" + f + ".rules");
  return out;
}

RuleSet load_rules(const std::vector<std::string>& paths, Diagnostics& diags) {
  std::vector<std::shared_ptr<const SourceFile>> roots;
  for (auto& p : paths) {
    try {
      roots.push_back(load_source(p));
    } catch (const Error& e) {
      SourceSpan s;
      s.file = make_source(p, "");
      diags.error(s, "E-io", std::string("cannot read rule file: ") + e.what());
    }
  }
  return check_files(parse_with_includes(roots, diags), diags);
}

RuleSet load_rules_from_text(const std::string& path, const std::string& text, Diagnostics& diags) {
  return check_files(parse_with_includes({make_source(path, text)}, diags), diags);
}

}  // namespace egfuse::rules
