// Explanations: proofs as chains of rule applications, replayed by the checker.
#include <catch2/catch.hpp>

#include "egfuse/explain.hpp"
#include "egfuse/rewrite.hpp"
#include "tests/egraph/sexpr_rules.hpp"

using namespace egfuse;
using namespace egfuse::eg;
using egfuse::testing::make_rule;

namespace {
EGraph* explaining() {
  EGraphOptions o;
  o.explanations = true;
  return new EGraph(o);
}
void prove(const std::vector<rules::Rule>& rs, const std::string& a, const std::string& b, int64_t iters) {
  std::unique_ptr<EGraph> g(explaining());
  Id x = g->add_term(parse_term(a)), y = g->add_term(parse_term(b));
  RunnerOptions o;
  o.limits = {iters, 20000, 20};
  o.goal = [&](const EGraph& eg) { return eg.find(x) == eg.find(y); };
  Runner r(*g, compile_rules(rs, *g), o);
  r.run();
  CHECK(g->check_invariants() == "");
  auto p = explain(*g, parse_term(a), parse_term(b));
  INFO(a << " = " << b);
  REQUIRE(p);
  INFO(to_string(*p));
  CHECK(to_string(p->front().term) == to_string(parse_term(a)));
  CHECK(to_string(p->back().term) == to_string(parse_term(b)));
  CHECK(p->size() >= 2);
  auto chk = check_proof(*p, rs);
  INFO("step " << chk.step << ": " << chk.message);
  CHECK(chk.ok);
}
}  // namespace

TEST_CASE("explanations of arithmetic identities replay") {
  auto rs = egfuse::testing::egg_math_rules();
  prove(rs, "(+ a b)", "(+ b a)", 2);
  prove(rs, "(+ a (+ b c))", "(+ c (+ b a))", 6);
  prove(rs, "(* (+ a b) c)", "(+ (* a c) (* b c))", 6);
  prove(rs, "(+ (* x 2) (* x 3))", "(* x 5)", 8);
  prove(rs, "(- (+ 1 2) 3)", "0", 8);
  prove(rs, "(d x (* 2 x))", "2", 10);
  prove(rs, "(* (pow x 2) (pow x 3))", "(pow x 5)", 8);
}

TEST_CASE("explanations of propositional identities replay") {
  auto rs = egfuse::testing::egg_prop_rules();
  prove(rs, "(-> x y)", "(-> (~ y) (~ x))", 6);
  prove(rs, "(| p (~ p))", "true", 4);
  prove(rs, "(~ (~ (& a b)))", "(& b a)", 4);
}

TEST_CASE("explanations through varargs, op variables and attributes replay") {
  std::vector<rules::Rule> rs = {make_rule("rot", "(f ?x ?rest...)", "(g ?rest... ?x)"),
                                 make_rule("inline", "(?p (buf ?q))", "(?p ?q)"),
                                 make_rule("pull", "(sum{axes=[1]} (neg ?x))", "(neg (sum ?x))")};
  prove(rs, "(h (f a b c))", "(h (g b c a))", 2);
  prove(rs, "(relu (buf (exp x)))", "(relu (exp x))", 2);
  prove(rs, "(k (sum{axes=[1], keepdim=false} (neg x)))", "(k (neg (sum{axes=[1], keepdim=false} x)))", 2);
}

TEST_CASE("the checker rejects a wrong proof") {
  auto rs = egfuse::testing::egg_math_rules();
  std::unique_ptr<EGraph> g(explaining());
  Id x = g->add_term(parse_term("(+ a (* b 1))"));
  Runner r(*g, compile_rules(rs, *g), {});
  r.run();
  (void)x;
  auto p = explain(*g, parse_term("(+ a (* b 1))"), parse_term("(+ b a)"));
  REQUIRE(p);
  REQUIRE(check_proof(*p, rs).ok);
  Proof bad = *p;
  bad.back().term = parse_term("(+ b c)");
  auto chk = check_proof(bad, rs);
  CHECK(!chk.ok);
  CHECK(chk.step == bad.size() - 1);
  Proof renamed = *p;
  renamed[1].rule = "no-such-rule";
  CHECK(!check_proof(renamed, rs).ok);
  CHECK(!explain(*g, parse_term("(+ a b)"), parse_term("(* a b)")));
}

TEST_CASE("explanations need the option") {
  EGraph g;
  g.add_term(parse_term("a"));
  CHECK_THROWS_AS(explain(g, parse_term("a"), parse_term("a")), Error);
}
