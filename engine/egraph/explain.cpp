// Proof forest walks (flat explanations) and the proof checker.
#include "egfuse/explain.hpp"

#include <algorithm>
#include <map>

namespace egfuse::eg {

namespace {
struct Walker {
  const EGraph& g;
  size_t max_steps;
  size_t emitted = 0;
  const auto& forest() const { return g.proof_forest(); }

  std::vector<ProofStep> between(Id x, Id y) {
    std::vector<ProofStep> out;
    if (x == y) return out;
    // Path in the proof forest: x up to the common ancestor, then down to y.
    std::vector<Id> up_x{x}, up_y{y};
    for (Id c = x; forest()[c].next != kNoId;) up_x.push_back(c = forest()[c].next);
    for (Id c = y; forest()[c].next != kNoId;) up_y.push_back(c = forest()[c].next);
    if (up_x.back() != up_y.back()) throw Error("explain: the terms are not in one proof tree");
    while (up_x.size() > 1 && up_y.size() > 1 && up_x[up_x.size() - 2] == up_y[up_y.size() - 2]) {
      up_x.pop_back();
      up_y.pop_back();
    }
    struct Hop {
      Id from, to;
      Justification why;
      bool reversed;
    };
    std::vector<Hop> hops;
    for (size_t i = 0; i + 1 < up_x.size(); ++i) hops.push_back({up_x[i], up_x[i + 1], forest()[up_x[i]].why, false});
    for (size_t i = up_y.size() - 1; i-- > 0;) hops.push_back({up_y[i + 1], up_y[i], forest()[up_y[i]].why, true});
    for (const Hop& h : hops) {
      if (h.why.kind == Justification::congruence) {
        Term cur = g.node_term(h.from);
        auto a = g.original_children(h.from), b = g.original_children(h.to);
        for (size_t i = 0; i < a.size(); ++i) {
          for (ProofStep& s : between(a[i], b[i])) {
            cur.args[i] = std::move(s.term);
            s.term = cur;
            s.position.insert(s.position.begin(), i);
            out.push_back(std::move(s));
          }
        }
        continue;
      }
      ProofStep s;
      s.term = g.node_term(h.to);
      if (h.why.kind == Justification::by_rule && h.why.rule < g.rule_names().size()) {
        s.rule = g.rule_names()[h.why.rule].first;
        s.location = g.rule_names()[h.why.rule].second;
        s.backward = h.why.backward != h.reversed;
      } else if (h.why.kind == Justification::constant_fold) {
        s.rule = "constant-fold";
        s.backward = h.why.backward != h.reversed;
      } else {
        s.rule = "union";
        s.backward = h.reversed;
      }
      if (++emitted > max_steps) throw Error("explain: the proof has more than " + std::to_string(max_steps) + " steps");
      out.push_back(std::move(s));
    }
    return out;
  }
};
}  // namespace

std::optional<Proof> explain_ids(const EGraph& g, Id a, Id b, size_t max_steps) {
  if (!g.options().explanations) throw Error("explain: the e-graph was built without explanations");
  if (g.find(a) != g.find(b)) return std::nullopt;
  Walker w{g, max_steps};
  Proof p;
  p.push_back({g.node_term(a), "", "", false, {}});
  for (ProofStep& s : w.between(a, b)) p.push_back(std::move(s));
  return p;
}

std::optional<Proof> explain(EGraph& g, const Term& a, const Term& b, size_t max_steps) {
  if (!g.options().explanations) throw Error("explain: the e-graph was built without explanations");
  Id x = g.add_term(a), y = g.add_term(b);
  g.rebuild();
  return explain_ids(g, x, y, max_steps);
}

std::string to_string(const Proof& p) {
  std::string s;
  for (size_t i = 0; i < p.size(); ++i) {
    s += to_string(p[i].term);
    if (i > 0) {
      s += "    ; " + p[i].rule + (p[i].backward ? " (backward)" : "") + " at [";
      for (size_t k = 0; k < p[i].position.size(); ++k) s += (k ? " " : "") + std::to_string(p[i].position[k]);
      s += "]";
      if (!p[i].location.empty()) s += " (" + p[i].location + ")";
    }
    s += "\n";
  }
  return s;
}

// ---------------------------------------------------------------- checker
namespace {
using P = rules::Pattern;

struct Bindings {
  std::map<std::string, Term> terms;
  std::map<std::string, std::vector<Term>> lists;
  std::map<std::string, std::pair<std::string, std::string>> ops;  // op var -> (op, attrs)
  std::map<std::string, std::string> attrs_of_op;                  // first matched attrs per op name
};

std::string squash(std::string_view s) {
  std::string o;
  for (char c : s)
    if (c != ' ') o += c;
  return o;
}

bool attrs_subset(const std::vector<std::pair<std::string, std::string>>& req, const std::string& have) {
  std::string h = squash(have);
  for (auto& [k, v] : req) {
    std::string kv = k + "=" + squash(v);
    size_t at = h.find(kv);
    if (at == std::string::npos) return false;
    char before = at == 0 ? '{' : h[at - 1];
    char after = at + kv.size() < h.size() ? h[at + kv.size()] : '}';
    if ((before != '{' && before != ',') || (after != '}' && after != ',')) return false;
  }
  return true;
}

bool match(const P& p, const Term& t, Bindings& b) {
  switch (p.kind) {
    case P::Kind::var: {
      auto it = b.terms.find(p.name);
      if (it != b.terms.end()) return it->second == t;
      b.terms.emplace(p.name, t);
      return true;
    }
    case P::Kind::varargs:
      return false;
    case P::Kind::number:
      return t.is_number && t.number == p.number;
    case P::Kind::symbol:
      return !t.is_number && t.args.empty() && t.op == p.name;
    case P::Kind::apply: {
      if (t.is_number) return false;
      size_t fixed = p.args.size();
      bool va = !p.args.empty() && p.args.back().kind == P::Kind::varargs;
      if (va) --fixed;
      if (va ? t.args.size() < fixed : t.args.size() != fixed) return false;
      if (!attrs_subset(p.attrs, t.attrs)) return false;
      if (p.op_is_var) {
        auto it = b.ops.find(p.name);
        if (it != b.ops.end() && it->second != std::make_pair(t.op, t.attrs)) return false;
        b.ops[p.name] = {t.op, t.attrs};
      } else if (t.op != p.name) {
        return false;
      } else {
        b.attrs_of_op.emplace(t.op, t.attrs);
      }
      for (size_t i = 0; i < fixed; ++i)
        if (!match(p.args[i], t.args[i], b)) return false;
      if (va) {
        std::vector<Term> rest(t.args.begin() + long(fixed), t.args.end());
        auto it = b.lists.find(p.args.back().name);
        if (it != b.lists.end()) return it->second == rest;
        b.lists.emplace(p.args.back().name, std::move(rest));
      }
      return true;
    }
  }
  return false;
}

std::optional<Term> instantiate_term(const P& p, const Bindings& b) {
  switch (p.kind) {
    case P::Kind::var: {
      auto it = b.terms.find(p.name);
      if (it == b.terms.end()) return std::nullopt;
      return it->second;
    }
    case P::Kind::varargs:
      return std::nullopt;
    case P::Kind::number: {
      Term t;
      t.is_number = true;
      t.number = p.number == 0 ? 0.0 : p.number;
      t.op = number_text(t.number);
      return t;
    }
    case P::Kind::symbol: {
      Term t;
      t.op = p.name;
      return t;
    }
    case P::Kind::apply: {
      Term t;
      if (p.op_is_var) {
        auto it = b.ops.find(p.name);
        if (it == b.ops.end()) return std::nullopt;
        t.op = it->second.first;
        t.attrs = it->second.second;
      } else {
        t.op = p.name;
        if (!p.attrs.empty()) {
          t.attrs = "{";
          for (size_t i = 0; i < p.attrs.size(); ++i)
            t.attrs += (i ? ", " : "") + p.attrs[i].first + "=" + p.attrs[i].second;
          t.attrs += "}";
        } else if (auto it = b.attrs_of_op.find(p.name); it != b.attrs_of_op.end()) {
          t.attrs = it->second;
        }
      }
      for (auto& a : p.args) {
        if (a.kind == P::Kind::varargs) {
          auto it = b.lists.find(a.name);
          if (it == b.lists.end()) return std::nullopt;
          t.args.insert(t.args.end(), it->second.begin(), it->second.end());
          continue;
        }
        auto c = instantiate_term(a, b);
        if (!c) return std::nullopt;
        t.args.push_back(std::move(*c));
      }
      return t;
    }
  }
  return std::nullopt;
}

const Term* at(const Term& t, const std::vector<size_t>& pos) {
  const Term* c = &t;
  for (size_t i : pos) {
    if (i >= c->args.size()) return nullptr;
    c = &c->args[i];
  }
  return c;
}

Term replace(Term t, const std::vector<size_t>& pos, const Term& with, size_t k = 0) {
  if (k == pos.size()) return with;
  t.args[pos[k]] = replace(std::move(t.args[pos[k]]), pos, with, k + 1);
  return t;
}
}  // namespace

ProofCheck check_proof(const Proof& p, const std::vector<rules::Rule>& rules,
                       const std::function<std::function<std::optional<double>(std::span<const double>)>(
                           const std::string&)>& fold) {
  for (size_t i = 1; i < p.size(); ++i) {
    const ProofStep& s = p[i];
    auto fail = [&](const std::string& m) { return ProofCheck{false, i, m}; };
    const Term* before = at(p[i - 1].term, s.position);
    const Term* after = at(s.term, s.position);
    if (!before || !after) return fail("position does not exist in the term");
    if (replace(p[i - 1].term, s.position, *after) != s.term) return fail("the step changes the term outside its position");
    if (s.rule == "constant-fold") {
      // Folding is an equality of an op over literals and a literal: either way round.
      const Term& op_side = before->is_number ? *after : *before;
      const Term& lit = before->is_number ? *before : *after;
      if (!lit.is_number || op_side.is_number) return fail("constant-fold must relate an op over literals and a literal");
      std::vector<double> vals;
      for (auto& a : op_side.args) {
        if (!a.is_number) return fail("constant-fold over a non-literal argument");
        vals.push_back(a.number);
      }
      auto f = fold ? fold(op_side.op) : builtin_fold(op_side.op);
      if (!f) return fail("no folding function for '" + op_side.op + "'");
      auto v = f(vals);
      if (!v || *v != lit.number) return fail("constant-fold: " + to_string(op_side) + " is not " + to_string(lit));
      continue;
    }
    bool any_rule = false, matched = false;
    std::string why;
    for (auto& r : rules) {
      if (r.name != s.rule) continue;
      any_rule = true;
      // A backward step b <- a is the forward application a -> b read in
      // reverse, so it is checked as one (also for rules with no reverse).
      const Term& src = s.backward ? *after : *before;
      const Term& dst = s.backward ? *before : *after;
      Bindings b;
      if (!match(r.lhs, src, b)) {
        why = to_string(src) + " does not match the rule's left side";
        continue;
      }
      auto inst = instantiate_term(r.rhs, b);
      if (!inst) {
        why = "the rule's right side has unbound variables";
        continue;
      }
      if (*inst != dst) {
        why = "the rule gives " + to_string(*inst) + ", the proof says " + to_string(dst);
        continue;
      }
      matched = true;
      break;
    }
    if (!any_rule) return fail("unknown rule '" + s.rule + "'");
    if (!matched) return fail(s.rule + ": " + why);
  }
  return {};
}

}  // namespace egfuse::eg
