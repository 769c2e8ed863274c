// IR: template buffers (mutation outputs, read/write deps, prologue inputs),
// type inference, reflected attributes, and the verifier.
#include <catch2/catch.hpp>

#include "egfuse/ir.hpp"
#include "egfuse/templates.hpp"

using namespace egfuse;

namespace {
TensorType f32(Shape s) { return TensorType{DType::f32, std::move(s), {}, 0}; }

TemplateRegistry registry_with_mutating_kinds() {
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
  TemplateKind two;
  two.name = "kv_write";
  two.impl = "index_copy_pair";
  two.inputs = {{"k", {DimExpr::variable("S"), DimExpr::variable("D")}, {}, false, true},
                {"v", {DimExpr::variable("S"), DimExpr::variable("D")}, {}, false, true},
                {"idx", {DimExpr::variable("T")}, DType::i64, false, false},
                {"ks", {DimExpr::variable("T"), DimExpr::variable("D")}, {}, true, false},
                {"vs", {DimExpr::variable("T"), DimExpr::variable("D")}, {}, true, false}};
  two.out_shape = {DimExpr::variable("T"), DimExpr::variable("D")};
  REQUIRE(reg.add(two, err));
  return reg;
}
}  // namespace

TEST_CASE("template without mutated inputs: outputs are the template alone") {
  Graph g;
  Builder b(g, TemplateRegistry::builtin());
  auto x = b.input("x", f32({4, 8}));
  auto w = b.input("w", f32({8, 16}));
  auto t = b.templ("mm", {x, w}, "t");
  CHECK(g[t].type.shape == Shape{4, 16});
  CHECK(mutation_outputs(g, t).empty());
  CHECK(get_outputs(g, t) == std::vector<NodeId>{t});
  CHECK(read_deps(g, t) == std::vector<NodeId>{x, w});
  CHECK(write_deps(g, t, TemplateRegistry::builtin()) == std::vector<NodeId>{t});
  CHECK(allowed_prologue_inputs(g, t, TemplateRegistry::builtin()) == std::vector<int64_t>{0, 1});
}

TEST_CASE("template mutating one input gets one mutation output from the base") {
  auto reg = registry_with_mutating_kinds();
  Graph g;
  Builder b(g, reg);
  auto cache = b.input("cache", f32({16, 8}), true);
  auto idx = b.input("idx", TensorType{DType::i64, {2}, {}, 0});
  auto src = b.input("src", f32({2, 8}));
  auto t = b.templ("cache_write", {cache, idx, src}, "upd");
  auto muts = mutation_outputs(g, t);
  REQUIRE(muts.size() == 1);
  CHECK(g[muts[0]].op == Op::mutation_output);
  CHECK(g[muts[0]].type.shape == Shape{16, 8});
  CHECK(storage_root(g, muts[0]) == cache);
  CHECK(get_outputs(g, t) == std::vector<NodeId>{t, muts[0]});
  CHECK(write_deps(g, t, reg) == std::vector<NodeId>{t, cache});
  CHECK(read_deps(g, t) == std::vector<NodeId>{cache, idx, src});
  // the mutated input never allows a prologue
  CHECK(allowed_prologue_inputs(g, t, reg) == std::vector<int64_t>{2});
  Diagnostics d;
  CHECK(verify(g, reg, d));
}

TEST_CASE("template mutating two inputs gets two mutation outputs in input order") {
  auto reg = registry_with_mutating_kinds();
  Graph g;
  Builder b(g, reg);
  auto k = b.input("k", f32({16, 8}), true);
  auto v = b.input("v", f32({16, 8}), true);
  auto idx = b.input("idx", TensorType{DType::i64, {2}, {}, 0});
  auto ks = b.input("ks", f32({2, 8}));
  auto vs = b.input("vs", f32({2, 8}));
  auto t = b.templ("kv_write", {k, v, idx, ks, vs}, "kv");
  auto muts = mutation_outputs(g, t);
  REQUIRE(muts.size() == 2);
  CHECK(std::get<MutationOutputAttrs>(g[muts[0]].attrs).input == 0);
  CHECK(std::get<MutationOutputAttrs>(g[muts[1]].attrs).input == 1);
  CHECK(storage_root(g, muts[1]) == v);
  CHECK(write_deps(g, t, reg) == std::vector<NodeId>{t, k, v});
  CHECK(allowed_prologue_inputs(g, t, reg) == std::vector<int64_t>{3, 4});
}

TEST_CASE("a kind may not allow a prologue into a mutated input") {
  TemplateRegistry reg;
  TemplateKind bad;
  bad.name = "bad";
  bad.impl = "index_copy";
  bad.inputs = {{"dst", {DimExpr::variable("S")}, {}, true, true}};
  std::string err;
  CHECK_FALSE(reg.add(bad, err));
  CHECK(err.find("mutated and cannot allow a prologue") != std::string::npos);
}

TEST_CASE("extern kernels carry mutation outputs the same way") {
  Graph g;
  Builder b(g, TemplateRegistry::builtin());
  auto buf = b.input("buf", f32({4}), true);
  auto e = b.extern_kernel("copy", {buf}, f32({4}), {0}, "e");
  auto muts = mutation_outputs(g, e);
  REQUIRE(muts.size() == 1);
  CHECK(storage_root(g, muts[0]) == buf);
  CHECK(allowed_prologue_inputs(g, e, TemplateRegistry::builtin()).empty());
}

TEST_CASE("type inference: broadcast, promotion, views, reductions") {
  Graph g;
  Builder b(g, TemplateRegistry::builtin());
  auto x = b.input("x", f32({4, 8}));
  auto bias = b.input("bias", TensorType{DType::f16, {8}, {}, 0});
  auto s = b.binary(Op::add, x, bias);
  CHECK(g[s].type == f32({4, 8}));
  auto c = b.binary(Op::lt, x, bias);
  CHECK(g[c].type.dtype == DType::boolean);
  CHECK(g[b.reshape(x, {2, -1})].type.shape == Shape{2, 16});
  CHECK(g[b.permute(x, {1, 0})].type.shape == Shape{8, 4});
  CHECK(g[b.slice(x, 1, 2, 8, 2)].type.shape == Shape{4, 3});
  CHECK(g[b.expand(bias, {3, 4, 8})].type.shape == Shape{3, 4, 8});
  CHECK(g[b.reduce(Op::sum, x, {1}, true)].type.shape == Shape{4, 1});
  CHECK(g[b.reduce(Op::amax, x, {0, 1})].type.shape == Shape{});
  CHECK_THROWS_WITH(b.binary(Op::add, x, b.input("y", f32({3}))), Catch::Contains("do not broadcast"));
  CHECK_THROWS_WITH(b.reshape(x, {5, 5}), Catch::Contains("32 elements"));
  CHECK_THROWS_WITH(b.templ("mm", {x, x}), Catch::Contains("K = 8"));
}

TEST_CASE("verifier reports shape and dtype mismatches naming the node") {
  Graph g;
  Builder b(g, TemplateRegistry::builtin());
  auto x = b.input("x", f32({4, 8}));
  auto y = b.unary(Op::exp, x);
  g[y].type.shape = {4, 9};  // corrupt the recorded type
  auto z = b.cast(x, DType::f16);
  g[z].type.dtype = DType::f32;
  Diagnostics d;
  CHECK_FALSE(verify(g, TemplateRegistry::builtin(), d));
  REQUIRE(d.error_count() == 2);
  CHECK(d.all()[0].message.find("'" + g[y].name + "' is recorded as f32[4, 9] but exp gives f32[4, 8]") != std::string::npos);
  CHECK(d.all()[1].message.find("but cast gives f16[4, 8]") != std::string::npos);
}

TEST_CASE("verifier rejects mutation of an immutable input and reads of an overwritten version") {
  auto reg = registry_with_mutating_kinds();
  {
    Graph g;
    Builder b(g, reg);
    auto cache = b.input("cache", f32({16, 8}));  // not mutable
    auto idx = b.input("idx", TensorType{DType::i64, {2}, {}, 0});
    auto src = b.input("src", f32({2, 8}));
    b.templ("cache_write", {cache, idx, src}, "upd");
    Diagnostics d;
    CHECK_FALSE(verify(g, reg, d));
    CHECK(d.all().at(0).message.find("is not a mutable graph input") != std::string::npos);
  }
  {
    Graph g;
    Builder b(g, reg);
    auto cache = b.input("cache", f32({16, 8}), true);
    auto idx = b.input("idx", TensorType{DType::i64, {2}, {}, 0});
    auto src = b.input("src", f32({2, 8}));
    auto t = b.templ("cache_write", {cache, idx, src}, "upd");
    auto before = b.unary(Op::exp, cache);  // fine: can run before upd
    (void)before;
    auto dep = b.unary(Op::neg, t);
    auto bad = b.binary(Op::add, cache, b.reduce(Op::sum, dep, {0}, false));  // old cache after upd
    (void)bad;
    Diagnostics d;
    CHECK_FALSE(verify(g, reg, d));
    REQUIRE(d.error_count() == 1);
    CHECK(d.all()[0].code == "E-hazard-war");
    CHECK(d.all()[0].message.find("reads the old version of 'cache'") != std::string::npos);
  }
}

TEST_CASE("attributes: one reflection drives printing, hashing and building") {
  CHECK(print_attrs(SliceAttrs{1, 2, 8, 1}) == "{dim=1, start=2, end=8}");
  CHECK(print_attrs(ReduceAttrs{{0, 2}, true}) == "{axes=[0, 2], keepdim=true}");
  CHECK(print_attrs(CastAttrs{DType::bf16}) == "{to=bf16}");
  CHECK(print_attrs(ConstantAttrs{0.5}) == "{value=0.5}");
  CHECK(print_attrs(NoAttrs{}) == "");
  CHECK(hash_attrs(SliceAttrs{1, 2, 8, 1}) == hash_attrs(SliceAttrs{1, 2, 8, 1}));
  CHECK(hash_attrs(SliceAttrs{1, 2, 8, 1}) != hash_attrs(SliceAttrs{1, 2, 9, 1}));
  CHECK(attr_field_names(Op::slice) == std::vector<std::string>{"dim", "start", "end", "step"});

  Diagnostics d;
  std::vector<AttrEntry> entries{{"axes", {std::vector<int64_t>{1}, {}}, {}}, {"keepdim", {true, {}}, {}}};
  Attrs a = build_attrs(Op::sum, entries, {}, d);
  CHECK_FALSE(d.has_errors());
  CHECK(std::get<ReduceAttrs>(a) == ReduceAttrs{{1}, true});

  std::vector<AttrEntry> bad{{"axis", {int64_t(1), {}}, {}}, {"keepdim", {int64_t(3), {}}, {}}};
  build_attrs(Op::sum, bad, {}, d);
  REQUIRE(d.error_count() == 2);
  CHECK(d.all()[0].message == "sum has no attribute 'axis' (expected one of: axes, keepdim)");
  CHECK(d.all()[1].message == "attribute 'keepdim' of sum: expected true or false, got an integer");
}

TEST_CASE("template registry binds shape variables and reports mismatches") {
  auto& reg = TemplateRegistry::builtin();
  std::string err;
  auto b = reg.bind(*reg.find("addmm"), {f32({16}), f32({4, 8}), f32({8, 16})}, err);
  REQUIRE(b);
  CHECK(b->out.shape == Shape{4, 16});
  CHECK(reg.find("mm")->flops->eval(b->vars) == 2 * 4 * 16 * 8);
  CHECK(reg.find("mm")->flops->str() == "2*M*N*K");
  CHECK_FALSE(reg.bind(*reg.find("addmm"), {f32({15}), f32({4, 8}), f32({8, 16})}, err));
  CHECK(err.find("N = 15") != std::string::npos);
  CHECK(reg.names() == std::vector<std::string>{"addmm", "bmm", "mm"});
}
