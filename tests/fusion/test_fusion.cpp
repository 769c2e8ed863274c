// Fusion rule families: graphs where each must fire and graphs where it must
// not (mutated inputs, disallowed prologue inputs, reductions, mismatched
// iteration spaces, extern kernels), and the mutation hazard cases.
#include "tests/fusion/fusion_cases.hpp"

#include <sstream>

#include "egfuse/graph_text.hpp"
#include "egfuse/interp.hpp"
#include "egfuse/trace.hpp"

using namespace egfuse;
using namespace fusion_test;

namespace {
NodeId op(Builder& b, Op o, std::vector<NodeId> in, std::string name, Attrs a = NoAttrs{}) {
  return b.op(o, std::move(in), std::move(a), std::move(name));
}
}  // namespace

TEST_CASE("template epilogue: a pointwise chain with a broadcast bias joins the mm") {
  auto& reg = TemplateRegistry::builtin();
  Graph g;
  Builder b(g, reg);
  auto x = b.input("x", ty({32, 64}));
  auto w = b.input("w", ty({64, 16}));
  auto bias = b.input("bias", ty({16}));
  auto m = b.templ("mm", {x, w}, "m");
  auto a = op(b, Op::add, {m, bias}, "a");
  auto y = op(b, Op::gelu, {a}, "y");
  b.output(y);
  auto r = compile(g, reg);
  CHECK(r.stats.kernels_before == 3);
  CHECK(r.plan.kernels.size() == 1);
  CHECK(r.plan.kernels[0].kind == KernelKind::template_);
  CHECK(kernel_has_rule(r.plan, "y", "template-epilogue"));
  CHECK(r.stats.bytes_after < r.stats.bytes_before);

  SECTION("not when the family's rules are absent") {
    auto off = compile(g, reg, {}, family_rules({"template-epilogue"}));
    CHECK(!same_kernel(off.plan, "m", "a"));
    CHECK(same_kernel(off.plan, "a", "y"));  // pointwise inlining still fires
  }
}

TEST_CASE("multi-output epilogue: raw and fused result both stored, switchable") {
  auto& reg = TemplateRegistry::builtin();
  Graph g;
  Builder b(g, reg);
  auto x = b.input("x", ty({32, 64}));
  auto w = b.input("w", ty({64, 64}));
  auto m = b.templ("mm", {x, w}, "m");
  auto y = op(b, Op::relu, {m}, "y");
  b.output(y);
  b.output(m, "raw");
  auto on = compile(g, reg);
  CHECK(on.plan.kernels.size() == 1);
  CHECK(on.plan.kernels[0].writes.size() == 2);
  CHECK(kernel_has_rule(on.plan, "m", "multi-output-epilogue"));
  CompileOptions o;
  o.multi_output = false;
  auto off = compile(g, reg, o);
  CHECK(off.plan.kernels.size() == 2);
  CHECK(!same_kernel(off.plan, "m", "y"));
}

TEST_CASE("no reduction in a template epilogue, no template or reduction in a prologue") {
  auto& reg = TemplateRegistry::builtin();
  Graph g;
  Builder b(g, reg);
  auto x = b.input("x", ty({32, 64}));
  auto w = b.input("w", ty({64, 64}));
  auto m = b.templ("mm", {x, w}, "m");
  auto s = op(b, Op::sum, {m}, "s", ReduceAttrs{{1}, true});
  auto m2 = b.templ("mm", {m, w}, "m2");
  auto m3 = b.templ("mm", {s, b.input("v", ty({1, 8}))}, "m3");
  b.output(m2);
  b.output(m3);
  auto r = compile(g, reg);
  CHECK(!same_kernel(r.plan, "m", "s"));
  CHECK(!same_kernel(r.plan, "m", "m2"));
  CHECK(!same_kernel(r.plan, "s", "m3"));
  CHECK(r.plan.kernels.size() == 4);
}

TEST_CASE("template prologue: upcasts and views into allowed inputs only") {
  auto& reg = TemplateRegistry::builtin();
  SECTION("an upcast and a transpose fuse into mm's loads") {
    Graph g;
    Builder b(g, reg);
    auto x = b.input("x", ty({32, 64}, DType::bf16));
    auto w = b.input("w", ty({16, 64}));
    auto xc = op(b, Op::cast, {x}, "xc", CastAttrs{DType::f32});
    auto wt = b.permute(w, {1, 0});
    auto wn = op(b, Op::neg, {wt}, "wn");
    auto m = b.templ("mm", {xc, wn}, "m");
    b.output(m);
    auto r = compile(g, reg);
    CHECK(r.plan.kernels.size() == 1);
    CHECK(kernel_has_rule(r.plan, "m", "template-prologue"));
  }
  SECTION("a downcast stays outside (it would read more than it saves)") {
    Graph g;
    Builder b(g, reg);
    auto x = b.input("x", ty({32, 64}));
    auto w = b.input("w", ty({64, 16}, DType::bf16));
    auto xc = op(b, Op::cast, {x}, "xc", CastAttrs{DType::bf16});
    auto m = b.templ("mm", {xc, w}, "m");
    b.output(m);
    auto r = compile(g, reg);
    CHECK(!same_kernel(r.plan, "xc", "m"));
  }
  SECTION("addmm's bias allows no prologue") {
    Graph g;
    Builder b(g, reg);
    auto bias = b.input("bias", ty({16}));
    auto x = b.input("x", ty({32, 64}));
    auto w = b.input("w", ty({64, 16}));
    auto nb = op(b, Op::neg, {bias}, "nb");
    auto m = b.templ("addmm", {nb, x, w}, "m");
    b.output(m);
    auto r = compile(g, reg);
    CHECK(!same_kernel(r.plan, "nb", "m"));
  }
  SECTION("a prologue value used elsewhere is not recomputed in the template") {
    Graph g;
    Builder b(g, reg);
    auto x = b.input("x", ty({32, 64}));
    auto w = b.input("w", ty({64, 16}));
    auto xn = op(b, Op::neg, {x}, "xn");
    auto m = b.templ("mm", {xn, w}, "m");
    auto other = op(b, Op::exp, {xn}, "other");
    b.output(m);
    b.output(other);
    auto r = compile(g, reg);
    CHECK(!same_kernel(r.plan, "xn", "m"));
    CHECK(same_kernel(r.plan, "xn", "other"));
  }
}

TEST_CASE("reductions: prologue, epilogues over the row and per row, mismatched epilogue") {
  auto& reg = TemplateRegistry::builtin();
  Graph g;
  Builder b(g, reg);
  auto x = b.input("x", ty({32, 64}));
  auto e = op(b, Op::exp, {x}, "e");
  auto s = op(b, Op::sum, {e}, "s", ReduceAttrs{{1}, true});
  auto r1 = op(b, Op::rsqrt, {s}, "r1");
  auto y = op(b, Op::mul, {x, r1}, "y");  // [32, 64]: r1 broadcast back over its own row
  b.output(y);
  auto r = compile(g, reg);
  CHECK(same_kernel(r.plan, "e", "s"));
  CHECK(same_kernel(r.plan, "s", "r1"));
  CHECK(same_kernel(r.plan, "s", "y"));
  CHECK(kernel_has_rule(r.plan, "s", "reduction-prologue"));
  CHECK(kernel_has_rule(r.plan, "s", "reduction-epilogue"));
  CHECK(r.plan.kernels.size() == 1);

  SECTION("a result read at another row is a separate kernel") {
    Graph g2;
    Builder b2(g2, reg);
    auto x2 = b2.input("x", ty({32, 32}));
    auto s2 = op(b2, Op::sum, {x2}, "s", ReduceAttrs{{1}, false});  // [32]: broadcast along rows, y[i, j] uses s[j]
    auto y2 = op(b2, Op::sub, {x2, s2}, "y");
    b2.output(y2);
    auto r2 = compile(g2, reg);
    CHECK(!same_kernel(r2.plan, "s", "y"));
    CHECK(r2.plan.kernels.size() == 2);
  }
  SECTION("reductions over different spaces never share a kernel") {
    Graph g2;
    Builder b2(g2, reg);
    auto x2 = b2.input("x", ty({32, 64}));
    auto s1 = op(b2, Op::amax, {x2}, "s1", ReduceAttrs{{1}, false});
    auto s2 = op(b2, Op::sum, {s1}, "s2", ReduceAttrs{{0}, false});
    b2.output(s2);
    auto r2 = compile(g2, reg);
    CHECK(r2.plan.kernels.size() == 2);
  }
}

TEST_CASE("multi-reduction kernels: softmax and layernorm are one kernel each") {
  auto& reg = TemplateRegistry::builtin();
  Graph g;
  Builder b(g, reg);
  auto x = b.input("x", ty({16, 300}));
  auto m = op(b, Op::amax, {x}, "m", ReduceAttrs{{1}, true});
  auto d = op(b, Op::sub, {x, m}, "d");
  auto e = op(b, Op::exp, {d}, "e");
  auto z = op(b, Op::sum, {e}, "z", ReduceAttrs{{1}, true});
  auto p = op(b, Op::div, {e, z}, "p");
  b.output(p);
  auto r = compile(g, reg);
  REQUIRE(r.plan.kernels.size() == 1);
  CHECK(r.plan.kernels[0].kind == KernelKind::reduction);
  CHECK(r.stats.bytes_after == 2 * 16 * 300 * 4);  // x read once, p written once
  // The exact rewrites that formed it: each read by its own rule, nothing else.
  auto& rules = r.plan.kernels[0].rules;
  auto has = [&](const std::string& s) {
    return std::any_of(rules.begin(), rules.end(), [&](auto& x) { return x.rfind(s, 0) == 0; });
  };
  INFO(r.plan.to_text());
  CHECK(has("reduction-epilogue-1 @ "));  // d = sub(x, m), p = div(e, z)
  CHECK(has("pointwise-inline-0 @ "));    // e = exp(d), p = div(e, ...)
  CHECK(has("reduction-prologue @ "));    // z = sum(e)
  CHECK(has("multi-reduction"));
  CHECK(!has("reduction-epilogue-0 @ "));
  CHECK(!has("reduction-epilogue-2 @ "));
  CHECK(!has("pointwise-inline-1 @ "));
  CHECK(!has("template-"));
  auto inputs = random_inputs(g, 3, reg);
  auto plan_inputs = inputs;
  auto want = evaluate(g, inputs, reg);
  auto got = evaluate_plan(r.plan, plan_inputs, reg);
  CHECK(compare(got.at("p"), want.at("p"), tolerance_for(DType::f32)).ok);

  SECTION("switched off: one reduction per kernel") {
    CompileOptions o;
    o.multi_reduction = false;
    auto off = compile(g, reg, o);
    CHECK(off.plan.kernels.size() == 2);
    CHECK(!same_kernel(off.plan, "m", "z"));
  }
  SECTION("layernorm: mean and variance, then the normalized store") {
    Graph g2;
    Builder b2(g2, reg);
    auto x2 = b2.input("x", ty({8, 512}));
    auto gamma = b2.input("gamma", ty({512}));
    auto mu = op(b2, Op::mean, {x2}, "mu", ReduceAttrs{{-1}, true});
    auto xc = op(b2, Op::sub, {x2, mu}, "xc");
    auto sq = op(b2, Op::mul, {xc, xc}, "sq");
    auto var = op(b2, Op::mean, {sq}, "var", ReduceAttrs{{-1}, true});
    auto rs = op(b2, Op::rsqrt, {var}, "rs");
    auto xn = op(b2, Op::mul, {xc, rs}, "xn");
    auto y = op(b2, Op::mul, {xn, gamma}, "y");
    b2.output(y);
    b2.output(rs, "rstd");
    auto r2 = compile(g2, reg);
    REQUIRE(r2.plan.kernels.size() == 1);
    CHECK(r2.plan.kernels[0].writes.size() == 2);
    auto in2 = random_inputs(g2, 5, reg);
    auto pin2 = in2;
    auto want2 = evaluate(g2, in2, reg);
    auto got2 = evaluate_plan(r2.plan, pin2, reg);
    CHECK(compare(got2.at("y"), want2.at("y"), tolerance_for(DType::f32)).ok);
    CHECK(compare(got2.at("rstd"), want2.at("rstd"), tolerance_for(DType::f32)).ok);
  }
}

TEST_CASE("horizontal fusion: independent kernels with the same iteration space") {
  auto& reg = TemplateRegistry::builtin();
  Graph g;
  Builder b(g, reg);
  auto x = b.input("x", ty({32, 64}));
  auto y1 = op(b, Op::exp, {x}, "y1");
  auto y2 = op(b, Op::sin, {x}, "y2");
  auto y3 = op(b, Op::sum, {x}, "y3", ReduceAttrs{{1}, false});
  auto y4 = op(b, Op::cos, {b.slice(x, 0, 0, 16)}, "y4");  // [16, 64]: another iteration space
  for (auto n : {y1, y2, y3, y4}) b.output(n);
  auto r = compile(g, reg);
  CHECK(same_kernel(r.plan, "y1", "y2"));
  CHECK(kernel_has_rule(r.plan, "y1", "horizontal"));
  CHECK(!same_kernel(r.plan, "y1", "y3"));
  CHECK(!same_kernel(r.plan, "y1", "y4"));
  CompileOptions no_horizontal;
  no_horizontal.horizontal = false;
  auto off = compile(g, reg, no_horizontal);
  CHECK(!same_kernel(off.plan, "y1", "y2"));
}

TEST_CASE("extern kernels: never fused into; an epilogue only under Inductor's narrow conditions") {
  auto& reg = TemplateRegistry::builtin();
  auto build = [&](bool extra_user, bool reads_other) {
    Graph g;
    Builder b(g, reg);
    auto buf = b.input("buf", ty({8, 16}), true);
    auto x = b.input("x", ty({8, 16}));
    auto xn = op(b, Op::neg, {x}, "xn");
    auto e = b.extern_kernel("scatter_add", {buf, xn}, ty({8, 16}), {0}, "e");
    auto mo = mutation_outputs(g, e)[0];
    auto y = reads_other ? op(b, Op::add, {mo, x}, "y") : op(b, Op::relu, {mo}, "y");
    b.output(y);
    if (extra_user) b.output(op(b, Op::exp, {mo}, "z"));
    return g;
  };
  {
    Graph g = build(false, false);
    auto r = compile(g, reg);
    CHECK(!same_kernel(r.plan, "xn", "e"));
    CHECK(same_kernel(r.plan, "e", "y"));
    CHECK(kernel_has_rule(r.plan, "y", "extern-epilogue"));
  }
  {
    Graph g = build(true, false);  // the mutation output has another user
    auto r = compile(g, reg);
    CHECK(!same_kernel(r.plan, "e", "y"));
  }
  {
    Graph g = build(false, true);  // the epilogue reads another buffer too
    auto r = compile(g, reg);
    CHECK(!same_kernel(r.plan, "e", "y"));
  }
}

TEST_CASE("mutation hazards from Inductor's history compile to ordered plans") {
  auto reg = mutating_registry();
  SECTION("a prologue reading the buffer the template mutates is not fused") {
    Graph g;
    Builder b(g, reg);
    auto cache = b.input("cache", ty({16, 8}), true);
    auto idx = b.input("idx", ty({4}, DType::i64));
    auto rows = b.slice(cache, 0, 4, 8);
    auto src = op(b, Op::neg, {rows}, "src");  // x.copy_(f(x)): reads what is overwritten
    auto t = b.templ("kv_cache_update", {cache, idx, src}, "t");
    b.output(mutation_outputs(g, t)[0], "cache_out");
    auto r = compile(g, reg);
    CHECK(!same_kernel(r.plan, "src", "t"));
    CHECK(kernel_of(r.plan, "src") < kernel_of(r.plan, "t"));
  }
  SECTION("an allowed prologue that reads other storage is fused") {
    Graph g;
    Builder b(g, reg);
    auto cache = b.input("cache", ty({16, 8}), true);
    auto idx = b.input("idx", ty({4}, DType::i64));
    auto x = b.input("x", ty({4, 8}));
    auto src = op(b, Op::neg, {x}, "src");
    auto t = b.templ("kv_cache_update", {cache, idx, src}, "t");
    b.output(mutation_outputs(g, t)[0], "cache_out");
    auto r = compile(g, reg);
    CHECK(same_kernel(r.plan, "src", "t"));
  }
  SECTION("readers of the old version run first; the new version is not read inside the writer") {
    Graph g;
    Builder b(g, reg);
    auto cache = b.input("cache", ty({16, 8}), true);
    auto idx = b.input("idx", ty({4}, DType::i64));
    auto x = b.input("x", ty({4, 8}));
    auto t = b.templ("kv_cache_update", {cache, idx, x}, "t");
    auto mo = mutation_outputs(g, t)[0];
    auto old_sum = op(b, Op::sum, {cache}, "old_sum", ReduceAttrs{{1}, false});  // after t in the graph
    auto fresh = op(b, Op::exp, {mo}, "fresh");
    auto rows = op(b, Op::relu, {t}, "rows");
    b.output(old_sum);
    b.output(fresh);
    b.output(rows);
    auto r = compile(g, reg);
    CHECK(kernel_of(r.plan, "old_sum") < kernel_of(r.plan, "t"));
    CHECK(!same_kernel(r.plan, "t", "fresh"));
    CHECK(same_kernel(r.plan, "t", "rows"));  // an epilogue on the rows output is fine
  }
  SECTION("an epilogue reading the result at another index is not fused") {
    auto& breg = TemplateRegistry::builtin();
    Graph g;
    Builder b(g, breg);
    auto x = b.input("x", ty({32, 32}));
    auto m = b.templ("mm", {x, x}, "m");
    auto mt = b.permute(m, {1, 0});
    auto y = op(b, Op::add, {m, mt}, "y");  // t + t.T
    b.output(y);
    auto r = compile(g, breg);
    CHECK(!same_kernel(r.plan, "m", "y"));
    // A consistent transposed store is fine: relu(t.T).
    Graph g2;
    Builder b2(g2, breg);
    auto x2 = b2.input("x", ty({32, 32}));
    auto m2 = b2.templ("mm", {x2, x2}, "m");
    auto y2 = op(b2, Op::relu, {b2.permute(m2, {1, 0})}, "y");
    b2.output(y2);
    auto r2 = compile(g2, breg);
    CHECK(same_kernel(r2.plan, "m", "y"));
  }
}

TEST_CASE("the standard rule library drives fusion and is named in the plan") {
  Diagnostics d;
  std::vector<std::string> files;
  for (auto& f : rules::standard_rule_files())
    if (f.find("fusion") != std::string::npos || f.find("mutation") != std::string::npos) files.push_back(f);
  auto rs = rules::load_rules(files, d);
  INFO(d.render());
  REQUIRE(!d.has_errors());
  auto& reg = TemplateRegistry::builtin();
  Graph g;
  Builder b(g, reg);
  auto x = b.input("x", ty({32, 64}, DType::bf16));
  auto w = b.input("w", ty({64, 16}));
  auto bias = b.input("bias", ty({16}));
  auto xc = op(b, Op::cast, {x}, "xc", CastAttrs{DType::f32});
  auto m = b.templ("mm", {xc, w}, "m");
  auto y = op(b, Op::gelu, {op(b, Op::add, {m, bias}, "a")}, "y");
  b.output(y);
  auto r = compile(g, reg, {}, rs);
  REQUIRE(r.plan.kernels.size() == 1);
  auto& rules = r.plan.kernels[0].rules;
  auto has = [&](const std::string& s) {
    return std::any_of(rules.begin(), rules.end(), [&](auto& x) { return x.find(s) != std::string::npos; });
  };
  CHECK(has("template-epilogue-0 @ "));
  CHECK(has("fusion.rules:"));
  CHECK(has("template-prologue-0 @ "));
  // Only the rewrites that formed the kernel, not whole families.
  CHECK(has("pointwise-inline-0 @ "));  // y = gelu(a)
  CHECK(!has("template-epilogue-1 @ "));
  CHECK(!has("template-epilogue-2 @ "));
  CHECK(!has("template-prologue-1 @ "));
  CHECK(!has("pointwise-inline-1 @ "));
  CHECK(r.stats.rule_uses.size() >= 2);
  CHECK(r.stats.egraph_nodes > g.size());  // the buf-free alternatives were added
  CHECK(r.stats.stop_reason == "saturated");
}

TEST_CASE("without the pointwise rules a pointwise chain stays unfused") {
  auto& reg = TemplateRegistry::builtin();
  Graph g;
  Builder b(g, reg);
  auto x = b.input("x", ty({32, 64}));
  auto e = op(b, Op::exp, {x}, "e");
  auto y = op(b, Op::neg, {e}, "y");
  b.output(y);
  CHECK(compile(g, reg).plan.kernels.size() == 1);
  CompileOptions o;
  o.horizontal = false;
  auto off = compile(g, reg, o, family_rules({"pointwise-inline"}));
  CHECK(off.plan.kernels.size() == 2);
  CHECK(off.stats.egraph_nodes > 0);
}

TEST_CASE("mutation safety in the e-graph: the guard blocks a prologue reading what the template mutates") {
  auto reg = mutating_registry();
  Graph g;
  Builder b(g, reg);
  auto cache = b.input("cache", ty({16, 8}), true);
  auto idx = b.input("idx", ty({4}, DType::i64));
  auto rows = b.slice(cache, 0, 4, 8);
  auto src = op(b, Op::neg, {rows}, "src");
  auto t = b.templ("kv_cache_update", {cache, idx, src}, "t");
  b.output(mutation_outputs(g, t)[0], "cache_out");
  std::ostringstream out;
  CompileOptions o;
  {
    eg::Trace trace(out);
    o.trace = &trace;
    auto r = compile(g, reg, o);
    CHECK(!same_kernel(r.plan, "src", "t"));
  }
  std::string tr = out.str();
  INFO(tr);
  // The rewrite itself is refused (template-prologue-2: src is input 2)...
  CHECK(tr.find("\"ev\":\"guard_fail\"") != std::string::npos);
  CHECK(tr.find("\"rule\":\"template-prologue-2\"") != std::string::npos);
  CHECK(tr.find("reads_mutated_by(?q, ?t)") != std::string::npos);
  // ...so extraction finds the read materialized by the rules, not by its own check.
  CHECK(tr.find("\"consumer\":\"t\",\"producer\":\"src\",\"family\":\"template-prologue\",\"fused\":false,"
                "\"why\":\"the rules keep this read materialized\"") != std::string::npos);

  SECTION("a prologue reading other storage still passes the guard") {
    Graph g2;
    Builder b2(g2, reg);
    auto c2 = b2.input("cache", ty({16, 8}), true);
    auto i2 = b2.input("idx", ty({4}, DType::i64));
    auto x2 = b2.input("x", ty({4, 8}));
    auto s2 = op(b2, Op::neg, {x2}, "src");
    auto t2 = b2.templ("kv_cache_update", {c2, i2, s2}, "t");
    b2.output(mutation_outputs(g2, t2)[0], "cache_out");
    auto r2 = compile(g2, reg);
    CHECK(same_kernel(r2.plan, "src", "t"));
    CHECK(kernel_has_rule(r2.plan, "t", "template-prologue-2"));
  }
}

TEST_CASE("compile runs the mutation rules: an in-place extern becomes its template kind") {
  Diagnostics d;
  auto rs = rules::load_rules(rules::standard_rule_files(), d);
  TemplateRegistry reg;
  rs.register_templates(reg, d);
  INFO(d.render());
  REQUIRE(!d.has_errors());
  const std::string text =
      "graph g {\n"
      "  input mutable cache: f32[16, 8]\n"
      "  input idx: i64[4]\n"
      "  input x: f32[4, 8]\n"
      "  src = neg(x) : f32[4, 8]\n"
      "  w = extern \"index_copy\"(cache, idx, src) {mutates=[0]} : f32[4, 8]\n"
      "  c2 = mutation_output(w) : f32[16, 8]\n"
      "  s = sum(c2) {axes=[1]} : f32[16]\n"
      "  output s\n"
      "}\n";
  Diagnostics gd;
  auto g = parse_graph("inplace.graph", text, reg, gd);
  INFO(gd.render());
  REQUIRE(g);
  REQUIRE(verify(*g, reg, gd));
  std::ostringstream out;
  CompileResult r;
  {
    eg::Trace trace(out);
    CompileOptions o;
    o.trace = &trace;
    Diagnostics cd;
    r = compile_graph(*g, rs, reg, o, cd);
    INFO(cd.render());
    REQUIRE(r.ok);
  }
  std::string tr = out.str();
  INFO(tr);
  INFO(r.plan.to_text());
  // The rule fired in the e-graph, and extraction took the template.
  CHECK(tr.find("\"rule\":\"index-copy-as-template\"") != std::string::npos);
  CHECK(tr.find("\"node\":\"w\",\"kind\":\"kv_cache_update\",\"taken\":true") != std::string::npos);
  int k = kernel_of(r.plan, "w");
  REQUIRE(k >= 0);
  CHECK(r.plan.kernels[size_t(k)].kind == KernelKind::template_);
  CHECK(same_kernel(r.plan, "src", "w"));  // the template takes a prologue on src, an extern would not
  CHECK(kernel_has_rule(r.plan, "w", "index-copy-as-template"));
  CHECK(kernel_has_rule(r.plan, "w", "template-prologue-2"));
  CHECK(r.plan.kernels.size() < r.unfused.kernels.size());
  // Interpreter-checked: the plan (template) and the graph (extern) agree,
  // outputs and the cache written in place.
  auto inputs = random_inputs(*g, 9, reg);
  auto plan_inputs = inputs;
  auto want = evaluate(*g, inputs, reg);
  auto got = evaluate_plan(r.plan, plan_inputs, reg);
  CHECK(compare(got.at("s"), want.at("s"), tolerance_for(DType::f32)).ok);
  CHECK(compare(plan_inputs.at("cache"), inputs.at("cache"), tolerance_for(DType::f32)).ok);

  SECTION("addmm_ and index_copy_pair externs become mm_accumulate and kv_cache_update_pair") {
    const std::string more =
        "graph g {\n"
        "  input mutable c: f32[8, 16]\n"
        "  input a: f32[8, 32]\n"
        "  input b: f32[32, 16]\n"
        "  input mutable kc: f32[16, 4]\n"
        "  input mutable vc: f32[16, 4]\n"
        "  input idx: i64[2]\n"
        "  input ks: f32[2, 4]\n"
        "  input vs: f32[2, 4]\n"
        "  ar = relu(a) : f32[8, 32]\n"
        "  acc = extern \"addmm_\"(c, ar, b) {mutates=[0]} : f32[8, 16]\n"
        "  c2 = mutation_output(acc) : f32[8, 16]\n"
        "  w = extern \"index_copy_pair\"(kc, vc, idx, ks, vs) {mutates=[0, 1]} : f32[2, 4]\n"
        "  k2 = mutation_output(w) : f32[16, 4]\n"
        "  v2 = mutation_output(w) {input=1} : f32[16, 4]\n"
        "  output c2, k2, v2\n"
        "}\n";
    Diagnostics gd2;
    auto g2 = parse_graph("more.graph", more, reg, gd2);
    INFO(gd2.render());
    REQUIRE(g2);
    REQUIRE(verify(*g2, reg, gd2));
    Diagnostics cd;
    auto r2 = compile_graph(*g2, rs, reg, CompileOptions{}, cd);
    INFO(cd.render());
    INFO(r2.plan.to_text());
    REQUIRE(r2.ok);
    CHECK(kernel_has_rule(r2.plan, "acc", "addmm-inplace-as-template"));
    CHECK(kernel_has_rule(r2.plan, "w", "index-copy-pair-as-template"));
    CHECK(r2.plan.kernels[size_t(kernel_of(r2.plan, "acc"))].kind == KernelKind::template_);
    CHECK(same_kernel(r2.plan, "ar", "acc"));  // mm_accumulate takes a prologue on a
    auto in2 = random_inputs(*g2, 4, reg);
    auto pin2 = in2;
    auto want2 = evaluate(*g2, in2, reg);
    auto got2 = evaluate_plan(r2.plan, pin2, reg);
    for (auto name : {"c2", "k2", "v2"}) CHECK(compare(got2.at(name), want2.at(name), tolerance_for(DType::f32)).ok);
    for (auto name : {"c", "kc", "vc"}) CHECK(compare(pin2.at(name), in2.at(name), tolerance_for(DType::f32)).ok);
  }
  SECTION("a kind that does not bind is not taken") {
    const std::string bad =
        "graph g {\n"
        "  input mutable cache: f32[16, 8]\n"
        "  input idx: i64[4]\n"
        "  input x: f32[4, 8]\n"
        "  w = extern \"index_copy\"(cache, idx, x) {mutates=[0]} : f32[2, 16]\n"
        "  c2 = mutation_output(w) : f32[16, 8]\n"
        "  output c2\n"
        "}\n";
    Diagnostics gd2;
    auto g2 = parse_graph("bad.graph", bad, reg, gd2);
    REQUIRE(g2);
    Diagnostics cd;
    auto r2 = compile_graph(*g2, rs, reg, CompileOptions{}, cd);
    REQUIRE(r2.ok);
    CHECK(r2.plan.kernels[0].kind == KernelKind::extern_);
  }
}

TEST_CASE("a kernel binds at most max_kernel_buffers buffers") {
  // A pointwise sum of 40 inputs: one kernel would bind 41 buffers, more than
  // a Vulkan device such as lavapipe allows per shader (32).
  auto& reg = TemplateRegistry::builtin();
  Graph g;
  Builder b(g, reg);
  NodeId acc = b.input("x0", ty({16, 16}));
  for (int i = 1; i < 40; ++i)
    acc = op(b, Op::add, {acc, b.input("x" + std::to_string(i), ty({16, 16}))}, "s" + std::to_string(i));
  b.output(acc);
  auto bound = [](const PlanKernel& k) { return k.reads.size() + k.writes.size(); };
  auto r = compile(g, reg);
  REQUIRE(r.plan.kernels.size() > 1);
  for (auto& k : r.plan.kernels) CHECK(bound(k) <= CompileOptions{}.max_kernel_buffers);
  CompileOptions tight;
  tight.max_kernel_buffers = 8;
  auto t = compile(g, reg, tight);
  CHECK(t.plan.kernels.size() > r.plan.kernels.size());
  for (auto& k : t.plan.kernels) CHECK(bound(k) <= 8);
  CompileOptions unlimited;
  unlimited.max_kernel_buffers = 0;
  CHECK(compile(g, reg, unlimited).plan.kernels.size() == 1);
}
