// The engine driven by real rule files (tests/rules/fixtures/math.rules and
// prop.rules, parsed and checked by the rule-language front end).
#include <catch2/catch.hpp>

#include <cstdlib>

#include "egfuse/explain.hpp"
#include "egfuse/extract.hpp"
#include "egfuse/rewrite.hpp"
#include "egfuse/rule_ast.hpp"

using namespace egfuse;
using namespace egfuse::eg;

namespace {
std::string fixture(const std::string& name) {
  const char* root = std::getenv("EGFUSE_SOURCE_ROOT");
  return std::string(root ? root : ".") + "/tests/rules/fixtures/" + name;
}
rules::RuleSet load(const std::string& name) {
  Diagnostics d;
  auto rs = rules::load_rules({fixture(name)}, d);
  INFO(d.render());
  REQUIRE(!d.has_errors());
  return rs;
}
struct Outcome {
  bool equal;
  std::optional<Proof> proof;
  RunReport report;
};
Outcome run(const rules::RuleSet& rs, const std::string& a, const std::string& b, bool explanations) {
  EGraphOptions o;
  o.explanations = explanations;
  EGraph g(o);
  declare_ops(rs, g);
  Id x = g.add_term(parse_term(a)), y = g.add_term(parse_term(b));
  auto reports = run_schedule(g, rs, *rs.find_schedule("default"), nullptr, nullptr,
                              [&](const EGraph& eg) { return eg.find(x) == eg.find(y); });
  Outcome out{g.find(x) == g.find(y), std::nullopt, reports.back()};
  if (explanations && out.equal) out.proof = explain_ids(g, x, y);
  return out;
}
}  // namespace

TEST_CASE("math.rules proves identities and replays every proof") {
  auto rs = load("math.rules");
  const char* proven[][2] = {
      {"(+ a (+ b c))", "(+ c (+ b a))"},  {"(* (+ a b) c)", "(+ (* a c) (* b c))"},
      {"(+ (* x 2) (* x 3))", "(* x 5)"},  {"(- (+ 1 2) 3)", "0"},
      {"(d x (+ 1 (* 2 x)))", "2"},        {"(d x (+ 1 (* y x)))", "y"},
      {"(d x (ln x))", "(/ 1 x)"},         {"(i (cos x) x)", "(sin x)"},
      {"(* (pow 2 x) (pow 2 y))", "(pow 2 (+ x y))"},
      {"(+ 1 (- a (* (- 2 1) a)))", "1"},
  };
  for (auto& p : proven) {
    INFO(p[0] << " = " << p[1]);
    auto o = run(rs, p[0], p[1], true);
    INFO(o.report.summary());
    REQUIRE(o.equal);
    CHECK(o.report.stop == StopReason::goal_reached);
    auto chk = check_proof(*o.proof, rs.rules);
    INFO(to_string(*o.proof) << "step " << chk.step << ": " << chk.message);
    CHECK(chk.ok);
  }
  const char* unproven[][2] = {{"(+ x y)", "(/ x y)"}, {"(d x (* x x))", "x"}, {"(+ 1 1)", "3"}};
  for (auto& p : unproven) {
    INFO(p[0] << " != " << p[1]);
    auto o = run(rs, p[0], p[1], false);
    CHECK(!o.equal);
    CHECK(o.report.stop != StopReason::goal_reached);
  }
}

TEST_CASE("prop.rules proves tautologies and replays every proof") {
  auto rs = load("prop.rules");
  const char* proven[][2] = {{"(-> x y)", "(-> (~ y) (~ x))"},
                             {"(| p (~ p))", "true"},
                             {"(& (-> x y) (-> y z))", "(& (-> (~ y) (~ x)) (-> y z))"}};
  for (auto& p : proven) {
    INFO(p[0] << " = " << p[1]);
    auto o = run(rs, p[0], p[1], true);
    REQUIRE(o.equal);
    auto chk = check_proof(*o.proof, rs.rules);
    INFO(to_string(*o.proof) << "step " << chk.step << ": " << chk.message);
    CHECK(chk.ok);
  }
  auto o = run(rs, "(-> x y)", "(-> y x)", false);
  CHECK(!o.equal);
}

TEST_CASE("schedule limits from the rule file are honoured") {
  auto rs = load("math.rules");
  EGraph g;
  declare_ops(rs, g);
  g.add_term(parse_term("(* (+ a (+ b c)) (+ c (+ d (+ e f))))"));
  auto reports = run_schedule(g, rs, *rs.find_schedule("default"));
  REQUIRE(reports.size() == 1);
  const auto& r = reports[0];
  INFO(r.summary());
  CHECK((r.stop == StopReason::node_limit || r.stop == StopReason::iteration_limit || r.stop == StopReason::saturated));
  CHECK(r.iterations.size() <= 30);
  CHECK(g.num_nodes() <= 10000 + 64);
}
