// The checker: merges parsed files into one RuleSet, resolves names, checks
// arity, variable binding, guard vocabulary and argument kinds, template
// declarations, rulesets and schedules. Errors make the set unusable; warnings
// (rules that can never fire, duplicated or shadowed rules, <=> rules whose
// reverse direction is unbound) do not. docs/rule-language.md lists the codes.
#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>

#include "engine/rules/syntax.hpp"

namespace egfuse::rules {
namespace {

// ---------------------------------------------------------------- guard vocabulary
// Argument kinds: term (a pattern), node (a term or an op variable: the node it
// matched), pos (an input position: ?xs... = its length, an integer, or an input
// name), kind (a template kind name), shape (a term or a [shape] literal),
// varargs (a ?xs... variable), key (an attribute name).
enum class Arg : uint8_t { term, terms, node, pos, kind, shape, varargs, key };
enum class Val : uint8_t { boolean, shape, dtype, integer, number, attr };

struct GuardFn {
  std::vector<Arg> args;
  size_t min_args;
  Val result;
};

const std::map<std::string, GuardFn>& guard_functions() {
  static const std::map<std::string, GuardFn> fns = {
      {"pointwise", {{Arg::node}, 1, Val::boolean}},
      {"reduction", {{Arg::node}, 1, Val::boolean}},
      {"view", {{Arg::node}, 1, Val::boolean}},
      {"is_template", {{Arg::node, Arg::kind}, 1, Val::boolean}},
      {"epilogue_allowed", {{Arg::node}, 1, Val::boolean}},
      {"allowed_prologue", {{Arg::node, Arg::pos}, 2, Val::boolean}},
      {"mutates", {{Arg::node, Arg::pos}, 1, Val::boolean}},
      {"reads", {{Arg::node, Arg::term}, 2, Val::boolean}},
      {"reads_mutated_by", {{Arg::terms, Arg::node}, 2, Val::boolean}},
      {"broadcasts_to", {{Arg::terms, Arg::shape}, 2, Val::boolean}},
      {"is_const", {{Arg::term}, 1, Val::boolean}},
      {"is_symbol", {{Arg::term}, 1, Val::boolean}},
      {"not_equal", {{Arg::term, Arg::term}, 2, Val::boolean}},
      {"contiguous", {{Arg::term}, 1, Val::boolean}},
      {"shape", {{Arg::term}, 1, Val::shape}},
      {"dtype", {{Arg::term}, 1, Val::dtype}},
      {"rank", {{Arg::term}, 1, Val::integer}},
      {"numel", {{Arg::term}, 1, Val::integer}},
      {"len", {{Arg::varargs}, 1, Val::integer}},
      {"value", {{Arg::term}, 1, Val::number}},
      {"attr", {{Arg::node, Arg::key}, 2, Val::attr}},
  };
  return fns;
}

const char* val_name(Val v) {
  switch (v) {
    case Val::boolean: return "a truth value";
    case Val::shape: return "a shape";
    case Val::dtype: return "a dtype";
    case Val::integer: return "an integer";
    case Val::number: return "a number";
    case Val::attr: return "an attribute value";
  }
  return "?";
}

const std::set<std::string> kKnownProperties = {"pointwise", "reduction", "view", "commutative", "associative",
                                                 "idempotent"};
const std::set<std::string> kAttrKinds = {"int", "ints", "float", "bool", "dtype", "str"};

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

template <class Names>
std::string suggestion(const std::string& name, const Names& names) {
  std::string best;
  size_t best_d = std::max<size_t>(2, name.size() / 3) + 1;
  for (auto& n : names) {
    size_t d = edit_distance(name, n);
    if (d < best_d) best_d = d, best = n;
  }
  return best.empty() ? "" : " (did you mean '" + best + "'?)";
}

enum class VarKind : uint8_t { term, varargs, op };
const char* var_kind_name(VarKind k) {
  return k == VarKind::term ? "a term variable" : k == VarKind::varargs ? "a variadic variable" : "an op variable";
}
struct VarInfo {
  VarKind kind;
  SourceSpan span;
};
using VarMap = std::map<std::string, VarInfo>;

class Checker {
 public:
  Checker(RuleSet& rs, Diagnostics& diags) : rs_(rs), diags_(diags) {}

  void error(const SourceSpan& s, const char* code, std::string msg, const SourceSpan* note = nullptr,
             std::string note_msg = {}) {
    Diagnostic d{Severity::error, code, std::move(msg), s, {}};
    if (note && note->file) d.notes.emplace_back(*note, std::move(note_msg));
    diags_.add(std::move(d));
  }
  void warning(const SourceSpan& s, const char* code, std::string msg, const SourceSpan* note = nullptr,
               std::string note_msg = {}) {
    Diagnostic d{Severity::warning, code, std::move(msg), s, {}};
    if (note && note->file) d.notes.emplace_back(*note, std::move(note_msg));
    diags_.add(std::move(d));
  }

  // -------------------------------------------------------------- names
  void index_names() {
    for (auto& t : rs_.templates) {
      auto [it, fresh] = templates_.emplace(t.kind.name, &t);
      if (!fresh)
        error(t.span, "E-duplicate", "template kind '" + t.kind.name + "' is declared twice", &it->second->span,
              "first declared here");
    }
    for (auto& op : rs_.ops) {
      if (auto t = templates_.find(op.name); t != templates_.end()) {
        error(op.span, "E-duplicate", "op '" + op.name + "' has the name of a template kind", &t->second->span,
              "the template kind is declared here");
        continue;
      }
      auto [it, fresh] = ops_.emplace(op.name, &op);
      if (!fresh)
        error(op.span, "E-duplicate", "op '" + op.name + "' is declared twice", &it->second->span,
              "first declared here");
    }
    for (auto& r : rs_.rules) {
      auto [it, fresh] = rules_.emplace(r.name, &r);
      if (!fresh)
        error(r.span, "E-duplicate", "rule '" + r.name + "' is declared twice", &it->second->span,
              "first declared here");
    }
    std::map<std::string, const Schedule*> seen;
    for (auto& s : rs_.schedules) {
      auto [it, fresh] = seen.emplace(s.name, &s);
      if (!fresh)
        error(s.span, "E-duplicate", "schedule '" + s.name + "' is declared twice", &it->second->span,
              "first declared here");
    }
  }

  std::string unknown_op_hint(const std::string& name) const {
    std::vector<std::string> names;
    for (auto& [n, o] : ops_) names.push_back(n);
    for (auto& [n, t] : templates_) names.push_back(n);
    std::sort(names.begin(), names.end());
    return suggestion(name, names);
  }

  // True when an op prints as an s-expression: symbolic or untyped ops.
  static bool sexpr_style(const OpDecl& op) {
    if (is_symbolic_name(op.name)) return true;
    if (!op.result_type.empty()) return false;
    for (auto& p : op.params)
      if (!p.type.empty()) return false;
    return true;
  }

  // -------------------------------------------------------------- patterns
  // Resolves ops in `p`, checks arity and attributes, records variables.
  void pattern(Pattern& p, VarMap& vars, bool top, bool in_args) {
    switch (p.kind) {
      case Pattern::Kind::var:
        bind(p.name, VarKind::term, p.span, vars);
        return;
      case Pattern::Kind::varargs:
        if (!in_args) error(p.span, "E-varargs", "?" + p.name + "... may only appear among the arguments of an op");
        bind(p.name, VarKind::varargs, p.span, vars);
        return;
      case Pattern::Kind::number:
        return;
      case Pattern::Kind::symbol: {
        if (auto it = ops_.find(p.name); it != ops_.end()) {
          const OpDecl& op = *it->second;
          if (!op.params.empty() && !(op.variadic && op.params.size() == 1))
            error(p.span, "E-arity", "op '" + p.name + "' takes " + std::to_string(op.params.size()) +
                                         " argument(s); write " + p.name + "(...)", &op.span, "declared here");
        } else if (auto t = templates_.find(p.name); t != templates_.end()) {
          error(p.span, "E-arity", "template kind '" + p.name + "' needs its inputs: " + p.name + "(...)",
                &t->second->span, "declared here");
        }
        return;
      }
      case Pattern::Kind::apply:
        break;
    }
    (void)top;
    if (p.op_is_var) {
      bind(p.name, VarKind::op, p.span, vars);
    } else {
      size_t fixed = 0;
      bool variadic = false;
      const SourceSpan* decl_span = nullptr;
      std::string what;
      const std::vector<OpParam>* attr_decls = nullptr;
      if (auto it = ops_.find(p.name); it != ops_.end()) {
        const OpDecl& op = *it->second;
        fixed = op.params.size() - (op.variadic ? 1 : 0);
        variadic = op.variadic;
        decl_span = &op.span;
        what = "op";
        attr_decls = &op.attrs;
        p.sexpr = sexpr_style(op);
      } else if (auto t = templates_.find(p.name); t != templates_.end()) {
        fixed = t->second->kind.inputs.size();
        decl_span = &t->second->span;
        what = "template kind";
        p.sexpr = false;
      } else if (guard_functions().count(p.name)) {
        error(p.span, "E-unknown-op",
              "'" + p.name + "' is a guard function, not an op: it can only be used in an 'if' guard");
        return;
      } else {
        error(p.span, "E-unknown-op", "unknown op '" + p.name + "'" + unknown_op_hint(p.name) +
                                          "; every op must be declared with 'op' or 'template'");
        for (auto& a : p.args) pattern(a, vars, false, true);
        return;
      }
      size_t given = 0;
      bool open = false;
      for (auto& a : p.args) {
        if (a.kind == Pattern::Kind::varargs) open = true;
        else ++given;
      }
      bool ok = variadic ? (open || given >= fixed) : (open ? given <= fixed : given == fixed);
      if (!ok)
        error(p.span, "E-arity",
              what + " '" + p.name + "' takes " + (variadic ? "at least " : "") + std::to_string(fixed) +
                  " argument(s), " + std::to_string(given) + " given",
              decl_span, "declared here");
      for (auto& [k, v] : p.attrs) {
        bool known = false;
        if (attr_decls)
          for (auto& a : *attr_decls) known = known || a.name == k;
        if (!known) {
          std::string list;
          if (attr_decls)
            for (auto& a : *attr_decls) list += (list.empty() ? "" : ", ") + a.name;
          error(p.span, "E-unknown-attr",
                what + " '" + p.name + "' has no attribute '" + k + "'" +
                    (list.empty() ? std::string(" (it declares none)") : " (declared: " + list + ")"),
                decl_span, "declared here");
        }
      }
    }
    for (auto& a : p.args) pattern(a, vars, false, true);
  }

  void bind(const std::string& name, VarKind k, const SourceSpan& s, VarMap& vars) {
    auto [it, fresh] = vars.emplace(name, VarInfo{k, s});
    if (!fresh && it->second.kind != k)
      error(s, "E-var-kind", "?" + name + " is used as " + var_kind_name(k) + " here but as " +
                                 var_kind_name(it->second.kind) + " before",
            &it->second.span, "first used here");
  }

  // Every variable of `used` must be in `bound` with the same kind.
  void require_bound(const VarMap& used, const VarMap& bound, const SourceSpan& side, const std::string& side_name,
                     const char* code = "E-unbound-var") {
    for (auto& [n, info] : used) {
      auto it = bound.find(n);
      if (it == bound.end())
        error(info.span, code, "?" + n + " is not bound by the " + side_name, &side, "the " + side_name + " is here");
      else if (it->second.kind != info.kind)
        error(info.span, "E-var-kind",
              "?" + n + " is " + var_kind_name(info.kind) + " here but " + var_kind_name(it->second.kind) + " on the " +
                  side_name,
              &it->second.span, "bound here");
    }
  }

  // -------------------------------------------------------------- guards
  // Checks a guard expression; returns the value kind it produces.
  Val guard(Guard& g, const VarMap& vars, bool operand) {
    switch (g.kind) {
      case Guard::Kind::and_:
      case Guard::Kind::or_:
      case Guard::Kind::not_:
        for (auto& k : g.kids) need_bool(k, vars);
        return Val::boolean;
      case Guard::Kind::compare: {
        Val a = guard(g.kids.at(0), vars, true), b = guard(g.kids.at(1), vars, true);
        // A literal takes the kind of the other side.
        Guard& la = g.kids[0];
        Guard& lb = g.kids[1];
        bool lit_a = la.is_literal && la.name.empty(), lit_b = lb.is_literal && lb.name.empty();
        if (lit_a && lit_b) {
          error(g.span, "E-guard", "comparison of two literals: compare a guard value such as rank(?x)");
          return Val::boolean;
        }
        if (lit_a) check_literal(la, b, lb);
        else if (lit_b) check_literal(lb, a, la);
        else if (a != b && !((a == Val::integer || a == Val::number) && (b == Val::integer || b == Val::number)) &&
                 a != Val::attr && b != Val::attr)
          error(g.span, "E-guard-type", std::string("cannot compare ") + val_name(a) + " with " + val_name(b));
        if (g.name != "==" && g.name != "!=") {
          Val v = lit_a ? b : a;
          if (v != Val::integer && v != Val::number && v != Val::attr)
            error(g.span, "E-guard-type", "'" + g.name + "' needs numbers; " + std::string(val_name(v)) +
                                              " can only be compared with == or !=");
        }
        return Val::boolean;
      }
      case Guard::Kind::call:
        break;
    }
    if (g.name.empty()) {  // a literal operand
      if (!operand) error(g.span, "E-guard", "a literal alone is not a guard: expected a predicate call or a comparison");
      return Val::boolean;
    }
    auto it = guard_functions().find(g.name);
    if (it == guard_functions().end()) {
      std::vector<std::string> names;
      for (auto& [n, f] : guard_functions()) names.push_back(n);
      error(g.span, "E-unknown-guard", "unknown guard function '" + g.name + "'" + suggestion(g.name, names));
      return Val::boolean;
    }
    const GuardFn& fn = it->second;
    size_t nargs = g.args.size() + (g.is_literal ? 1 : 0);
    if (nargs < fn.min_args || nargs > fn.args.size()) {
      std::string want = fn.min_args == fn.args.size() ? std::to_string(fn.min_args)
                                                       : std::to_string(fn.min_args) + " or " + std::to_string(fn.args.size());
      error(g.span, "E-guard-arity", "'" + g.name + "' takes " + want + " argument(s), " + std::to_string(nargs) + " given");
      return fn.result;
    }
    for (size_t i = 0; i < g.args.size(); ++i) guard_arg(g, g.args[i], fn.args[i], vars);
    if (g.is_literal && fn.args[nargs - 1] != Arg::shape)
      error(g.span, "E-guard-arg", "argument " + std::to_string(nargs) + " of '" + g.name + "' cannot be a shape literal");
    if (!operand && fn.result != Val::boolean)
      error(g.span, "E-guard", "'" + g.name + "' gives " + val_name(fn.result) + ", not a truth value; compare it, e.g. " +
                                   g.name + "(...) == ...");
    if (operand && fn.result == Val::boolean)
      error(g.span, "E-guard", "'" + g.name + "' is a predicate; it cannot be compared");
    return fn.result;
  }

  void need_bool(Guard& g, const VarMap& vars) { guard(g, vars, false); }

  void check_literal(const Guard& lit, Val other, const Guard& other_g) {
    const std::string& t = lit.literal;
    bool is_shape = !t.empty() && t[0] == '[';
    bool is_num = !t.empty() && (std::isdigit(static_cast<unsigned char>(t[0])) || t[0] == '-');
    switch (other) {
      case Val::shape:
        if (!is_shape) error(lit.span, "E-guard-type", "expected a shape literal such as [M, N] to compare with " + to_string(other_g));
        return;
      case Val::dtype:
        if (is_shape || is_num || !parse_dtype(t))
          error(lit.span, "E-unknown-dtype", "expected a dtype (f32, f16, bf16, i32, i64, bool), found '" + t + "'");
        return;
      case Val::integer:
        if (!is_num || t.find_first_of(".eE") != std::string::npos)
          error(lit.span, "E-guard-type", "expected an integer to compare with " + to_string(other_g) + ", found '" + t + "'");
        return;
      case Val::number:
        if (!is_num) error(lit.span, "E-guard-type", "expected a number to compare with " + to_string(other_g) + ", found '" + t + "'");
        return;
      default:
        return;
    }
  }

  void guard_arg(const Guard& g, Pattern& a, Arg kind, const VarMap& vars) {
    // Variables in guards must be bound by the left side, with their kind.
    std::function<void(const Pattern&)> check_vars = [&](const Pattern& p) {
      if (p.kind == Pattern::Kind::var || p.kind == Pattern::Kind::varargs ||
          (p.kind == Pattern::Kind::apply && p.op_is_var)) {
        VarKind k = p.kind == Pattern::Kind::var ? VarKind::term
                    : p.kind == Pattern::Kind::varargs ? VarKind::varargs
                                                       : VarKind::op;
        auto it = vars.find(p.name);
        if (it == vars.end())
          error(p.span, "E-unbound-var", "?" + p.name + " in the guard is not bound by the left side");
        else if (it->second.kind != k && !(k == VarKind::term && it->second.kind == VarKind::op && kind == Arg::node))
          error(p.span, "E-var-kind",
                "?" + p.name + " is " + var_kind_name(it->second.kind) + ", used here as " + var_kind_name(k) +
                    (it->second.kind == VarKind::varargs ? " (write ?" + p.name + "...)" : std::string()),
                &it->second.span, "bound here");
      }
      for (auto& c : p.args) check_vars(c);
    };
    auto bad = [&](const char* want) {
      error(a.span, "E-guard-arg", "'" + g.name + "' expects " + want + " here, found " + to_string(a));
    };
    switch (kind) {
      case Arg::varargs:
        if (a.kind != Pattern::Kind::varargs) return bad("a variadic variable ?xs...");
        break;
      case Arg::pos:
        if (a.kind == Pattern::Kind::number && a.number != double(int64_t(a.number))) return bad("an input position");
        if (a.kind == Pattern::Kind::apply) return bad("an input position (?xs..., an integer or an input name)");
        break;
      case Arg::kind:
        if (a.kind != Pattern::Kind::symbol) return bad("a template kind name");
        if (!templates_.count(a.name)) {
          std::vector<std::string> names;
          for (auto& [n, t] : templates_) names.push_back(n);
          error(a.span, "E-unknown-template", "unknown template kind '" + a.name + "'" + suggestion(a.name, names));
        }
        return;
      case Arg::key:
        if (a.kind != Pattern::Kind::symbol) return bad("an attribute name");
        return;
      case Arg::terms:
      case Arg::term:
      case Arg::node:
      case Arg::shape:
        if (a.kind == Pattern::Kind::varargs && kind != Arg::terms) return bad("a term (not a variadic variable)");
        if (a.kind == Pattern::Kind::apply && !a.op_is_var) {
          VarMap scratch;
          pattern(a, scratch, false, false);
        }
        break;
    }
    check_vars(a);
  }

  // -------------------------------------------------------------- rules
  void rule(Rule& r) {
    VarMap lv, rv;
    pattern(r.lhs, lv, true, false);
    pattern(r.rhs, rv, true, false);
    if (r.lhs.kind == Pattern::Kind::var)
      warning(r.lhs.span, "W-lhs-var", "the left side is a bare variable: the rule applies to every e-class");
    if (r.lhs.kind == Pattern::Kind::varargs || r.rhs.kind == Pattern::Kind::varargs) return;
    require_bound(rv, lv, r.lhs.span, "left side");
    if (r.bidirectional) {
      std::string missing;
      for (auto& [n, info] : lv)
        if (!rv.count(n)) missing += (missing.empty() ? "?" : ", ?") + n;
      if (r.lhs.kind == Pattern::Kind::var) missing = missing.empty() ? "(left side is a variable)" : missing;
      if (!missing.empty()) {
        r.reverse_unbound = true;
        warning(r.span, "W-reverse-unbound",
                "the reverse direction of '" + r.name + "' is unbound: the right side does not bind " + missing +
                    "; only '=>' applies",
                &r.rhs.span, "right side");
      }
    }
    if (r.guard) {
      guard(*r.guard, lv, false);
      never_fires(r);
    }
  }

  // A conjunction that contains P and not P, contradictory equalities, or
  // not_equal(?a, ?a) can never hold.
  void never_fires(const Rule& r) {
    std::vector<const Guard*> conj;
    std::function<void(const Guard&)> flatten = [&](const Guard& g) {
      if (g.kind == Guard::Kind::and_)
        for (auto& k : g.kids) flatten(k);
      else
        conj.push_back(&g);
    };
    flatten(*r.guard);
    std::map<std::string, const Guard*> pos, neg;
    std::map<std::string, std::pair<std::string, const Guard*>> equal;
    for (const Guard* g : conj) {
      if (g->kind == Guard::Kind::not_) {
        neg.emplace(to_string(g->kids[0]), g);
      } else {
        pos.emplace(to_string(*g), g);
      }
      if (g->kind == Guard::Kind::call && g->name == "not_equal" && g->args.size() == 2 &&
          to_string(g->args[0]) == to_string(g->args[1]))
        warning(g->span, "W-never-fires", "rule '" + r.name + "' can never fire: " + to_string(*g) + " is always false");
      if (g->kind == Guard::Kind::compare && g->name == "==") {
        const Guard& a = g->kids[0];
        const Guard& b = g->kids[1];
        const Guard* lit = b.is_literal && b.name.empty() ? &b : a.is_literal && a.name.empty() ? &a : nullptr;
        if (lit) {
          std::string key = to_string(lit == &b ? a : b);
          auto [it, fresh] = equal.emplace(key, std::make_pair(lit->literal, g));
          if (!fresh && it->second.first != lit->literal)
            warning(g->span, "W-never-fires",
                    "rule '" + r.name + "' can never fire: " + key + " cannot equal both " + it->second.first + " and " +
                        lit->literal,
                    &it->second.second->span, "the other equality");
        }
      }
    }
    for (auto& [text, g] : neg)
      if (auto it = pos.find(text); it != pos.end())
        warning(g->span, "W-never-fires", "rule '" + r.name + "' can never fire: its guard requires both " + text +
                                              " and not " + text,
                &it->second->span, "the positive condition");
  }

  // Canonical text of a rule with variables renamed in order of appearance.
  static std::string canonical(const Pattern& p, std::map<std::string, std::string>& names) {
    auto rename = [&](const std::string& n) {
      auto [it, fresh] = names.emplace(n, "");
      if (fresh) it->second = "v" + std::to_string(names.size() - 1);
      return it->second;
    };
    Pattern q = p;
    std::function<void(Pattern&)> walk = [&](Pattern& x) {
      if (x.kind == Pattern::Kind::var || x.kind == Pattern::Kind::varargs || (x.kind == Pattern::Kind::apply && x.op_is_var))
        x.name = rename(x.name);
      for (auto& c : x.args) walk(c);
    };
    walk(q);
    return to_string(q);
  }
  static std::string canonical(const Guard& g, std::map<std::string, std::string>& names) {
    Guard h = g;
    // Guards are compared by text after renaming the pattern variables they mention.
    std::function<void(Guard&)> rename = [&](Guard& x) {
      for (auto& a : x.args) {
        std::map<std::string, std::string>& m = names;
        std::function<void(Pattern&)> w = [&](Pattern& p) {
          if (p.kind == Pattern::Kind::var || p.kind == Pattern::Kind::varargs || (p.kind == Pattern::Kind::apply && p.op_is_var)) {
            auto it = m.find(p.name);
            if (it != m.end()) p.name = it->second;
          }
          for (auto& c : p.args) w(c);
        };
        w(a);
      }
      for (auto& k : x.kids) rename(k);
    };
    rename(h);
    return to_string(h);
  }

  void duplicates() {
    struct Seen {
      const Rule* rule;
      std::string guard;
    };
    std::unordered_map<std::string, std::vector<Seen>> by_rewrite;
    for (auto& r : rs_.rules) {
      std::map<std::string, std::string> names;
      std::string l = canonical(r.lhs, names);
      std::string rr = canonical(r.rhs, names);
      std::string gtext = r.guard ? canonical(*r.guard, names) : "";
      std::string key = l + (r.bidirectional ? " <=> " : " => ") + rr;
      auto& list = by_rewrite[key];
      for (auto& s : list) {
        if (s.guard == gtext) {
          warning(r.span, "W-duplicate", "rule '" + r.name + "' duplicates rule '" + s.rule->name + "'", &s.rule->span,
                  "'" + s.rule->name + "' is declared here");
          break;
        }
        if (s.guard.empty() || gtext.empty()) {
          const Rule* shadowed = s.guard.empty() ? &r : s.rule;
          const Rule* by = s.guard.empty() ? s.rule : &r;
          warning(shadowed->span, "W-shadowed",
                  "rule '" + shadowed->name + "' is shadowed by rule '" + by->name +
                      "', which makes the same rewrite without a guard",
                  &by->span, "'" + by->name + "' is declared here");
          break;
        }
      }
      list.push_back({&r, gtext});
    }
  }

  // -------------------------------------------------------------- ops and templates
  void op(OpDecl& op) {
    for (auto& p : op.properties)
      if (!kKnownProperties.count(p))
        error(op.span, "E-unknown-property", "unknown property '" + p + "' of op '" + op.name + "'" +
                                                 suggestion(p, kKnownProperties) +
                                                 " (known: associative, commutative, idempotent, pointwise, reduction, view)");
    bool comm = std::count(op.properties.begin(), op.properties.end(), "commutative") ||
                std::count(op.properties.begin(), op.properties.end(), "associative");
    if (comm && (op.params.size() != 2 || op.variadic))
      error(op.span, "E-property", "'" + op.name + "' is commutative/associative but does not take exactly two arguments");
    for (auto& a : op.attrs)
      if (!kAttrKinds.count(a.type))
        error(op.span, "E-attr-kind", "attribute '" + a.name + "' of op '" + op.name + "' has unknown kind '" + a.type +
                                          "' (known: bool, dtype, float, int, ints, str)");
    std::set<std::string> params;
    for (auto& p : op.params)
      if (!params.insert(p.name).second) error(op.span, "E-duplicate", "op '" + op.name + "' has two parameters named '" + p.name + "'");
    if (op.definition) {
      VarMap vars;
      pattern(*op.definition, vars, true, false);
      for (auto& [n, info] : vars)
        if (!params.count(n) || info.kind == VarKind::op)
          error(info.span, "E-unbound-var", "?" + n + " in the definition of '" + op.name + "' is not a parameter",
                &op.span, "declared here");
    }
  }

  void definition_cycles() {
    std::map<std::string, int> state;  // 1 visiting, 2 done
    std::function<void(const OpDecl&)> visit = [&](const OpDecl& op) {
      state[op.name] = 1;
      std::function<void(const Pattern&)> walk = [&](const Pattern& p) {
        if (p.kind == Pattern::Kind::apply && !p.op_is_var) {
          auto it = ops_.find(p.name);
          if (it != ops_.end() && it->second->definition) {
            int s = state[p.name];
            if (s == 1)
              error(p.span, "E-recursive-op", "the definition of '" + op.name + "' uses '" + p.name +
                                                  "', which is defined in terms of '" + op.name + "' (a cycle)");
            else if (s == 0)
              visit(*it->second);
          }
        }
        for (auto& c : p.args) walk(c);
      };
      walk(*op.definition);
      state[op.name] = 2;
    };
    for (auto& op : rs_.ops)
      if (op.definition && state[op.name] == 0) visit(op);
  }

  void templ(TemplateDecl& t) {
    const TemplateKind& k = t.kind;
    std::set<std::string> bound;
    std::function<void(const DimExpr&, bool, const char*)> dims = [&](const DimExpr& e, bool define, const char* where) {
      if (e.kind == DimExpr::Kind::var) {
        if (define) bound.insert(e.var);
        else if (!bound.count(e.var))
          error(t.span, "E-unbound-dim", std::string("shape variable '") + e.var + "' in the " + where + " of '" + k.name +
                                             "' does not appear in any input shape");
      }
      for (auto& c : e.kids) dims(c, define, where);
    };
    for (auto& in : k.inputs)
      for (auto& d : in.shape) dims(d, true, "inputs");
    for (auto& d : k.out_shape) dims(d, false, "output shape");
    if (k.flops) dims(*k.flops, false, "flops formula");
    if (k.bytes) dims(*k.bytes, false, "bytes formula");
    auto impls = known_template_impls();
    if (std::find(impls.begin(), impls.end(), k.impl) == impls.end())
      error(t.span, "E-unknown-impl", "template '" + k.name + "' has unknown impl '" + k.impl + "'" + suggestion(k.impl, impls) +
                                          " (known: addmm, gemm, gemm_accumulate, index_copy, index_copy_pair)");
    for (auto& in : k.inputs)
      if (in.prologue && in.mutated)
        error(t.span, "E-prologue-mutated", "input '" + in.name + "' of '" + k.name +
                                                "' is mutated in place, so it cannot allow a prologue");
    if (k.is_extern && (k.epilogue || !k.prologue_inputs().empty()))
      error(t.span, "E-extern-fusion", "extern template '" + k.name + "' is never fused into: drop its prologue/epilogue");
  }

  // -------------------------------------------------------------- rulesets, schedules
  void rulesets(const std::vector<std::pair<std::string, SourceSpan>>& use_refs) {
    // Merge reopened rulesets by name (their rules accumulate).
    std::vector<Ruleset> merged;
    std::map<std::string, size_t> index;
    for (auto& r : rs_.rulesets) {
      auto [it, fresh] = index.emplace(r.name, merged.size());
      if (fresh) {
        merged.push_back(r);
      } else {
        auto& m = merged[it->second];
        m.rules.insert(m.rules.end(), r.rules.begin(), r.rules.end());
        if (m.doc.empty()) m.doc = r.doc;
      }
    }
    std::map<std::string, SourceSpan> use_span;
    for (auto& [n, s] : use_refs) use_span.emplace(n, s);
    std::map<std::string, int> state;
    std::function<std::vector<std::string>(const std::string&)> expand = [&](const std::string& name) {
      std::vector<std::string> out;
      Ruleset& rs = merged[index.at(name)];
      state[name] = 1;
      for (auto& n : rs.rules) {
        if (rules_.count(n)) {
          out.push_back(n);
        } else if (index.count(n)) {
          if (state[n] == 1) {
            error(use_span.count(n) ? use_span[n] : rs.span, "E-ruleset-cycle",
                  "ruleset '" + name + "' uses '" + n + "', which uses '" + name + "' (a cycle)");
            continue;
          }
          auto sub = expand(n);
          out.insert(out.end(), sub.begin(), sub.end());
        } else {
          std::vector<std::string> names;
          for (auto& [rn, r] : rules_) names.push_back(rn);
          for (auto& [sn, i] : index) names.push_back(sn);
          error(use_span.count(n) ? use_span[n] : rs.span, "E-unknown-rule",
                "'" + n + "' is neither a rule nor a ruleset" + suggestion(n, names));
        }
      }
      state[name] = 2;
      std::vector<std::string> dedup;
      std::set<std::string> seen;
      for (auto& n : out)
        if (seen.insert(n).second) dedup.push_back(n);
      return dedup;
    };
    for (auto& r : merged) r.rules = expand(r.name);
    rs_.rulesets = std::move(merged);
    for (auto& s : rs_.schedules)
      for (auto& ph : s.phases)
        if (!ph.ruleset.empty() && !index.count(ph.ruleset) && ph.ruleset != "all") {
          std::vector<std::string> names;
          for (auto& [n, i] : index) names.push_back(n);
          error(ph.span, "E-unknown-ruleset",
                "phase '" + ph.name + "' runs unknown ruleset '" + ph.ruleset + "'" + suggestion(ph.ruleset, names));
        }
  }

  RuleSet& rs_;
  Diagnostics& diags_;
  std::unordered_map<std::string, const OpDecl*> ops_;
  std::unordered_map<std::string, const TemplateDecl*> templates_;
  std::unordered_map<std::string, const Rule*> rules_;
};

}  // namespace

RuleSet check_files(std::vector<ParsedFile> files, Diagnostics& diags) {
  RuleSet rs;
  std::vector<std::pair<std::string, SourceSpan>> use_refs;
  size_t nops = 0, ntemplates = 0, nrules = 0;
  for (auto& f : files) nops += f.ops.size(), ntemplates += f.templates.size(), nrules += f.rules.size();
  rs.ops.reserve(nops);
  rs.templates.reserve(ntemplates);
  rs.rules.reserve(nrules);
  for (auto& f : files) {
    rs.files.push_back(f.file);
    for (auto& o : f.ops) rs.ops.push_back(std::move(o));
    for (auto& t : f.templates) rs.templates.push_back(std::move(t));
    for (auto& r : f.rules) rs.rules.push_back(std::move(r));
    for (auto& r : f.rulesets) rs.rulesets.push_back(std::move(r));
    for (auto& s : f.schedules) rs.schedules.push_back(std::move(s));
    for (auto& u : f.uses)
      for (auto& n : u.names) use_refs.push_back(n);
  }
  Checker c(rs, diags);
  c.index_names();
  for (auto& t : rs.templates) c.templ(t);
  for (auto& o : rs.ops) c.op(o);
  c.definition_cycles();
  for (auto& r : rs.rules) c.rule(r);
  c.duplicates();
  c.rulesets(use_refs);
  diags.sort();
  return rs;
}

}  // namespace egfuse::rules
