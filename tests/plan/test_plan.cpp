// Kernel plans: the unfused plan (views as strided aliases, mutation ordering,
// temporary reuse) and the validator's negative cases, each of which must name
// the kernel and the buffers involved.
#include <catch2/catch.hpp>

#include "egfuse/plan.hpp"
#include "egfuse/templates.hpp"
#include "engine/plan/plan_build.hpp"

using namespace egfuse;

namespace {
TensorType f32(Shape s) { return TensorType{DType::f32, std::move(s), {}, 0}; }

TemplateRegistry registry_with_cache_write() {
  TemplateRegistry reg;
  std::string err;
  TemplateKind one;
  one.name = "cache_write";
  one.impl = "index_copy";
  one.inputs = {{"dst", {DimExpr::variable("S"), DimExpr::variable("D")}, {}, false, true},
                {"idx", {DimExpr::variable("T")}, DType::i64, false, false},
                {"src", {DimExpr::variable("T"), DimExpr::variable("D")}, {}, true, false}};
  one.out_shape = {DimExpr::variable("T"), DimExpr::variable("D")};
  REQUIRE(reg.add(one, err));
  return reg;
}

int find_buffer(const Plan& p, const std::string& name) {
  for (size_t i = 0; i < p.buffers.size(); ++i)
    if (p.buffers[i].name == name) return int(i);
  FAIL("no buffer " << name);
  return -1;
}
int kernel_writing(const Plan& p, int b) {
  for (size_t i = 0; i < p.kernels.size(); ++i)
    for (int w : p.kernels[i].writes)
      if (w == b) return int(i);
  return -1;
}
std::string validation_errors(const Plan& p, const TemplateRegistry& reg) {
  Diagnostics d;
  bool ok = validate_plan(p, reg, d);
  std::string all;
  for (auto& x : d.all()) all += x.code + ": " + x.message + "\n";
  CHECK(ok == all.empty());
  return all;
}

// x[4,8] @ w[8,16] + bias[16] -> gelu
Graph mm_bias_gelu(const TemplateRegistry& reg) {
  Graph g;
  Builder b(g, reg);
  auto x = b.input("x", f32({4, 8}));
  auto w = b.input("w", f32({8, 16}));
  auto bias = b.input("bias", f32({16}));
  auto m = b.templ("mm", {x, w}, "m");
  auto a = b.binary(Op::add, m, bias);
  g[a].name = "a";
  auto y = b.unary(Op::gelu, a);
  g[y].name = "y";
  b.output(y, "y");
  return g;
}
}  // namespace

TEST_CASE("unfused plan: one kernel per node, valid, readable and JSON") {
  auto& reg = TemplateRegistry::builtin();
  Graph g = mm_bias_gelu(reg);
  Plan p = plan_unfused(g, reg);
  REQUIRE(p.kernels.size() == 3);
  CHECK(p.kernels[0].kind == KernelKind::template_);
  CHECK(p.kernels[0].name == "k0_mm");
  CHECK(p.kernels[1].name == "k1_add");
  CHECK(p.kernels[2].name == "k2_gelu");
  CHECK(p.buffers[size_t(find_buffer(p, "y"))].role == BufferRole::output);
  CHECK(p.buffers[size_t(find_buffer(p, "m"))].role == BufferRole::temp);
  // bytes: mm reads 4*8+8*16, writes 4*16; add reads 64+16 writes 64; gelu 64+64 (x4 bytes)
  CHECK(p.bytes_moved() == 4 * ((32 + 128 + 64) + (64 + 16 + 64) + (64 + 64)));
  CHECK(validation_errors(p, reg).empty());
  auto text = p.to_text();
  CHECK(text.find("k0_mm (template") != std::string::npos);
  CHECK(text.find("m = mm(x, w) : f32[4, 16]") != std::string::npos);
  auto json = p.to_json();
  CHECK(json.find("\"kind\":\"template\"") != std::string::npos);
  CHECK(json.find("\"bytes_moved\":" + std::to_string(p.bytes_moved())) != std::string::npos);
}

TEST_CASE("dead temporaries give their storage to later ones") {
  auto& reg = TemplateRegistry::builtin();
  Graph g;
  Builder b(g, reg);
  auto x = b.input("x", f32({64}));
  auto a = b.unary(Op::exp, x);
  auto c = b.unary(Op::neg, a);
  auto d = b.unary(Op::sin, c);
  auto e = b.unary(Op::cos, d);
  b.output(e, "e");
  Plan p = plan_unfused(g, reg);
  REQUIRE(p.kernels.size() == 4);
  auto& ba = p.buffers[size_t(find_buffer(p, g[a].name))];
  auto& bc = p.buffers[size_t(find_buffer(p, g[c].name))];
  auto& bd = p.buffers[size_t(find_buffer(p, g[d].name))];
  CHECK(ba.first_use == 0);
  CHECK(ba.last_use == 1);
  CHECK(bd.storage == ba.storage);  // a is dead after kernel 1, d is born in kernel 2
  CHECK(bc.storage != ba.storage);  // c is written while a is read
  CHECK(validation_errors(p, reg).empty());
}

TEST_CASE("views become strided aliases; a reshape of a transpose becomes a copy kernel") {
  auto& reg = TemplateRegistry::builtin();
  Graph g;
  Builder b(g, reg);
  auto x = b.input("x", f32({4, 6}));
  auto t = b.permute(x, {1, 0});
  g[t].name = "t";
  auto s = b.slice(t, 0, 1, 5, 2);
  g[s].name = "s";
  auto e = b.unary(Op::exp, s);
  b.output(e, "e");
  auto r = b.reshape(t, {24});
  g[r].name = "r";
  auto n = b.unary(Op::neg, r);
  b.output(n, "n");
  Plan p = plan_unfused(g, reg);
  auto& bt = p.buffers[size_t(find_buffer(p, "t"))];
  CHECK(bt.role == BufferRole::alias);
  CHECK(bt.type.strides == std::vector<int64_t>{1, 6});
  auto& bs = p.buffers[size_t(find_buffer(p, "s"))];
  CHECK(bs.role == BufferRole::alias);
  CHECK(bs.type.shape == Shape{2, 4});
  CHECK(bs.type.strides == std::vector<int64_t>{2, 6});
  CHECK(bs.type.offset == 1);
  CHECK(bs.storage == p.buffers[size_t(find_buffer(p, "x"))].storage);
  int br = find_buffer(p, "r");
  CHECK(p.buffers[size_t(br)].role == BufferRole::temp);
  REQUIRE(kernel_writing(p, br) >= 0);
  CHECK(p.kernels[size_t(kernel_writing(p, br))].name.find("reshape") != std::string::npos);
  CHECK(validation_errors(p, reg).empty());
}

TEST_CASE("a reader of the old version runs before the in-place writer, even when written after it") {
  auto reg = registry_with_cache_write();
  Graph g;
  Builder b(g, reg);
  auto cache = b.input("cache", f32({16, 8}), true);
  auto idx = b.input("idx", TensorType{DType::i64, {2}, {}, 0});
  auto src = b.input("src", f32({2, 8}));
  auto t = b.templ("cache_write", {cache, idx, src}, "upd");
  auto old = b.unary(Op::exp, cache);  // reads the old version; written after upd in the graph
  g[old].name = "old";
  b.output(old, "old");
  b.output(mutation_outputs(g, t)[0], "new_cache");
  Plan p = plan_unfused(g, reg);
  int bo = find_buffer(p, "old");
  int bn = find_buffer(p, g[mutation_outputs(g, t)[0]].name);
  CHECK(p.buffers[size_t(bn)].role == BufferRole::alias);
  CHECK(p.buffers[size_t(bn)].alias_of == find_buffer(p, "cache"));
  CHECK(kernel_writing(p, bo) < kernel_writing(p, bn));
  CHECK(validation_errors(p, reg).empty());

  // The same plan with the two kernels swapped reads the overwritten storage.
  Plan bad = p;
  std::swap(bad.kernels[size_t(kernel_writing(p, bo))], bad.kernels[size_t(kernel_writing(p, bn))]);
  auto errs = validation_errors(bad, reg);
  CHECK(errs.find("E-plan-war") != std::string::npos);
  CHECK(errs.find("k0_exp") != std::string::npos);
  CHECK(errs.find("'cache'") != std::string::npos);
}

TEST_CASE("validator: RAW, WAW and writes to immutable inputs name kernel and buffers") {
  auto& reg = TemplateRegistry::builtin();
  Plan p = plan_unfused(mm_bias_gelu(reg), reg);
  SECTION("read before write") {
    std::swap(p.kernels[0], p.kernels[1]);
    auto errs = validation_errors(p, reg);
    CHECK(errs.find("E-plan-raw: kernel k1_add reads b3 'm' before any kernel writes it") != std::string::npos);
  }
  SECTION("two writers") {
    p.kernels[2].writes[0] = p.kernels[1].writes[0];
    auto errs = validation_errors(p, reg);
    CHECK(errs.find("E-plan-waw: buffer b4 'a' is written by both k1_add and k2_gelu") != std::string::npos);
  }
  SECTION("writing a graph input") {
    p.kernels[2].writes[0] = 0;
    p.kernels[2].body.outputs[0].name = "y";
    auto errs = validation_errors(p, reg);
    CHECK(errs.find("kernel k2_gelu writes input buffer b0 'x'") != std::string::npos);
  }
  SECTION("body type differs from the buffer") {
    p.buffers[size_t(find_buffer(p, "a"))].type.shape = {4, 15};
    auto errs = validation_errors(p, reg);
    CHECK(errs.find("E-plan-shape") != std::string::npos);
    CHECK(errs.find("k1_add") != std::string::npos);
  }
  SECTION("reused storage still live") {
    p.buffers[size_t(find_buffer(p, "a"))].storage = p.buffers[size_t(find_buffer(p, "m"))].storage;
    auto errs = validation_errors(p, reg);
    // gelu would read a... fine; but add reads m and writes a in the same storage
    CHECK(errs.find("E-plan-war: kernel k1_add reads b3 'm' and writes storage") != std::string::npos);
  }
}

TEST_CASE("validator: codegen-ability of fused kernels") {
  auto& reg = TemplateRegistry::builtin();
  SECTION("two templates in one kernel") {
    Graph g;
    Builder b(g, reg);
    auto x = b.input("x", f32({4, 4}));
    auto m1 = b.templ("mm", {x, x}, "m1");
    auto m2 = b.templ("mm", {m1, x}, "m2");
    b.output(m2, "y");
    Plan p = plan_detail::build_plan(g, reg, {{{m1, m2}, {}}});
    auto errs = validation_errors(p, reg);
    CHECK(errs.find("E-plan-codegen: kernel k0_mm holds 2 templates/reductions ('m1', 'm2')") != std::string::npos);
  }
  SECTION("prologue into an input that allows none") {
    Graph g;
    Builder b(g, reg);
    auto bias = b.input("bias", f32({4}));
    auto x = b.input("x", f32({4, 4}));
    auto nb = b.unary(Op::neg, bias);
    g[nb].name = "nb";
    auto m = b.templ("addmm", {nb, x, x}, "m");
    b.output(m, "y");
    Plan p = plan_detail::build_plan(g, reg, {{{nb, m}, {}}});
    auto errs = validation_errors(p, reg);
    CHECK(errs.find("E-plan-prologue: kernel k0_neg_addmm computes 'nb' into input 0 of 'm'") != std::string::npos);
  }
  SECTION("a reduction's result read at another row") {
    Graph g;
    Builder b(g, reg);
    auto x = b.input("x", f32({4, 4}));
    auto s = b.reduce(Op::sum, x, {1}, false);  // [4], broadcast over rows of x: s[j], not s[i]
    g[s].name = "s";
    auto d = b.binary(Op::sub, x, s);
    g[d].name = "d";
    b.output(d, "d");
    Plan p = plan_detail::build_plan(g, reg, {{{s, d}, {}}});
    auto errs = validation_errors(p, reg);
    CHECK(errs.find("E-plan-iteration: kernel k0_sum_sub: a reduction's result read at another row") != std::string::npos);
  }
  SECTION("reductions over different axes") {
    Graph g;
    Builder b(g, reg);
    auto x = b.input("x", f32({4, 8}));
    auto s = b.reduce(Op::sum, x, {1}, true);
    g[s].name = "s";
    auto m = b.reduce(Op::amax, x, {0}, true);
    g[m].name = "m";
    b.output(s, "s");
    b.output(m, "m");
    Plan p = plan_detail::build_plan(g, reg, {{{s, m}, {}}});
    auto errs = validation_errors(p, reg);
    CHECK(errs.find("E-plan-codegen: kernel k0_sum_amax: reductions over different iteration spaces") != std::string::npos);
  }
  SECTION("softmax: two reductions over the same rows, the result broadcast back") {
    Graph g;
    Builder b(g, reg);
    auto x = b.input("x", f32({4, 8}));
    auto m = b.reduce(Op::amax, x, {1}, true);
    auto d = b.binary(Op::sub, x, m);
    auto e = b.unary(Op::exp, d);
    auto z = b.reduce(Op::sum, e, {-1}, true);
    auto y = b.binary(Op::div, e, z);
    b.output(y, "y");
    Plan p = plan_detail::build_plan(g, reg, {{{m, d, e, z, y}, {}}});
    CHECK(p.kernels.size() == 1);
    CHECK(validation_errors(p, reg).empty());
  }
  SECTION("a kernel reading the version it overwrites is refused when built") {
    auto creg = registry_with_cache_write();
    Graph g;
    Builder b(g, creg);
    auto cache = b.input("cache", f32({16, 8}), true);
    auto idx = b.input("idx", TensorType{DType::i64, {2}, {}, 0});
    auto rows = b.slice(cache, 0, 0, 2);
    auto src = b.unary(Op::neg, rows);  // x.copy_(f(x))-style: the source reads the destination
    auto t = b.templ("cache_write", {cache, idx, src}, "upd");
    b.output(mutation_outputs(g, t)[0], "c");
    CHECK_THROWS_WITH(plan_detail::build_plan(g, creg, {{{rows, src, t}, {}}}),
                      Catch::Contains("would read the old version of 'cache'"));
    // Unfused, the same program is ordered correctly.
    Plan p = plan_unfused(g, creg);
    CHECK(validation_errors(p, creg).empty());
  }
}
