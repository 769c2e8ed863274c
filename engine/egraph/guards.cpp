// Guard evaluation: a registry of guard functions (name -> function over one
// substitution and the analysis data), and/or/not, comparisons, and the
// record of what a failing guard saw.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "egfuse/rewrite.hpp"

namespace egfuse::eg {

std::optional<std::string> attr_value(const EGraph& g, uint32_t payload, std::string_view key);  // pattern.cpp

namespace {
using P = rules::Pattern;

const VarInfo* find_var(const CompiledRule& r, const std::string& name) {
  for (auto& v : r.vars)
    if (v.name == name) return &v;
  return nullptr;
}

std::optional<Id> lookup_pattern(const EGraph& g, const CompiledRule& r, std::span<const Id> subst, const P& p) {
  switch (p.kind) {
    case P::Kind::var: {
      const VarInfo* v = find_var(r, p.name);
      if (!v || v->kind != VarKind::term) return std::nullopt;
      return g.find(subst[v->slot]);
    }
    case P::Kind::varargs:
      return std::nullopt;
    case P::Kind::number: {
      auto idx = g.find_number(p.number);
      if (!idx) return std::nullopt;
      return g.lookup(kNumOp, {}, *idx);
    }
    case P::Kind::symbol: {
      auto o = g.ops().find(p.name);
      if (!o) return std::nullopt;
      return g.lookup(*o, {});
    }
    case P::Kind::apply: {
      std::vector<Id> kids;
      for (auto& a : p.args) {
        if (a.kind == P::Kind::varargs) {
          const VarInfo* v = find_var(r, a.name);
          if (!v) return std::nullopt;
          auto rest = g.node(subst[v->slot]).children.subspan(subst[v->slot + 1]);
          kids.insert(kids.end(), rest.begin(), rest.end());
          continue;
        }
        auto k = lookup_pattern(g, r, subst, a);
        if (!k) return std::nullopt;
        kids.push_back(*k);
      }
      Sym op;
      uint32_t payload = 0;
      if (p.op_is_var) {
        const VarInfo* v = find_var(r, p.name);
        if (!v) return std::nullopt;
        op = subst[v->slot];
        payload = subst[v->slot + 1];
      } else {
        auto o = g.ops().find(p.name);
        if (!o) return std::nullopt;
        op = *o;
      }
      return g.lookup(op, kids, payload);
    }
  }
  return std::nullopt;
}

std::string describe_class(const EGraph& g, Id c) {
  std::string s = "class " + std::to_string(c);
  const ClassData& d = g.data(c);
  if (d.has_const()) s += " = " + number_text(d.constant);
  if (d.is_symbol()) s += " symbol";
  if (auto* t = g.type(c)) s += " " + egfuse::to_string(*t);
  return s;
}

bool truthy(const GuardValue& v) { return std::holds_alternative<bool>(v) && std::get<bool>(v); }

const TensorType* type_of(const GuardArgs& a, size_t i) {
  auto c = a.term(i);
  return c ? a.graph.type(*c) : nullptr;
}

// A position argument: an integer, an input name, or ?xs... (its length).
std::optional<int64_t> position(const GuardArgs& a, size_t i, const OpInfo* info) {
  if (i >= a.size()) return std::nullopt;
  const P& p = a.arg(i);
  if (p.kind == P::Kind::number) return int64_t(p.number);
  if (p.kind == P::Kind::varargs) {
    const VarInfo* v = find_var(a.rule, p.name);
    if (!v) return std::nullopt;
    return int64_t(a.subst[v->slot + 1]);
  }
  if (p.kind == P::Kind::symbol && info) {
    for (size_t k = 0; k < info->input_names.size(); ++k)
      if (info->input_names[k] == p.name) return int64_t(k);
  }
  return std::nullopt;
}

std::optional<Shape> parse_shape_literal(std::string_view t) {
  Shape s;
  size_t i = 0;
  while (i < t.size() && t[i] != '[') ++i;
  if (i == t.size()) return std::nullopt;
  ++i;
  while (i < t.size() && t[i] != ']') {
    while (i < t.size() && (t[i] == ' ' || t[i] == ',')) ++i;
    if (i < t.size() && t[i] == ']') break;
    char* end = nullptr;
    long long v = std::strtoll(t.data() + i, &end, 10);
    if (end == t.data() + i) return std::nullopt;  // a symbolic dimension
    s.push_back(v);
    i = size_t(end - t.data());
  }
  return s;
}

GuardValue literal_value(const std::string& text, const GuardValue& other) {
  if (std::holds_alternative<Shape>(other)) {
    if (auto s = parse_shape_literal(text)) return *s;
    return {};
  }
  if (std::holds_alternative<int64_t>(other) || std::holds_alternative<double>(other)) {
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (end == text.c_str()) return {};
    if (std::holds_alternative<int64_t>(other) && v == std::floor(v)) return int64_t(v);
    return v;
  }
  if (std::holds_alternative<bool>(other)) return text == "true";
  std::string t = text;
  if (t.size() >= 2 && t.front() == '"' && t.back() == '"') t = t.substr(1, t.size() - 2);
  return t;
}

std::optional<int> compare3(const GuardValue& a, const GuardValue& b) {
  auto num = [](const GuardValue& v) -> std::optional<double> {
    if (auto* i = std::get_if<int64_t>(&v)) return double(*i);
    if (auto* d = std::get_if<double>(&v)) return *d;
    return std::nullopt;
  };
  if (auto x = num(a)) {
    auto y = num(b);
    if (!y) return std::nullopt;
    return *x < *y ? -1 : *x > *y ? 1 : 0;
  }
  if (a.index() != b.index() || std::holds_alternative<std::monostate>(a)) return std::nullopt;
  if (a == b) return 0;
  return a < b ? -1 : 1;
}

}  // namespace

std::string to_string(const GuardValue& v) {
  struct V {
    std::string operator()(std::monostate) const { return "unknown"; }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const { return number_text(d); }
    std::string operator()(const std::string& s) const { return s; }
    std::string operator()(const Shape& s) const { return shape_string(s); }
  };
  return std::visit(V{}, v);
}

std::string pattern_text(const rules::Pattern& p) {
  switch (p.kind) {
    case P::Kind::var: return "?" + p.name;
    case P::Kind::varargs: return "?" + p.name + "...";
    case P::Kind::number: return number_text(p.number);
    case P::Kind::symbol: return p.name;
    case P::Kind::apply: {
      std::string s = "(" + (p.op_is_var ? "?" + p.name : p.name);
      if (!p.attrs.empty()) {
        s += "{";
        for (size_t i = 0; i < p.attrs.size(); ++i) s += (i ? ", " : "") + p.attrs[i].first + "=" + p.attrs[i].second;
        s += "}";
      }
      for (auto& a : p.args) s += " " + pattern_text(a);
      return s + ")";
    }
  }
  return "?";
}

std::string guard_text(const rules::Guard& g) {
  using K = rules::Guard::Kind;
  switch (g.kind) {
    case K::and_:
    case K::or_: {
      std::string s;
      for (size_t i = 0; i < g.kids.size(); ++i)
        s += (i ? (g.kind == K::and_ ? " and " : " or ") : "") + std::string("(") + guard_text(g.kids[i]) + ")";
      return s;
    }
    case K::not_: return "not " + (g.kids.empty() ? std::string("?") : guard_text(g.kids[0]));
    case K::compare:
      return (g.kids.size() > 0 ? guard_text(g.kids[0]) : "?") + " " + g.name + " " +
             (g.kids.size() > 1 ? guard_text(g.kids[1]) : "?");
    case K::call: {
      if (g.is_literal && g.name.empty()) return g.literal;
      std::string s = g.name + "(";
      for (size_t i = 0; i < g.args.size(); ++i) s += (i ? ", " : "") + pattern_text(g.args[i]);
      if (g.is_literal) s += std::string(g.args.empty() ? "" : ", ") + g.literal;
      return s + ")";
    }
  }
  return "?";
}

// ---------------------------------------------------------------- GuardArgs
std::optional<Id> GuardArgs::term(size_t i) const {
  if (i >= size()) return std::nullopt;
  return lookup_pattern(graph, rule, subst, arg(i));
}

std::optional<std::pair<Sym, uint32_t>> GuardArgs::op_var(size_t i) const {
  if (i >= size()) return std::nullopt;
  const P& p = arg(i);
  if (p.kind != P::Kind::var && !(p.kind == P::Kind::apply && p.op_is_var)) return std::nullopt;
  const VarInfo* v = find_var(rule, p.name);
  if (!v || v->kind != VarKind::op) return std::nullopt;
  return std::pair<Sym, uint32_t>{subst[v->slot], subst[v->slot + 1]};
}

std::span<const Id> GuardArgs::varargs(size_t i) const {
  if (i >= size()) return {};
  const VarInfo* v = find_var(rule, arg(i).name);
  if (!v || v->kind != VarKind::varargs) return {};
  return graph.node(subst[v->slot]).children.subspan(subst[v->slot + 1]);
}

std::vector<std::pair<Sym, uint32_t>> GuardArgs::node_ops(size_t i) const {
  if (auto o = op_var(i)) return {*o};
  std::vector<std::pair<Sym, uint32_t>> out;
  if (auto c = term(i))
    for (Id n : graph.class_nodes(*c)) {
      NodeRef nd = graph.node(n);
      if (out.empty() || out.back() != std::pair<Sym, uint32_t>{nd.op, nd.payload}) out.push_back({nd.op, nd.payload});
    }
  return out;
}

// The children classes of the node matched by the application in `p` whose
// head is op variable `var` (varargs expanded), or nullopt.
static std::optional<std::vector<Id>> matched_children(const GuardArgs& a, const P& p, const std::string& var) {
  if (p.kind != P::Kind::apply) return std::nullopt;
  if (p.op_is_var && p.name == var) {
    std::vector<Id> kids;
    for (auto& c : p.args) {
      if (c.kind == P::Kind::varargs) {
        const VarInfo* v = find_var(a.rule, c.name);
        if (!v) return std::nullopt;
        auto rest = a.graph.node(a.subst[v->slot]).children.subspan(a.subst[v->slot + 1]);
        kids.insert(kids.end(), rest.begin(), rest.end());
        continue;
      }
      auto k = lookup_pattern(a.graph, a.rule, a.subst, c);
      if (!k) return std::nullopt;
      kids.push_back(*k);
    }
    return kids;
  }
  for (auto& c : p.args)
    if (auto r = matched_children(a, c, var)) return r;
  return std::nullopt;
}

// ---------------------------------------------------------------- registry
GuardRegistry::GuardRegistry() {
  auto op_flag = [](bool OpInfo::*flag) {
    return [flag](const GuardArgs& a) -> GuardValue {
      for (auto [op, payload] : a.node_ops(0)) {
        (void)payload;
        const OpInfo* info = a.graph.find_op_info(op);
        if (info && info->*flag) return true;
      }
      return false;
    };
  };
  add("pointwise", [](const GuardArgs& a) -> GuardValue {
    if (auto o = a.op_var(0)) {
      const OpInfo* info = a.graph.find_op_info(o->first);
      return info && info->pointwise;
    }
    auto c = a.term(0);
    return c && a.graph.data(*c).pointwise();
  });
  add("reduction", op_flag(&OpInfo::reduction));
  add("view", op_flag(&OpInfo::view));
  add("epilogue_allowed", op_flag(&OpInfo::epilogue));
  add("is_template", [](const GuardArgs& a) -> GuardValue {
    std::string kind = a.size() > 1 && a.arg(1).kind == P::Kind::symbol ? a.arg(1).name : a.guard.literal;
    for (auto [op, payload] : a.node_ops(0)) {
      (void)payload;
      const OpInfo* info = a.graph.find_op_info(op);
      if (info && info->is_template && (kind.empty() || a.graph.op_name(op) == kind)) return true;
    }
    return false;
  });
  add("allowed_prologue", [](const GuardArgs& a) -> GuardValue {
    for (auto [op, payload] : a.node_ops(0)) {
      (void)payload;
      const OpInfo* info = a.graph.find_op_info(op);
      if (!info || !info->is_template) continue;
      auto pos = position(a, 1, info);
      if (pos && std::count(info->prologue_inputs.begin(), info->prologue_inputs.end(), int32_t(*pos))) return true;
    }
    return false;
  });
  add("mutates", [](const GuardArgs& a) -> GuardValue {
    for (auto [op, payload] : a.node_ops(0)) {
      (void)payload;
      const OpInfo* info = a.graph.find_op_info(op);
      if (!info) continue;
      if (a.size() < 2) {
        if (!info->mutated_inputs.empty()) return true;
        continue;
      }
      auto pos = position(a, 1, info);
      if (pos && std::count(info->mutated_inputs.begin(), info->mutated_inputs.end(), int32_t(*pos))) return true;
    }
    return false;
  });
  // reads(?n, ?x): the term at ?n reads a storage version that ?x reads (or defines).
  add("reads", [](const GuardArgs& a) -> GuardValue {
    auto n = a.term(0), x = a.term(1);
    if (!n || !x) return false;
    auto rn = a.graph.read_set(a.graph.data(*n).reads), rx = a.graph.read_set(a.graph.data(*x).reads);
    std::vector<uint32_t> both;
    std::set_intersection(rn.begin(), rn.end(), rx.begin(), rx.end(), std::back_inserter(both));
    return !both.empty();
  });
  // reads_mutated_by(?q, ?k): ?q reads a storage version that template ?k writes
  // in place. ?q may be a varargs variable (any of its terms); ?k a term or the
  // op variable of the matched template node (?k(?a, buf(?q), ...)): then its
  // mutated inputs are the matched node's children at those positions.
  add("reads_mutated_by", [](const GuardArgs& a) -> GuardValue {
    std::vector<uint32_t> rq;
    auto add_reads = [&](Id c) {
      auto r = a.graph.read_set(a.graph.data(c).reads);
      std::vector<uint32_t> u;
      std::set_union(rq.begin(), rq.end(), r.begin(), r.end(), std::back_inserter(u));
      rq.swap(u);
    };
    if (a.size() < 2) return false;
    if (a.arg(0).kind == P::Kind::varargs) {
      for (Id c : a.varargs(0)) add_reads(c);
    } else if (auto q = a.term(0)) {
      add_reads(*q);
    }
    if (rq.empty()) return false;
    auto hits = [&](Id mutated) {
      auto rm = a.graph.read_set(a.graph.data(mutated).reads);
      std::vector<uint32_t> both;
      std::set_intersection(rq.begin(), rq.end(), rm.begin(), rm.end(), std::back_inserter(both));
      return !both.empty();
    };
    if (auto o = a.op_var(1)) {
      const OpInfo* info = a.graph.find_op_info(o->first);
      if (!info || info->mutated_inputs.empty() || !a.rule.source) return false;
      auto kids = matched_children(a, a.rule.source->lhs, a.arg(1).name);
      if (!kids) return false;
      for (int32_t i : info->mutated_inputs)
        if (size_t(i) < kids->size() && hits((*kids)[size_t(i)])) return true;
      return false;
    }
    auto k = a.term(1);
    if (!k) return false;
    for (Id n : a.graph.class_nodes(*k)) {
      NodeRef nd = a.graph.node(n);
      const OpInfo* info = a.graph.find_op_info(nd.op);
      if (!info) continue;
      for (int32_t i : info->mutated_inputs) {
        if (size_t(i) >= nd.children.size()) continue;
        if (hits(nd.children[size_t(i)])) return true;
      }
    }
    return false;
  });
  add("is_const", [](const GuardArgs& a) -> GuardValue {
    auto c = a.term(0);
    return c && a.graph.data(*c).has_const();
  });
  add("is_symbol", [](const GuardArgs& a) -> GuardValue {
    auto c = a.term(0);
    return c && a.graph.data(*c).is_symbol();
  });
  add("not_equal", [](const GuardArgs& a) -> GuardValue {
    auto x = a.term(0), y = a.term(1);
    if (!x || !y) return true;  // a term not in the e-graph differs from every class
    return a.graph.find(*x) != a.graph.find(*y);
  });
  add("value", [](const GuardArgs& a) -> GuardValue {
    auto c = a.term(0);
    if (!c || !a.graph.data(*c).has_const()) return {};
    return a.graph.data(*c).constant;
  });
  add("len", [](const GuardArgs& a) -> GuardValue { return int64_t(a.varargs(0).size()); });
  add("attr", [](const GuardArgs& a) -> GuardValue {
    std::string key = a.size() > 1 ? a.arg(1).name : a.guard.literal;
    for (auto [op, payload] : a.node_ops(0)) {
      (void)op;
      if (auto v = attr_value(a.graph, payload, key)) return *v;
    }
    return {};
  });
  add("shape", [](const GuardArgs& a) -> GuardValue {
    if (auto* t = type_of(a, 0)) return t->shape;
    return {};
  });
  add("dtype", [](const GuardArgs& a) -> GuardValue {
    if (auto* t = type_of(a, 0)) return std::string(dtype_name(t->dtype));
    return {};
  });
  add("rank", [](const GuardArgs& a) -> GuardValue {
    if (auto* t = type_of(a, 0)) return int64_t(t->rank());
    return {};
  });
  add("numel", [](const GuardArgs& a) -> GuardValue {
    if (auto* t = type_of(a, 0)) return t->numel();
    return {};
  });
  add("contiguous", [](const GuardArgs& a) -> GuardValue {
    if (auto* t = type_of(a, 0)) return t->contiguous();
    return {};
  });
  // broadcasts_to(?x, S): numpy broadcasting of ?x's shape to S (a term's shape or a literal).
  add("broadcasts_to", [](const GuardArgs& a) -> GuardValue {
    auto* t = type_of(a, 0);
    if (!t) return false;
    std::optional<Shape> target;
    if (auto* u = type_of(a, 1)) target = u->shape;
    else if (a.guard.is_literal) target = parse_shape_literal(a.guard.literal);
    if (!target || t->shape.size() > target->size()) return false;
    size_t off = target->size() - t->shape.size();
    for (size_t i = 0; i < t->shape.size(); ++i)
      if (t->shape[i] != 1 && t->shape[i] != (*target)[off + i]) return false;
    return true;
  });
}

void GuardRegistry::add(std::string name, GuardFn fn) { fns_[std::move(name)] = std::move(fn); }

const GuardFn* GuardRegistry::find(const std::string& name) const {
  auto it = fns_.find(name);
  return it == fns_.end() ? nullptr : &it->second;
}

std::vector<std::string> GuardRegistry::names() const {
  std::vector<std::string> out;
  for (auto& [n, f] : fns_) out.push_back(n);
  return out;
}

// ---------------------------------------------------------------- evaluation
namespace {
GuardValue call_value(const GuardRegistry& reg, const GuardArgs& base, const rules::Guard& g) {
  if (g.is_literal && g.name.empty()) return g.literal;
  const GuardFn* fn = reg.find(g.name);
  if (!fn) return {};
  GuardArgs a{base.graph, base.rule, base.subst, base.regs, g};
  return (*fn)(a);
}

std::string seen_values(const GuardArgs& base, const rules::Guard& g) {
  std::string s;
  for (size_t i = 0; i < g.args.size(); ++i) {
    GuardArgs a{base.graph, base.rule, base.subst, base.regs, g};
    if (!s.empty()) s += ", ";
    s += pattern_text(g.args[i]) + "=";
    if (auto o = a.op_var(i)) s += "op " + base.graph.op_name(o->first) + base.graph.attrs_text(o->second);
    else if (auto c = a.term(i)) s += describe_class(base.graph, *c);
    else s += "absent";
  }
  return s;
}

bool eval(const GuardRegistry& reg, const GuardArgs& base, const rules::Guard& g, GuardFailure* why) {
  using K = rules::Guard::Kind;
  switch (g.kind) {
    case K::and_:
      for (auto& k : g.kids)
        if (!eval(reg, base, k, why)) return false;
      return true;
    case K::or_: {
      GuardFailure last;
      for (auto& k : g.kids)
        if (eval(reg, base, k, why ? &last : nullptr)) return true;
      if (why) *why = {guard_text(g), last.values};
      return false;
    }
    case K::not_: {
      bool v = !g.kids.empty() && eval(reg, base, g.kids[0], nullptr);
      if (v && why) *why = {guard_text(g), seen_values(base, g.kids[0]) + " (holds)"};
      return !v;
    }
    case K::compare: {
      if (g.kids.size() != 2) return false;
      GuardValue a = call_value(reg, base, g.kids[0]), b = call_value(reg, base, g.kids[1]);
      if (g.kids[0].is_literal && g.kids[0].name.empty()) a = literal_value(g.kids[0].literal, b);
      if (g.kids[1].is_literal && g.kids[1].name.empty()) b = literal_value(g.kids[1].literal, a);
      auto c = compare3(a, b);
      bool ok = false;
      if (c) {
        const std::string& o = g.name;
        ok = o == "==" ? *c == 0 : o == "!=" ? *c != 0 : o == "<" ? *c < 0 : o == "<=" ? *c <= 0
           : o == ">" ? *c > 0 : o == ">=" ? *c >= 0 : false;
      }
      if (!ok && why) *why = {guard_text(g), to_string(a) + " " + g.name + " " + to_string(b)};
      return ok;
    }
    case K::call: {
      const GuardFn* fn = reg.find(g.name);
      if (!fn) {
        if (why) *why = {guard_text(g), "unknown guard function"};
        return false;
      }
      GuardValue v = call_value(reg, base, g);
      bool ok = truthy(v);
      if (!ok && why) *why = {guard_text(g), seen_values(base, g) + " -> " + to_string(v)};
      return ok;
    }
  }
  return false;
}
}  // namespace

bool eval_guard(const GuardRegistry& reg, const GuardArgs& args, GuardFailure* why) {
  return eval(reg, args, args.guard, why);
}

}  // namespace egfuse::eg
