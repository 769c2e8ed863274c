// E-graph core, matching, guards and runner tests.
#include <catch2/catch.hpp>

#include <algorithm>
#include <sstream>

#include "egfuse/egraph.hpp"
#include "egfuse/rewrite.hpp"
#include "egfuse/trace.hpp"
#include "tests/egraph/sexpr_rules.hpp"

using namespace egfuse;
using namespace egfuse::eg;
using egfuse::testing::make_rule;

namespace {
Id add(EGraph& g, const std::string& s) { return g.add_term(parse_term(s)); }
bool equal_terms(EGraph& g, const std::string& a, const std::string& b) {
  auto x = g.lookup_term(parse_term(a)), y = g.lookup_term(parse_term(b));
  return x && y && g.find(*x) == g.find(*y);
}
RunReport saturate(EGraph& g, const std::vector<rules::Rule>& rs, RunnerOptions o = {}) {
  Runner r(g, compile_rules(rs, g), std::move(o));
  return r.run();
}
}  // namespace

TEST_CASE("terms parse and print") {
  Term t = parse_term("(+ 1 (* x -2.5))");
  CHECK(to_string(t) == "(+ 1 (* x -2.5))");
  CHECK(to_string(parse_term("(sum{axes=[1, 2]} x)")) == "(sum{axes=[1, 2]} x)");
  CHECK_THROWS_AS(parse_term("(+ 1"), Error);
  CHECK_THROWS_AS(parse_term("(+ 1))"), Error);
}

TEST_CASE("hash-consing shares equal terms") {
  EGraph g;
  Id a = add(g, "(+ x (* y 2))");
  Id b = add(g, "(+ x (* y 2))");
  CHECK(a == b);
  CHECK(g.num_nodes() == 5);  // x y 2 (* y 2) (+ ...)
  CHECK(g.num_classes() == 5);
}

TEST_CASE("congruence closure after merge and rebuild") {
  EGraph g;
  Id fa = add(g, "(f a)"), fb = add(g, "(f b)");
  Id gfa = add(g, "(g (f a) c)"), gfb = add(g, "(g (f b) c)");
  CHECK(g.find(fa) != g.find(fb));
  g.merge(add(g, "a"), add(g, "b"));
  CHECK(!g.clean());
  size_t congruences = g.rebuild();
  CHECK(congruences == 2);
  CHECK(g.find(fa) == g.find(fb));
  CHECK(g.find(gfa) == g.find(gfb));
  CHECK(g.check_invariants() == "");
  CHECK(g.num_classes() == 4);  // {a,b} {f} {c} {g}
  CHECK(g.num_nodes() == 5);    // a b (f a) c (g (f a) c)
}

TEST_CASE("congruence closure: a chain f^n(a) = a collapses") {
  // f(f(f(a))) = a and f(f(f(f(f(a))))) = a give f(a) = a.
  EGraph g;
  Id a = add(g, "a");
  Id f3 = add(g, "(f (f (f a)))");
  Id f5 = add(g, "(f (f (f (f (f a)))))");
  g.merge(f3, a);
  g.merge(f5, a);
  g.rebuild();
  CHECK(g.find(add(g, "(f a)")) == g.find(a));
  CHECK(g.num_classes() == 1);
  CHECK(g.check_invariants() == "");
}

TEST_CASE("constant folding analysis") {
  EGraph g;
  Id e = add(g, "(+ 1 (* 2 3))");
  g.rebuild();
  CHECK(g.data(e).has_const());
  CHECK(g.data(e).constant == 7);
  CHECK(g.find(e) == g.find(add(g, "7")));
  CHECK(!g.data(add(g, "(+ x 1)")).has_const());
  // a user-declared op with a folding function
  g.op_info(g.op("avg")).fold = [](std::span<const double> v) -> std::optional<double> { return (v[0] + v[1]) / 2; };
  Id avg = add(g, "(avg 4 8)");
  g.rebuild();
  CHECK(g.find(avg) == g.find(add(g, "6")));
  CHECK(g.data(add(g, "x")).is_symbol());
  CHECK(!g.data(add(g, "(f x)")).is_symbol());
}

TEST_CASE("rule application gives exact e-graph sizes") {
  EGraph g;
  add(g, "(+ a b)");
  auto rep = saturate(g, {make_rule("comm", "(+ ?a ?b)", "(+ ?b ?a)")});
  CHECK(rep.stop == StopReason::saturated);
  CHECK(g.num_classes() == 3);
  CHECK(g.num_nodes() == 4);
  CHECK(rep.iterations.size() == 2);  // one that applies, one that finds nothing new

  EGraph h;
  add(h, "(* (+ a b) c)");
  saturate(h, {make_rule("dist", "(* (+ ?a ?b) ?c)", "(+ (* ?a ?c) (* ?b ?c))")});
  // a b c (+ a b) (* a c) (* b c) and one class for the product = the sum
  CHECK(h.num_classes() == 7);
  CHECK(h.num_nodes() == 8);
  CHECK(h.check_invariants() == "");
}

TEST_CASE("comm+assoc of + on seven numbers: 7 iterations give 127 e-classes") {
  EGraphOptions o;
  o.fold_constants = false;
  EGraph g(o);
  add(g, "(+ 1 (+ 2 (+ 3 (+ 4 (+ 5 (+ 6 7))))))");
  RunnerOptions ro;
  ro.limits.iter_limit = 7;
  ro.limits.node_limit = 1000000;
  ro.limits.time_limit_s = 1000;
  auto rep = saturate(g, {make_rule("comm", "(+ ?a ?b)", "(+ ?b ?a)"),
                          make_rule("assoc", "(+ ?a (+ ?b ?c))", "(+ (+ ?a ?b) ?c)")},
                      ro);
  CHECK(rep.iterations.size() == 7);
  CHECK(g.num_classes() == 127);
  CHECK(g.check_invariants() == "");
}

TEST_CASE("the order of rules and of unions does not change the e-graph") {
  // Every rule is searched on the e-graph as of the iteration start and every
  // match applied before one rebuild, and constant classes are pruned after
  // every union: reversing the rules changes node ids, not the e-graph.
  auto fwd = egfuse::testing::egg_math_rules();
  auto rev = fwd;
  std::reverse(rev.begin(), rev.end());
  auto grow = [](const std::vector<rules::Rule>& rs) {
    EGraphOptions eo;
    eo.prune_folded = true;
    EGraph g(eo);
    add(g, "(d x (- (pow x 3) (* 7 (pow x 2))))");
    add(g, "(+ (* y (+ x y)) (- (+ x 2) (+ x x)))");
    RunnerOptions o;
    o.limits = {5, 1000000, 100};
    auto rep = saturate(g, rs, o);
    std::vector<size_t> sizes;
    for (auto& it : rep.iterations) sizes.insert(sizes.end(), {it.nodes, it.classes, it.matches});
    sizes.push_back(g.num_listed_nodes());
    CHECK(g.check_invariants() == "");
    return sizes;
  };
  auto a = grow(fwd), b = grow(rev);
  CHECK(a.size() == 16);
  CHECK(a.back() > 300);
  CHECK(a == b);
}

TEST_CASE("limits are honoured exactly, with the reason reported") {
  auto rules = egfuse::testing::egg_math_rules();
  SECTION("iterations") {
    EGraph g;
    add(g, "(* (+ a b) (+ c d))");
    RunnerOptions o;
    o.limits = {3, 1000000, 1000};
    auto rep = saturate(g, rules, o);
    CHECK(rep.stop == StopReason::iteration_limit);
    CHECK(rep.iterations.size() == 3);
  }
  SECTION("nodes") {
    EGraph g;
    add(g, "(* (+ a (+ b c)) (+ c (+ d e)))");
    RunnerOptions o;
    o.limits = {1000, 500, 1000};
    auto rep = saturate(g, rules, o);
    CHECK(rep.stop == StopReason::node_limit);
    CHECK(g.num_nodes() >= 500);
    CHECK(g.num_nodes() <= 500 + 16);  // at most one right-hand side past the limit
  }
  SECTION("time") {
    EGraph g;
    add(g, "(* (+ a (+ b (+ c (+ d e)))) (+ c d))");
    RunnerOptions o;
    o.limits = {1000000, 1000000000, 0.05};
    auto rep = saturate(g, rules, o);
    CHECK(rep.stop == StopReason::time_limit);
  }
  SECTION("goal") {
    EGraph g;
    Id e = add(g, "(+ (* a 1) 0)");
    Id a = add(g, "a");
    RunnerOptions o;
    o.goal = [&](const EGraph& eg) { return eg.find(e) == eg.find(a); };
    auto rep = saturate(g, rules, o);
    CHECK(rep.stop == StopReason::goal_reached);
    CHECK(g.find(e) == g.find(a));
  }
}

TEST_CASE("arithmetic: identities proven, falsehoods not") {
  auto rules = egfuse::testing::egg_math_rules();
  struct Case {
    const char *a, *b;
  };
  std::vector<Case> proven = {
      {"(+ a (+ b c))", "(+ c (+ b a))"},
      {"(* (+ a b) c)", "(+ (* a c) (* b c))"},        // distributivity
      {"(+ (* x 2) (* x 3))", "(* x 5)"},              // factoring + folding
      {"(- (+ 1 2) 3)", "0"},                          // constant folding through sub-canon
      {"(d x (* 2 x))", "2"},                          // derivative
      {"(d x (+ x (* 3 x)))", "4"},
      {"(* (pow x 2) (pow x 3))", "(pow x 5)"},
  };
  for (auto& c : proven) {
    EGraph g;
    Id a = add(g, c.a), b = add(g, c.b);
    RunnerOptions o;
    o.limits = {12, 30000, 10};
    o.goal = [&](const EGraph& eg) { return eg.find(a) == eg.find(b); };
    auto rep = saturate(g, rules, o);
    INFO(c.a << " = " << c.b << ": " << rep.summary());
    CHECK(g.find(a) == g.find(b));
  }
  std::vector<Case> false_ones = {{"(+ x y)", "(* x y)"}, {"(d x (* x x))", "x"}, {"(+ 1 1)", "3"}};
  for (auto& c : false_ones) {
    EGraph g;
    Id a = add(g, c.a), b = add(g, c.b);
    RunnerOptions o;
    o.limits = {8, 20000, 10};
    saturate(g, rules, o);
    INFO(c.a << " != " << c.b);
    CHECK(g.find(a) != g.find(b));
  }
}

TEST_CASE("propositional logic: contrapositive proven, converse not") {
  auto rules = egfuse::testing::egg_prop_rules();
  EGraph g;
  Id a = add(g, "(-> x y)"), b = add(g, "(-> (~ y) (~ x))"), c = add(g, "(-> y x)");
  RunnerOptions o;
  o.limits = {6, 20000, 10};
  saturate(g, rules, o);
  CHECK(g.find(a) == g.find(b));
  CHECK(g.find(a) != g.find(c));
  CHECK(g.check_invariants() == "");

  EGraph h;
  Id l = add(h, "(| p (~ p))"), t = add(h, "true");
  saturate(h, rules, o);
  CHECK(h.find(l) == h.find(t));
}

TEST_CASE("bare-variable left side, varargs, op variables, attributes") {
  SECTION("?a => (+ ?a 0)") {
    EGraph g;
    Id x = add(g, "x");
    RunnerOptions o;
    o.limits.iter_limit = 1;
    saturate(g, {make_rule("add-zero", "?a", "(+ ?a 0)")}, o);
    CHECK(equal_terms(g, "x", "(+ x 0)"));
    CHECK(g.find(x) == g.find(*g.lookup_term(parse_term("(+ x 0)"))));
  }
  SECTION("varargs") {
    EGraph g;
    add(g, "(f a b c)");
    add(g, "(f a)");
    saturate(g, {make_rule("rot", "(f ?x ?rest...)", "(g ?rest... ?x)")});
    CHECK(equal_terms(g, "(f a b c)", "(g b c a)"));
    CHECK(equal_terms(g, "(f a)", "(g a)"));
  }
  SECTION("repeated variable must bind one class") {
    EGraph g;
    add(g, "(f a a)");
    add(g, "(f a b)");
    saturate(g, {make_rule("same", "(f ?x ?x)", "?x")});
    CHECK(equal_terms(g, "(f a a)", "a"));
    CHECK(!equal_terms(g, "(f a b)", "a"));
  }
  SECTION("op variable guarded by pointwise") {
    EGraph g;
    g.op_info(g.op("relu")).pointwise = true;
    add(g, "(relu (buf (exp x)))");
    add(g, "(sum (buf (exp x)))");
    auto pw = egfuse::testing::g_call("pointwise", {"?p"});
    saturate(g, {make_rule("inline", "(?p (buf ?q))", "(?p ?q)", pw)});
    CHECK(equal_terms(g, "(relu (buf (exp x)))", "(relu (exp x))"));
    CHECK(!g.lookup_term(parse_term("(sum (exp x))")));
  }
  SECTION("attributes must match and are carried to the right side") {
    EGraph g;
    add(g, "(sum{axes=[1], keepdim=false} (neg x))");
    add(g, "(sum{axes=[0], keepdim=false} (neg x))");
    saturate(g, {make_rule("pull", "(sum{axes=[1]} (neg ?x))", "(neg (sum ?x))")});
    CHECK(equal_terms(g, "(sum{axes=[1], keepdim=false} (neg x))", "(neg (sum{axes=[1], keepdim=false} x))"));
    CHECK(!g.lookup_term(parse_term("(neg (sum{axes=[0], keepdim=false} x))")));
  }
}

TEST_CASE("guards see analysis data; failures are traced with values") {
  EGraph g;
  std::ostringstream out;
  Trace tr(out);
  g.set_trace(&tr);
  add(g, "(/ x 0)");
  add(g, "(/ x y)");
  saturate(g, {make_rule("div-canon", "(/ ?a ?b)", "(* ?a (pow ?b -1))", egfuse::testing::not_zero("?b"))});
  CHECK(equal_terms(g, "(/ x y)", "(* x (pow y -1))"));
  CHECK(!g.lookup_term(parse_term("(pow 0 -1)")));
  std::string s = out.str();
  CHECK(s.find("\"ev\":\"guard_fail\"") != std::string::npos);
  CHECK(s.find("value(?b) == 0") != std::string::npos);
}

TEST_CASE("mutation safety: reads analysis blocks a read after an in-place write") {
  // k = (mm_acc c a b) writes c in place; fusing q = (exp c) into k's loads would
  // read c after the write. The guard uses the reads analysis.
  EGraph g;
  Sym input = g.op("input");
  g.op_info(input).storage_leaf = true;
  OpInfo& mm = g.op_info(g.op("mm_acc"));
  mm.is_template = true;
  mm.mutated_inputs = {0};
  mm.prologue_inputs = {1, 2};
  Id k = add(g, "(mm_acc (input c) (buf (exp (input c))) (buf (exp (input b))))");
  g.rebuild();
  using egfuse::testing::g_call;
  using egfuse::testing::g_not;
  saturate(g, {make_rule("prologue-a", "(mm_acc ?c (buf ?q) ?b)", "(mm_acc ?c ?q ?b)",
                         g_not(g_call("reads_mutated_by", {"?q", "(mm_acc ?c (buf ?q) ?b)"}))),
               make_rule("prologue-b", "(mm_acc ?c ?a (buf ?q))", "(mm_acc ?c ?a ?q)",
                         g_not(g_call("reads_mutated_by", {"?q", "(mm_acc ?c ?a (buf ?q))"})))});
  CHECK(equal_terms(g, "(mm_acc (input c) (buf (exp (input c))) (buf (exp (input b))))",
                    "(mm_acc (input c) (buf (exp (input c))) (exp (input b)))"));
  CHECK(!g.lookup_term(parse_term("(mm_acc (input c) (exp (input c)) (buf (exp (input b))))")));
  CHECK(g.read_set(g.data(k).reads).size() == 2);
}

TEST_CASE("backoff scheduler bans prolific rules and still saturates small graphs") {
  EGraph g;
  add(g, "(+ a (+ b (+ c (+ d e))))");
  RunnerOptions o;
  o.scheduler = SchedulerKind::backoff;
  o.match_limit = 8;
  o.ban_length = 2;
  o.limits = {100, 1000000, 100};
  auto rep = saturate(g, {make_rule("comm", "(+ ?a ?b)", "(+ ?b ?a)"),
                          make_rule("assoc", "(+ ?a (+ ?b ?c))", "(+ (+ ?a ?b) ?c)")},
                      o);
  bool banned = false;
  for (auto& it : rep.iterations) banned |= !it.banned.empty();
  CHECK(banned);
  CHECK(rep.stop == StopReason::saturated);
}

TEST_CASE("determinism: the same run gives the same trace") {
  auto run = [] {
    std::ostringstream out;
    {
      Trace tr(out);
      EGraph g;
      g.set_trace(&tr);
      add(g, "(d x (+ (* x x) (* 3 x)))");
      RunnerOptions o;
      o.limits = {5, 5000, 100};
      saturate(g, egfuse::testing::egg_math_rules(), o);
    }
    return out.str();
  };
  std::string a = run(), b = run();
  CHECK(a.size() > 1000);
  CHECK(a == b);
}

TEST_CASE("trace output is bounded") {
  std::ostringstream out;
  {
    TraceOptions to;
    to.max_events = 50;
    Trace tr(out, to);
    EGraph g;
    g.set_trace(&tr);
    add(g, "(+ a (+ b (+ c d)))");
    saturate(g, {make_rule("comm", "(+ ?a ?b)", "(+ ?b ?a)"), make_rule("assoc", "(+ ?a (+ ?b ?c))", "(+ (+ ?a ?b) ?c)")});
    CHECK(tr.events_written() == 50);
    CHECK(tr.events_dropped() > 0);
  }
  std::string s = out.str();
  CHECK(std::count(s.begin(), s.end(), '\n') == 52);  // header + 50 + truncated
  CHECK(s.find("\"ev\":\"truncated\"") != std::string::npos);
}
