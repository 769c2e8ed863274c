// Fusion rule families: graphs where each must fire and graphs where it must
// not (mutated inputs, disallowed prologue inputs, reductions, mismatched
// iteration spaces, extern kernels), and the mutation hazard cases.
#include "tests/fusion/fusion_cases.hpp"

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

TEST_CASE("reductions: prologue, matching epilogue, mismatched epilogue") {
  auto& reg = TemplateRegistry::builtin();
  Graph g;
  Builder b(g, reg);
  auto x = b.input("x", ty({32, 64}));
  auto e = op(b, Op::exp, {x}, "e");
  auto s = op(b, Op::sum, {e}, "s", ReduceAttrs{{1}, true});
  auto r1 = op(b, Op::rsqrt, {s}, "r1");
  auto y = op(b, Op::mul, {x, r1}, "y");  // [32, 64]: a larger iteration space than s
  b.output(y);
  auto r = compile(g, reg);
  CHECK(same_kernel(r.plan, "e", "s"));
  CHECK(same_kernel(r.plan, "s", "r1"));
  CHECK(!same_kernel(r.plan, "s", "y"));
  CHECK(kernel_has_rule(r.plan, "s", "reduction-prologue"));
  CHECK(kernel_has_rule(r.plan, "s", "reduction-epilogue"));
  CHECK(r.plan.kernels.size() == 2);

  SECTION("two reductions never share a kernel") {
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
