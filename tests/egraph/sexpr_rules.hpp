// Test-only helpers: build rules::Pattern / Guard / Rule values from
// s-expressions, and the classic egg math and propositional rule sets, so the
// engine can be tested without the rule-language front end.
#pragma once

#include <cctype>
#include <functional>
#include <optional>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "egfuse/rule_ast.hpp"

namespace egfuse::testing {

inline rules::Pattern parse_pattern(std::string_view s) {
  size_t i = 0;
  auto ws = [&] {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  };
  auto atom = [&] {
    size_t b = i;
    while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i])) && s[i] != '(' && s[i] != ')') {
      if (s[i] == '{')
        while (i < s.size() && s[i] != '}') ++i;
      ++i;
    }
    return std::string(s.substr(b, i - b));
  };
  auto leaf = [](std::string a) {
    rules::Pattern p;
    if (a.size() > 4 && a[0] == '?' && a.ends_with("...")) {
      p.kind = rules::Pattern::Kind::varargs;
      p.name = a.substr(1, a.size() - 4);
    } else if (a[0] == '?') {
      p.kind = rules::Pattern::Kind::var;
      p.name = a.substr(1);
    } else if (std::isdigit(static_cast<unsigned char>(a[0])) || (a[0] == '-' && a.size() > 1 && std::isdigit(static_cast<unsigned char>(a[1])))) {
      p.kind = rules::Pattern::Kind::number;
      p.number = std::strtod(a.c_str(), nullptr);
    } else {
      p.kind = rules::Pattern::Kind::symbol;
      p.name = a;
    }
    return p;
  };
  std::function<rules::Pattern()> term = [&]() -> rules::Pattern {
    ws();
    if (s[i] != '(') return leaf(atom());
    ++i;
    ws();
    std::string head = atom();
    rules::Pattern p;
    p.kind = rules::Pattern::Kind::apply;
    size_t brace = head.find('{');
    if (brace != std::string::npos) {
      std::string body = head.substr(brace + 1, head.size() - brace - 2);
      head = head.substr(0, brace);
      size_t eq = body.find('=');
      p.attrs.push_back({body.substr(0, eq), body.substr(eq + 1)});
    }
    if (head[0] == '?') {
      p.op_is_var = true;
      p.name = head.substr(1);
    } else {
      p.name = head;
    }
    for (;;) {
      ws();
      if (s[i] == ')') {
        ++i;
        return p;
      }
      p.args.push_back(term());
    }
  };
  return term();
}

inline rules::Guard g_call(std::string name, std::vector<std::string> args) {
  rules::Guard g;
  g.kind = rules::Guard::Kind::call;
  g.name = std::move(name);
  for (auto& a : args) g.args.push_back(parse_pattern(a));
  return g;
}
inline rules::Guard g_lit(std::string text) {
  rules::Guard g;
  g.kind = rules::Guard::Kind::call;
  g.is_literal = true;
  g.literal = std::move(text);
  return g;
}
inline rules::Guard g_op(rules::Guard::Kind k, std::vector<rules::Guard> kids, std::string name = "") {
  rules::Guard g;
  g.kind = k;
  g.name = std::move(name);
  g.kids = std::move(kids);
  return g;
}
inline rules::Guard g_not(rules::Guard a) { return g_op(rules::Guard::Kind::not_, {std::move(a)}); }
inline rules::Guard g_and(rules::Guard a, rules::Guard b) { return g_op(rules::Guard::Kind::and_, {std::move(a), std::move(b)}); }
inline rules::Guard g_or(rules::Guard a, rules::Guard b) { return g_op(rules::Guard::Kind::or_, {std::move(a), std::move(b)}); }
inline rules::Guard g_cmp(std::string op, rules::Guard a, rules::Guard b) {
  return g_op(rules::Guard::Kind::compare, {std::move(a), std::move(b)}, std::move(op));
}

inline rules::Rule make_rule(std::string name, std::string_view lhs, std::string_view rhs,
                             std::optional<rules::Guard> guard = std::nullopt, bool bidirectional = false) {
  rules::Rule r;
  r.name = std::move(name);
  r.lhs = parse_pattern(lhs);
  r.rhs = parse_pattern(rhs);
  r.guard = std::move(guard);
  r.bidirectional = bidirectional;
  return r;
}

// egg's is_not_zero: true unless the class is the constant 0.
inline rules::Guard not_zero(const std::string& v) {
  return g_not(g_cmp("==", g_call("value", {v}), g_lit("0")));
}

// The rules of egg's tests/math.rs (add-zero and mul-one are commented out there too).
inline std::vector<rules::Rule> egg_math_rules() {
  auto const_or_distinct = [](std::string c, std::string x) {
    return g_and(g_call("not_equal", {c, x}), g_or(g_call("is_const", {c}), g_call("is_symbol", {c})));
  };
  return {
      make_rule("comm-add", "(+ ?a ?b)", "(+ ?b ?a)"),
      make_rule("comm-mul", "(* ?a ?b)", "(* ?b ?a)"),
      make_rule("assoc-add", "(+ ?a (+ ?b ?c))", "(+ (+ ?a ?b) ?c)"),
      make_rule("assoc-mul", "(* ?a (* ?b ?c))", "(* (* ?a ?b) ?c)"),
      make_rule("sub-canon", "(- ?a ?b)", "(+ ?a (* -1 ?b))"),
      make_rule("div-canon", "(/ ?a ?b)", "(* ?a (pow ?b -1))", not_zero("?b")),
      make_rule("zero-add", "(+ ?a 0)", "?a"),
      make_rule("zero-mul", "(* ?a 0)", "0"),
      make_rule("one-mul", "(* ?a 1)", "?a"),
      make_rule("cancel-sub", "(- ?a ?a)", "0"),
      make_rule("cancel-div", "(/ ?a ?a)", "1", not_zero("?a")),
      make_rule("distribute", "(* ?a (+ ?b ?c))", "(+ (* ?a ?b) (* ?a ?c))"),
      make_rule("factor", "(+ (* ?a ?b) (* ?a ?c))", "(* ?a (+ ?b ?c))"),
      make_rule("pow-mul", "(* (pow ?a ?b) (pow ?a ?c))", "(pow ?a (+ ?b ?c))"),
      make_rule("pow0", "(pow ?x 0)", "1", not_zero("?x")),
      make_rule("pow1", "(pow ?x 1)", "?x"),
      make_rule("pow2", "(pow ?x 2)", "(* ?x ?x)"),
      make_rule("pow-recip", "(pow ?x -1)", "(/ 1 ?x)", not_zero("?x")),
      make_rule("recip-mul-div", "(* ?x (/ 1 ?x))", "1", not_zero("?x")),
      make_rule("d-variable", "(d ?x ?x)", "1", g_call("is_symbol", {"?x"})),
      make_rule("d-constant", "(d ?x ?c)", "0", g_and(g_call("is_symbol", {"?x"}), const_or_distinct("?c", "?x"))),
      make_rule("d-add", "(d ?x (+ ?a ?b))", "(+ (d ?x ?a) (d ?x ?b))"),
      make_rule("d-mul", "(d ?x (* ?a ?b))", "(+ (* ?a (d ?x ?b)) (* ?b (d ?x ?a)))"),
      make_rule("d-sin", "(d ?x (sin ?x))", "(cos ?x)"),
      make_rule("d-cos", "(d ?x (cos ?x))", "(* -1 (sin ?x))"),
      make_rule("d-ln", "(d ?x (ln ?x))", "(/ 1 ?x)", not_zero("?x")),
      make_rule("d-power", "(d ?x (pow ?f ?g))",
                "(* (pow ?f ?g) (+ (* (d ?x ?f) (/ ?g ?f)) (* (d ?x ?g) (ln ?f))))",
                g_and(not_zero("?f"), not_zero("?g"))),
      make_rule("i-one", "(i 1 ?x)", "?x"),
      make_rule("i-power-const", "(i (pow ?x ?c) ?x)", "(/ (pow ?x (+ ?c 1)) (+ ?c 1))", g_call("is_const", {"?c"})),
      make_rule("i-cos", "(i (cos ?x) ?x)", "(sin ?x)"),
      make_rule("i-sin", "(i (sin ?x) ?x)", "(* -1 (cos ?x))"),
      make_rule("i-sum", "(i (+ ?f ?g) ?x)", "(+ (i ?f ?x) (i ?g ?x))"),
      make_rule("i-dif", "(i (- ?f ?g) ?x)", "(- (i ?f ?x) (i ?g ?x))"),
      make_rule("i-parts", "(i (* ?a ?b) ?x)", "(- (* ?a (i ?b ?x)) (i (* (d ?x ?a) (i ?b ?x)) ?x))"),
  };
}

// egg's tests/prop.rs rules (& | ~ ->), with constant folding left out.
inline std::vector<rules::Rule> egg_prop_rules() {
  return {
      make_rule("def_imply", "(-> ?a ?b)", "(| (~ ?a) ?b)", std::nullopt, true),
      make_rule("double_neg", "(~ (~ ?a))", "?a", std::nullopt, true),
      make_rule("assoc_or", "(| ?a (| ?b ?c))", "(| (| ?a ?b) ?c)", std::nullopt, true),
      make_rule("dist_and_or", "(& ?a (| ?b ?c))", "(| (& ?a ?b) (& ?a ?c))", std::nullopt, true),
      make_rule("dist_or_and", "(| ?a (& ?b ?c))", "(& (| ?a ?b) (| ?a ?c))", std::nullopt, true),
      make_rule("comm_or", "(| ?a ?b)", "(| ?b ?a)"),
      make_rule("comm_and", "(& ?a ?b)", "(& ?b ?a)"),
      make_rule("lem", "(| ?a (~ ?a))", "true"),
      make_rule("or_true", "(| ?a true)", "true"),
      make_rule("and_true", "(& ?a true)", "?a"),
      make_rule("contrapositive", "(-> ?a ?b)", "(-> (~ ?b) (~ ?a))"),
      make_rule("lem_imply", "(& (-> ?a ?b) (-> (~ ?a) ?c))", "(| ?b ?c)"),
  };
}

}  // namespace egfuse::testing
