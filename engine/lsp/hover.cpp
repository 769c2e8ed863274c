// Hover: an op's or template's signature and doc comment, a rule's pattern,
// doc and fire count (from a trace), a guard function's meaning.
#include <sstream>

#include "engine/lsp/features.hpp"

namespace egfuse::lsp {

namespace {
std::string shape_text(const std::vector<DimExpr>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + s[i].str();
  return t + "]";
}

std::string op_signature(const rules::OpDecl& op) {
  std::string s = "op " + op.name;
  if (!op.attrs.empty()) {
    s += "{";
    for (size_t i = 0; i < op.attrs.size(); ++i) s += (i ? ", " : "") + op.attrs[i].name + ": " + op.attrs[i].type;
    s += "}";
  }
  s += "(";
  for (size_t i = 0; i < op.params.size(); ++i) {
    s += (i ? ", " : "") + op.params[i].name;
    if (op.variadic && i + 1 == op.params.size()) s += "...";
    if (!op.params[i].type.empty()) s += ": " + op.params[i].type;
  }
  s += ")";
  if (!op.result_type.empty()) s += " -> " + op.result_type;
  for (auto& p : op.properties) s += " " + p;
  if (op.definition) s += "\n  = " + rules::to_string(*op.definition);
  return s;
}

std::string template_signature(const TemplateKind& k) {
  std::string s = "template " + k.name + "(";
  std::vector<std::string> prologue, mutated;
  for (size_t i = 0; i < k.inputs.size(); ++i) {
    auto& in = k.inputs[i];
    s += (i ? ", " : "") + in.name + ": " + (in.dtype ? std::string(dtype_name(*in.dtype)) : "") + shape_text(in.shape);
    if (in.prologue) prologue.push_back(in.name);
    if (in.mutated) mutated.push_back(in.name);
  }
  s += ") -> " + (k.out_dtype ? std::string(dtype_name(*k.out_dtype)) : "") + shape_text(k.out_shape);
  auto names = [](const std::vector<std::string>& v) {
    std::string t;
    for (size_t i = 0; i < v.size(); ++i) t += (i ? ", " : "") + v[i];
    return t;
  };
  if (!prologue.empty()) s += "\n  prologue " + names(prologue);
  if (k.epilogue) s += "\n  epilogue";
  if (!mutated.empty()) s += "\n  mutates " + names(mutated);
  if (k.is_extern) s += "\n  extern";
  s += "\n  impl " + k.impl;
  if (k.flops || k.bytes) {
    s += "\n  cost";
    if (k.flops) s += " flops " + k.flops->str();
    if (k.bytes) s += " bytes " + k.bytes->str();
  }
  s += "\n  backends " + names(k.backends);
  return s;
}

std::string code_block(const std::string& code) { return "```egfuse-rules\n" + code + "\n```"; }
std::string with_doc(std::string md, const std::string& doc) {
  if (!doc.empty()) md += "\n\n" + doc;
  return md;
}
}  // namespace

json hover(const Analysis& a, Position p, const std::map<std::string, int64_t>& fire_counts, const std::string& trace) {
  const Occurrence* o = occurrence_at(a, p);
  if (!o) return nullptr;
  const rules::RuleSet& rs = a.rs;
  std::string md;
  switch (o->kind) {
    case SymKind::callee:
      if (auto* op = rs.find_op(o->name)) {
        md = with_doc(code_block(op_signature(*op)), op->doc);
      } else {
        for (auto& t : rs.templates)
          if (t.kind.name == o->name) md = with_doc(code_block(template_signature(t.kind)), t.kind.doc);
        if (md.empty())
          if (const TemplateKind* k = TemplateRegistry::builtin().find(o->name))
            md = with_doc(code_block(template_signature(*k)) + "\n\n(built-in template kind)", k->doc);
      }
      break;
    case SymKind::rule:
      if (auto* r = rs.find_rule(o->name)) {
        std::string code = "rule " + r->name + ":\n  " + rules::to_string(r->lhs) + (r->bidirectional ? " <=> " : " => ") +
                           rules::to_string(r->rhs);
        if (r->guard) code += "\n  if " + rules::to_string(*r->guard);
        md = with_doc(code_block(code), r->doc);
        if (!r->ruleset.empty()) md += "\n\nIn ruleset `" + r->ruleset + "`.";
        if (!trace.empty()) {
          auto it = fire_counts.find(r->name);
          int64_t n = it == fire_counts.end() ? 0 : it->second;
          md += "\n\nFired " + std::to_string(n) + (n == 1 ? " time" : " times") + " in trace `" + trace + "`.";
        }
      }
      break;
    case SymKind::ruleset:
      if (auto* r = rs.find_ruleset(o->name)) {
        std::string code = "ruleset " + r->name + " {";
        for (auto& n : r->rules) code += "\n  " + n;
        md = with_doc(code_block(code + "\n}"), r->doc);
      }
      break;
    case SymKind::schedule:
      if (auto* s = rs.find_schedule(o->name)) {
        std::string code = "schedule " + s->name + " {";
        for (auto& ph : s->phases) code += "\n  phase " + ph.name + ": ruleset " + ph.ruleset;
        md = code_block(code + "\n}");
      }
      break;
    case SymKind::var: {
      size_t uses = 0;
      for (auto& v : a.main->index.occurrences)
        if (v.kind == SymKind::var && v.item == o->item && v.name == o->name) ++uses;
      md = "pattern variable `?" + o->name + "` (" + std::to_string(uses) + (uses == 1 ? " occurrence" : " occurrences") +
           " in this " + (a.main->index.items[o->item].kind == Item::Kind::op ? "op" : "rule") + ")";
      break;
    }
    case SymKind::guard:
      if (auto* g = find_guard(o->name)) md = code_block(g->name + g->args) + "\n\nGuard: " + g->doc + ".";
      break;
    case SymKind::phase:
      md = "phase `" + o->name + "`";
      break;
    case SymKind::include:
      md = "include `" + o->name + "`";
      break;
  }
  if (md.empty()) return nullptr;
  return {{"contents", {{"kind", "markdown"}, {"value", md}}}, {"range", to_json(a.main->range(o->begin, o->end))}};
}

}  // namespace egfuse::lsp
