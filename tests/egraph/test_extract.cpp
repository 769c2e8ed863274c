// Kernel-aware extraction: exact vs greedy, fusion decisions, a corpus.
#include <catch2/catch.hpp>

#include <cstdio>
#include <sstream>

#include "egfuse/trace.hpp"

#include "egfuse/extract.hpp"
#include "egfuse/rewrite.hpp"
#include "tests/egraph/sexpr_rules.hpp"

using namespace egfuse;
using namespace egfuse::eg;
using egfuse::testing::make_rule;

namespace {
Id add(EGraph& g, const std::string& s) { return g.add_term(parse_term(s)); }
void saturate(EGraph& g, const std::vector<rules::Rule>& rs, int64_t iters = 30, int64_t nodes = 10000) {
  RunnerOptions o;
  o.limits = {iters, nodes, 10};
  Runner r(g, compile_rules(rs, g), o);
  r.run();
}
// A small tensor world: inputs, pointwise ops, buf, a reduction and a matmul template.
void declare_tensor_ops(EGraph& g) {
  g.op_info(g.op("input")).storage_leaf = true;
  g.op_info(g.op("buf")).materialize = true;
  for (const char* p : {"exp", "relu", "add", "mul", "neg"}) g.op_info(g.op(p)).pointwise = true;
  g.op_info(g.op("sum")).reduction = true;
  OpInfo& mm = g.op_info(g.op("mm"));
  mm.is_template = true;
  mm.epilogue = true;
  mm.input_names = {"a", "b"};
  mm.prologue_inputs = {0, 1};
}
std::vector<rules::Rule> fusion_rules() {
  using egfuse::testing::g_and;
  using egfuse::testing::g_call;
  auto pw = g_and(g_call("pointwise", {"?p"}), g_call("pointwise", {"?q"}));
  return {make_rule("inline-unary", "(?p (buf ?q))", "(?p ?q)", pw),
          make_rule("inline-left", "(?p (buf ?q) ?r)", "(?p ?q ?r)", pw),
          make_rule("inline-right", "(?p ?l (buf ?q))", "(?p ?l ?q)", pw),
          make_rule("reduce-prologue", "(sum (buf ?q))", "(sum ?q)", g_call("pointwise", {"?q"})),
          make_rule("mm-prologue-a", "(mm (buf ?a) ?b)", "(mm ?a ?b)", g_call("pointwise", {"?a"})),
          make_rule("mm-prologue-b", "(mm ?a (buf ?b))", "(mm ?a ?b)", g_call("pointwise", {"?b"}))};
}
void type_all(EGraph& g, int64_t n) {
  for (Id c : g.classes()) g.set_type(c, TensorType{DType::f32, {n}, {}, 0});
}
}  // namespace

TEST_CASE("unit cost extraction picks the smallest term") {
  EGraph g;
  Id e = add(g, "(* (+ x 0) 1)");
  saturate(g, egfuse::testing::egg_math_rules(), 6);
  CostModel m;
  auto ex = extract(g, e, m);
  CHECK(ex.exact);
  CHECK(to_string(ex.term) == "x");
  CHECK(ex.cost == 0);
  Id f = add(g, "(+ (* a 2) (* a 3))");
  saturate(g, egfuse::testing::egg_math_rules(), 8);
  auto ef = extract(g, f, m);
  CHECK(ef.cost == 1);
  CHECK(to_string(ef.term) == "(* a 5)");
}

TEST_CASE("pointwise chains fuse into one kernel when it pays") {
  EGraph g;
  declare_tensor_ops(g);
  Id root = add(g, "(relu (buf (exp (buf (neg (input x))))))");
  saturate(g, fusion_rules());
  type_all(g, 1 << 20);
  CostModel m(TargetParams::h100());
  auto ex = extract(g, root, m);
  CHECK(ex.exact);
  CHECK(to_string(ex.term) == "(relu (exp (neg (input x))))");
  CHECK(ex.kernels.size() == 1);
  // Without the fusion rules the same program needs three kernels.
  EGraph u;
  declare_tensor_ops(u);
  Id r2 = add(u, "(relu (buf (exp (buf (neg (input x))))))");
  type_all(u, 1 << 20);
  auto eu = extract(u, r2, m);
  CHECK(eu.kernels.size() == 3);
  CHECK(eu.cost > ex.cost);
}

TEST_CASE("a template is never inlined; its buffer is computed once for two readers") {
  EGraph g;
  declare_tensor_ops(g);
  Id root = add(g, "(add (buf (mm (input a) (input b))) (buf (mm (input a) (input b))))");
  saturate(g, fusion_rules());
  type_all(g, 4096);
  CostModel m(TargetParams::h100());
  auto ex = extract(g, root, m);
  CHECK(ex.exact);
  // a template never goes inline: mm stays a kernel, read through buf by add
  CHECK(to_string(ex.term) == "(add (buf (mm (input a) (input b))) (buf (mm (input a) (input b))))");
  CHECK(ex.kernels.size() == 2);
}

TEST_CASE("greedy is never better than exact; distance recorded on a corpus") {
  std::vector<std::string> math = {"(* (+ x 0) 1)", "(+ (* a 2) (* a 3))", "(d x (+ (* x x) (* 3 x)))",
                                   "(* (+ x 3) (+ x 1))", "(+ (* y (+ x y)) (- (+ x 2) (+ x x)))",
                                   "(pow (+ x (+ x x)) (+ x x))"};
  std::vector<std::string> tensor = {"(relu (buf (exp (buf (neg (input x))))))",
                                     "(add (buf (exp (input x))) (buf (sum (buf (exp (input x))))))",
                                     "(mul (buf (mm (buf (relu (input a))) (input b))) (buf (neg (input c))))",
                                     "(add (buf (relu (buf (mm (buf (exp (input a))) (buf (neg (input b))))))) "
                                     "(buf (exp (input a))))"};
  double worst = 1, sum = 0;
  int n = 0;
  auto check = [&](EGraph& g, Id root, const CostModel& m, const std::string& what) {
    auto ex = extract_exact(g, root, m);
    auto gr = extract_greedy(g, root, m);
    INFO(what << ": exact " << ex.cost << " greedy " << gr.cost);
    REQUIRE(ex.exact);
    CHECK(gr.cost >= ex.cost * (1 - 1e-9));
    double ratio = ex.cost > 0 ? gr.cost / ex.cost : 1;
    worst = std::max(worst, ratio);
    sum += ratio;
    ++n;
  };
  for (auto& s : math) {
    EGraph g;
    Id r = add(g, s);
    saturate(g, egfuse::testing::egg_math_rules(), 3, 400);
    check(g, r, CostModel(), s);
  }
  for (auto& s : tensor) {
    for (const TargetParams* p : {TargetParams::by_name("h100"), TargetParams::by_name("lavapipe")}) {
      for (int64_t size : {64, 1 << 22}) {
        EGraph g;
        declare_tensor_ops(g);
        Id r = add(g, s);
        saturate(g, fusion_rules());
        type_all(g, size);
        check(g, r, CostModel(*p), s + " on " + p->name);
      }
    }
  }
  std::printf("extraction corpus: %d cases, greedy/exact cost ratio mean %.4f, worst %.4f\n", n, sum / n, worst);
  CHECK(n == 22);
}

TEST_CASE("extraction decisions are traced") {
  std::ostringstream out;
  {
    Trace tr(out);
    EGraph g;
    g.set_trace(&tr);
    declare_tensor_ops(g);
    Id root = add(g, "(relu (buf (exp (input x))))");
    saturate(g, fusion_rules());
    extract(g, root, CostModel(TargetParams::h100()));
  }
  std::string s = out.str();
  CHECK(s.find("\"ev\":\"extract_begin\"") != std::string::npos);
  CHECK(s.find("\"ev\":\"extract\",") != std::string::npos);
  CHECK(s.find("\"choice\":\"inline\"") != std::string::npos);
}
