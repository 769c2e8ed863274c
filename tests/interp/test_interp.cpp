// Reference interpreter: every op against hand-computed values, store
// rounding, templates and externs, mutation ordering, random inputs, compare.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <set>

#include "egfuse/graph_text.hpp"
#include "egfuse/interp.hpp"
#include "egfuse/templates.hpp"
#include "tests/graph_text/test_registry.hpp"

using namespace egfuse;
using Catch::Matchers::Contains;

namespace {
Tensor T(DType dt, Shape s, std::vector<double> v) {
  Tensor t(TensorType{dt, std::move(s), {}, 0});
  REQUIRE(v.size() == t.data.size());
  t.data = std::move(v);
  return t;
}
Tensor F(Shape s, std::vector<double> v) { return T(DType::f32, std::move(s), std::move(v)); }

const TemplateRegistry& reg() {
  static const TemplateRegistry r = testing::test_registry();
  return r;
}

Graph parse(const std::string& text) {
  Diagnostics d;
  auto g = parse_graph("t.graph", text, reg(), d);
  INFO(d.render());
  REQUIRE(g);
  REQUIRE(verify(*g, reg(), d));
  return std::move(*g);
}

// Evaluates "graph t { <body> }" and returns output `name`.
Tensor eval1(const std::string& body, std::map<std::string, Tensor> inputs, const std::string& name = "y") {
  Graph g = parse("graph t {\n" + body + "}\n");
  return evaluate(g, inputs, reg()).at(name);
}

void check_values(const Tensor& t, const std::vector<double>& want, double eps = 1e-6) {
  REQUIRE(t.data.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i);
    if (std::isnan(want[i])) CHECK(std::isnan(t.data[i]));
    else CHECK(t.data[i] == Approx(want[i]).margin(eps));
  }
}
}  // namespace

TEST_CASE("f16 and bf16 stores round to nearest even") {
  CHECK(f32_to_f16_bits(1.0f) == 0x3c00);
  CHECK(f32_to_f16_bits(-2.0f) == 0xc000);
  CHECK(f32_to_f16_bits(65504.0f) == 0x7bff);
  CHECK(f32_to_f16_bits(65519.0f) == 0x7bff);
  CHECK(f32_to_f16_bits(65520.0f) == 0x7c00);  // rounds up to infinity
  CHECK(f32_to_f16_bits(1.0f + 0x1p-11f) == 0x3c00);         // tie: to even (down)
  CHECK(f32_to_f16_bits(1.0f + 3 * 0x1p-11f) == 0x3c02);     // tie: to even (up)
  CHECK(f32_to_f16_bits(1.0f + 0x1p-11f + 0x1p-20f) == 0x3c01);  // above the tie
  CHECK(f32_to_f16_bits(0x1p-24f) == 0x0001);                // smallest subnormal
  CHECK(f32_to_f16_bits(0x1p-25f) == 0x0000);                // tie between 0 and 2^-24: even
  CHECK(f32_to_f16_bits(3 * 0x1p-25f) == 0x0002);            // tie: to even (up)
  CHECK((f32_to_f16_bits(std::numeric_limits<float>::quiet_NaN()) & 0x7fff) > 0x7c00);
  CHECK(f16_bits_to_f32(0x3555) == Approx(0.33325195f));
  CHECK(f16_bits_to_f32(0x0001) == 0x1p-24f);
  CHECK(std::isinf(f16_bits_to_f32(0xfc00)));
  for (uint32_t h = 0; h < 0x7c00; ++h) CHECK(f32_to_f16_bits(f16_bits_to_f32(uint16_t(h))) == h);

  CHECK(f32_to_bf16_bits(1.0f) == 0x3f80);
  CHECK(f32_to_bf16_bits(1.0f + 0x1p-8f) == 0x3f80);      // tie: to even (down)
  CHECK(f32_to_bf16_bits(1.0f + 3 * 0x1p-8f) == 0x3f82);  // tie: to even (up)
  CHECK(bf16_bits_to_f32(0x3f81) == 1.0f + 0x1p-7f);
  CHECK(round_to(DType::bf16, 1.00390625) == 1.0);
  CHECK(round_to(DType::f16, 0.1) == double(f16_bits_to_f32(0x2e66)));
  CHECK(round_to(DType::f32, 0.1) == double(0.1f));
  CHECK(round_to(DType::i32, 2.7) == 2);
  CHECK(round_to(DType::i64, -2.7) == -2);
  CHECK(round_to(DType::i32, std::nan("")) == 0);
  CHECK(round_to(DType::boolean, -0.5) == 1);
  CHECK(round_to(DType::boolean, 0) == 0);
}

TEST_CASE("unary ops") {
  const std::string in = "  input x: f32[4]\n";
  auto x = F({4}, {-2, 0, 1.5, 4});
  auto run = [&](const std::string& op) { return eval1(in + "  y = " + op + "(x)\n  output y\n", {{"x", x}}); };
  check_values(run("neg"), {2, 0, -1.5, -4});
  check_values(run("abs"), {2, 0, 1.5, 4});
  check_values(run("relu"), {0, 0, 1.5, 4});
  check_values(run("exp"), {0.1353352832, 1, 4.4816890703, 54.5981500331}, 1e-5);
  check_values(run("sqrt"), {std::nan(""), 0, 1.2247448714, 2});
  check_values(run("rsqrt"), {std::nan(""), std::numeric_limits<double>::infinity(), 0.8164965809, 0.5});
  check_values(run("reciprocal"), {-0.5, std::numeric_limits<double>::infinity(), 0.6666666667, 0.25});
  check_values(run("sigmoid"), {0.1192029220, 0.5, 0.8175744762, 0.9820137900});
  check_values(run("tanh"), {-0.9640275801, 0, 0.9051482536, 0.9993292997});
  check_values(run("gelu"), {-0.0455002639, 0, 1.3997891981, 3.9998733401});
  check_values(run("gelu_tanh"), {-0.0454023059, 0, 1.3995715770, 3.9999297540});
  check_values(run("silu"), {-0.2384058440, 0, 1.2263617143, 3.9280551601});
  check_values(run("erf"), {-0.9953222650, 0, 0.9661051465, 0.9999999846});
  check_values(run("sin"), {-0.9092974268, 0, 0.9974949866, -0.7568024953});
  check_values(run("cos"), {-0.4161468365, 1, 0.0707372017, -0.6536436209});
  auto lg = eval1(in + "  y = log(x)\n  output y\n", {{"x", x}});
  CHECK(std::isnan(lg.data[0]));
  CHECK(lg.data[1] == -std::numeric_limits<double>::infinity());
  CHECK(lg.data[2] == Approx(0.4054651081));
  auto b = eval1("  input c: bool[3]\n  y = logical_not(c)\n  output y\n", {{"c", T(DType::boolean, {3}, {1, 0, 1})}});
  CHECK(b.type.dtype == DType::boolean);
  check_values(b, {0, 1, 0});
  auto i = eval1("  input n: i32[3]\n  y = neg(n)\n  output y\n", {{"n", T(DType::i32, {3}, {-3, 0, 7})}});
  check_values(i, {3, 0, -7});
}

TEST_CASE("binary ops broadcast, promote and compare") {
  const std::string in = "  input a: f32[2, 1]\n  input b: f32[3]\n";
  std::map<std::string, Tensor> ab = {{"a", F({2, 1}, {1, -2})}, {"b", F({3}, {0.5, 2, -1})}};
  auto run = [&](const std::string& op) { return eval1(in + "  y = " + op + "(a, b)\n  output y\n", ab); };
  auto add = run("add");
  CHECK(add.type.shape == Shape{2, 3});
  check_values(add, {1.5, 3, 0, -1.5, 0, -3});
  check_values(run("sub"), {0.5, -1, 2, -2.5, -4, -1});
  check_values(run("mul"), {0.5, 2, -1, -1, -4, 2});
  check_values(run("div"), {2, 0.5, -1, -4, -1, 2});
  check_values(run("max"), {1, 2, 1, 0.5, 2, -1});
  check_values(run("min"), {0.5, 1, -1, -2, -2, -2});
  check_values(run("pow"), {1, 1, 1, std::nan(""), 4, -0.5});
  check_values(run("lt"), {0, 1, 0, 1, 1, 1});
  check_values(run("ge"), {1, 0, 1, 0, 0, 0});
  check_values(run("eq"), {0, 0, 0, 0, 0, 0});
  check_values(run("ne"), {1, 1, 1, 1, 1, 1});
  check_values(run("le"), {0, 1, 0, 1, 1, 1});
  check_values(run("gt"), {1, 0, 1, 0, 0, 0});
  CHECK(run("gt").type.dtype == DType::boolean);
  std::map<std::string, Tensor> pq = {{"p", T(DType::boolean, {4}, {0, 0, 1, 1})}, {"q", T(DType::boolean, {4}, {0, 1, 0, 1})}};
  check_values(eval1("  input p: bool[4]\n  input q: bool[4]\n  y = logical_and(p, q)\n  output y\n", pq), {0, 0, 0, 1});
  check_values(eval1("  input p: bool[4]\n  input q: bool[4]\n  y = logical_or(p, q)\n  output y\n", pq), {0, 1, 1, 1});
  // Integers: C division (toward zero), x/0 = 0.
  std::map<std::string, Tensor> mn = {{"m", T(DType::i64, {4}, {7, -7, 5, 3})}, {"n", T(DType::i64, {4}, {2, 2, 0, -2})}};
  auto q = eval1("  input m: i64[4]\n  input n: i64[4]\n  y = div(m, n)\n  output y\n", mn);
  CHECK(q.type.dtype == DType::i64);
  check_values(q, {3, -3, 0, -1});
  // f16 with f32 computes in f32; f16 with f16 stores f16.
  std::map<std::string, Tensor> hh = {{"h", T(DType::f16, {1}, {1})}, {"k", T(DType::f16, {1}, {0x1p-11})}};
  auto sum16 = eval1("  input h: f16[1]\n  input k: f16[1]\n  y = add(h, k)\n  output y\n", hh);
  check_values(sum16, {1.0}, 0);  // 1 + 2^-11 rounds to even: 1
  std::map<std::string, Tensor> hf = {{"h", T(DType::f16, {1}, {1})}, {"f", F({1}, {0x1p-11})}};
  auto mixed = eval1("  input h: f16[1]\n  input f: f32[1]\n  y = add(h, f)\n  output y\n", hf);
  CHECK(mixed.type.dtype == DType::f32);
  check_values(mixed, {1.0 + 0x1p-11}, 0);
}

TEST_CASE("where, cast and constants") {
  std::map<std::string, Tensor> in = {{"c", T(DType::boolean, {2, 2}, {1, 0, 0, 1})}, {"x", F({2, 2}, {1.7, -2.5, 3.2, 70000})}};
  auto w = eval1(
      "  input c: bool[2, 2]\n  input x: f32[2, 2]\n  z = constant() {value=-1.5} : f32[]\n  y = where(c, x, z)\n  output y\n",
      in);
  check_values(w, {1.7, -1.5, -1.5, 70000}, 1e-6);
  auto h = eval1("  input x: f32[2, 2]\n  y = cast(x) {to=f16}\n  output y\n", {{"x", in["x"]}});
  CHECK(h.type.dtype == DType::f16);
  CHECK(h.data[0] == double(f16_bits_to_f32(f32_to_f16_bits(1.7f))));
  CHECK(std::isinf(h.data[3]));  // beyond f16's range
  check_values(eval1("  input x: f32[2, 2]\n  y = cast(x) {to=i32}\n  output y\n", {{"x", in["x"]}}), {1, -2, 3, 70000});
  check_values(eval1("  input x: f32[2, 2]\n  y = cast(x) {to=bool}\n  output y\n", {{"x", F({2, 2}, {0, -2, 0, 1})}}), {0, 1, 0, 1});
  check_values(eval1("  y = constant() {value=0.1} : bf16[3]\n  output y\n", {}),
               std::vector<double>(3, double(bf16_bits_to_f32(f32_to_bf16_bits(0.1f)))), 0);
}

TEST_CASE("views: permute, slice, reshape, expand") {
  std::map<std::string, Tensor> in = {{"x", F({2, 3}, {0, 1, 2, 3, 4, 5})}};
  const std::string decl = "  input x: f32[2, 3]\n";
  check_values(eval1(decl + "  y = permute(x) {perm=[1, 0]}\n  output y\n", in), {0, 3, 1, 4, 2, 5});
  check_values(eval1(decl + "  y = slice(x) {dim=1, start=0, end=3, step=2}\n  output y\n", in), {0, 2, 3, 5});
  check_values(eval1(decl + "  y = slice(x) {dim=-2, start=1, end=2}\n  output y\n", in), {3, 4, 5});
  auto r = eval1(decl + "  y = reshape(x) {shape=[3, -1]}\n  output y\n", in);
  CHECK(r.type.shape == Shape{3, 2});
  check_values(r, {0, 1, 2, 3, 4, 5});
  auto e = eval1("  input v: f32[2, 1]\n  y = expand(v) {shape=[2, 2, 3]}\n  output y\n", {{"v", F({2, 1}, {7, 8})}});
  check_values(e, {7, 7, 7, 8, 8, 8, 7, 7, 7, 8, 8, 8});
  // A view of a view: transpose then slice.
  check_values(eval1(decl + "  t = permute(x) {perm=[1, 0]}\n  y = slice(t) {dim=0, start=1, end=3}\n  output y\n", in),
               {1, 4, 2, 5});
}

TEST_CASE("reductions") {
  std::map<std::string, Tensor> in = {{"x", F({2, 3}, {1, -2, 3, 4, 5, -6})}};
  const std::string decl = "  input x: f32[2, 3]\n";
  auto run = [&](const std::string& op, const std::string& attrs) {
    return eval1(decl + "  y = " + op + "(x) " + attrs + "\n  output y\n", in);
  };
  auto s = run("sum", "{axes=[1], keepdim=true}");
  CHECK(s.type.shape == Shape{2, 1});
  check_values(s, {2, 3});
  check_values(run("sum", "{axes=[0]}"), {5, 3, -3});
  check_values(run("sum", "{axes=[0, 1]}"), {5});
  check_values(run("mean", "{axes=[-1]}"), {2.0 / 3, 1});
  check_values(run("amax", "{axes=[1]}"), {3, 5});
  check_values(run("amin", "{axes=[0]}"), {1, -2, -6});
  check_values(run("prod", "{axes=[1]}"), {-6, -120});
  auto b = eval1("  input c: bool[4]\n  y = sum(c) {axes=[0]}\n  output y\n", {{"c", T(DType::boolean, {4}, {1, 0, 1, 1})}});
  CHECK(b.type.dtype == DType::i64);
  check_values(b, {3});
  // f16 input: f32 accumulation, one rounding at the store.
  std::vector<double> many(4096, 1.0);
  auto h = eval1("  input h: f16[4096]\n  y = sum(h) {axes=[0]}\n  output y\n", {{"h", T(DType::f16, {4096}, many)}});
  check_values(h, {4096}, 0);  // an f16 accumulator would stick at 2048 (1 is half an ulp there)
}

TEST_CASE("templates: mm, bmm, addmm with f32 accumulation") {
  std::map<std::string, Tensor> in = {{"a", F({2, 3}, {1, 2, 3, 4, 5, 6})}, {"b", F({3, 2}, {7, 8, 9, 10, 11, 12})},
                                      {"bias", F({2}, {0.5, -1})}};
  const std::string decl = "  input a: f32[2, 3]\n  input b: f32[3, 2]\n  input bias: f32[2]\n";
  check_values(eval1(decl + "  y = mm(a, b)\n  output y\n", in), {58, 64, 139, 154});
  check_values(eval1(decl + "  y = addmm(bias, a, b)\n  output y\n", in), {58.5, 63, 139.5, 153});
  auto bm = eval1("  input p: f32[2, 1, 2]\n  input q: f32[2, 2, 1]\n  y = bmm(p, q)\n  output y\n",
                  {{"p", F({2, 1, 2}, {1, 2, 3, 4})}, {"q", F({2, 2, 1}, {5, 6, 7, 8})}});
  CHECK(bm.type.shape == Shape{2, 1, 1});
  check_values(bm, {17, 53});
  // f16 operands: products summed in f32, the result rounded once to f16.
  auto h = eval1("  input a: f16[1, 3]\n  input b: f16[3, 1]\n  y = mm(a, b)\n  output y\n",
                 {{"a", T(DType::f16, {1, 3}, {1, 1, 1})}, {"b", T(DType::f16, {3, 1}, {2048, 1, 1})}});
  CHECK(h.type.dtype == DType::f16);
  check_values(h, {2050}, 0);  // 2048+1+1 in f32; an f16 accumulator would give 2048
}

TEST_CASE("mutation: readers before the write see old values, readers after see new ones") {
  auto reg = testing::test_registry();
  Graph g = parse(
      "graph t {\n"
      "  input mutable cache: f32[4, 2]\n"
      "  input idx: i64[2]\n"
      "  input rows: f32[2, 2]\n"
      "  before = sum(cache) {axes=[1]}\n"
      "  w = kv_cache_update(cache, idx, rows)\n"
      "  cache2 = mutation_output(w)\n"
      "  after = sum(cache2) {axes=[1]}\n"
      "  late_old = neg(before)\n"  // after the template in the text, still the old version
      "  output before, after, w, late_old\n"
      "}\n");
  std::map<std::string, Tensor> in = {{"cache", F({4, 2}, {1, 1, 2, 2, 3, 3, 4, 4})},
                                      {"idx", T(DType::i64, {2}, {3, 0})},
                                      {"rows", F({2, 2}, {10, 20, 30, 40})}};
  auto out = evaluate(g, in, reg);
  check_values(out.at("before"), {2, 4, 6, 8});
  check_values(out.at("after"), {70, 4, 6, 30});
  check_values(out.at("w"), {10, 20, 30, 40});
  check_values(out.at("late_old"), {-2, -4, -6, -8});
  // The mutated input's storage now holds the new version.
  check_values(in.at("cache"), {30, 40, 2, 2, 3, 3, 10, 20});
  check_values(in.at("rows"), {10, 20, 30, 40});  // inputs not written stay as given
}

TEST_CASE("mutation: chained writes, paired caches, accumulation, writes through a view") {
  SECTION("two writes in a row: the second writes the first's mutation output") {
    Graph g = parse(
        "graph t {\n"
        "  input mutable c: f32[3, 1]\n  input i: i64[1]\n  input j: i64[1]\n  input r: f32[1, 1]\n  input s: f32[1, 1]\n"
        "  w1 = kv_cache_update(c, i, r)\n  c1 = mutation_output(w1)\n"
        "  w2 = kv_cache_update(c1, j, s)\n  c2 = mutation_output(w2)\n"
        "  output c1, c2\n"
        "}\n");
    std::map<std::string, Tensor> in = {{"c", F({3, 1}, {0, 0, 0})}, {"i", T(DType::i64, {1}, {0})},
                                        {"j", T(DType::i64, {1}, {0})}, {"r", F({1, 1}, {5})}, {"s", F({1, 1}, {9})}};
    auto out = evaluate(g, in, reg());
    check_values(out.at("c1"), {5, 0, 0});
    check_values(out.at("c2"), {9, 0, 0});
    check_values(in.at("c"), {9, 0, 0});
  }
  SECTION("index_copy_pair writes both caches") {
    Graph g = parse(
        "graph t {\n"
        "  input mutable k: f32[2, 2]\n  input mutable v: f32[2, 2]\n  input i: i64[1]\n"
        "  input ks: f32[1, 2]\n  input vs: f32[1, 2]\n"
        "  w = kv_cache_update_pair(k, v, i, ks, vs)\n  k2 = mutation_output(w)\n  v2 = mutation_output(w) {input=1}\n"
        "  output w, k2, v2\n"
        "}\n");
    std::map<std::string, Tensor> in = {{"k", F({2, 2}, {0, 0, 0, 0})}, {"v", F({2, 2}, {1, 1, 1, 1})},
                                        {"i", T(DType::i64, {1}, {1})}, {"ks", F({1, 2}, {2, 3})}, {"vs", F({1, 2}, {4, 5})}};
    auto out = evaluate(g, in, reg());
    check_values(out.at("w"), {2, 3});
    check_values(out.at("k2"), {0, 0, 2, 3});
    check_values(out.at("v2"), {1, 1, 4, 5});
    check_values(in.at("k"), {0, 0, 2, 3});
    check_values(in.at("v"), {1, 1, 4, 5});
  }
  SECTION("gemm_accumulate: c += a @ b") {
    Graph g = parse(
        "graph t {\n"
        "  input mutable c: f32[1, 2]\n  input a: f32[1, 2]\n  input b: f32[2, 2]\n"
        "  acc = mm_accumulate(c, a, b)\n  c2 = mutation_output(acc)\n  output acc, c2\n"
        "}\n");
    std::map<std::string, Tensor> in = {{"c", F({1, 2}, {100, 200})}, {"a", F({1, 2}, {1, 2})}, {"b", F({2, 2}, {1, 2, 3, 4})}};
    auto out = evaluate(g, in, reg());
    check_values(out.at("acc"), {107, 210});
    check_values(out.at("c2"), {107, 210});
    check_values(in.at("c"), {107, 210});
  }
  SECTION("an extern writing a slice writes that part of the storage") {
    Graph g = parse(
        "graph t {\n"
        "  input mutable c: f32[4, 2]\n  input src: f32[2]\n"
        "  part = slice(c) {dim=0, start=1, end=3}\n"
        "  e = extern \"copy\"(part, src) {mutates=[0]} : f32[2, 2]\n  p2 = mutation_output(e)\n"
        "  output p2\n"
        "}\n");
    std::map<std::string, Tensor> in = {{"c", F({4, 2}, {0, 1, 2, 3, 4, 5, 6, 7})}, {"src", F({2}, {-1, -2})}};
    auto out = evaluate(g, in, reg());
    check_values(out.at("p2"), {-1, -2, -1, -2});
    check_values(in.at("c"), {0, 1, -1, -2, -1, -2, 6, 7});
  }
}

TEST_CASE("extern kernels: embedding, copy, unknown ones") {
  std::map<std::string, Tensor> in = {{"ids", T(DType::i64, {2, 2}, {2, 0, 1, 2})}, {"table", F({3, 2}, {0, 1, 10, 11, 20, 21})}};
  const std::string decl = "  input ids: i64[2, 2]\n  input table: f32[3, 2]\n";
  auto e = eval1(decl + "  y = extern \"embedding\"(ids, table) : f32[2, 2, 2]\n  output y\n", in);
  check_values(e, {20, 21, 0, 1, 10, 11, 20, 21});
  auto swapped = eval1(decl + "  y = extern \"embedding\"(table, ids) : f32[2, 2, 2]\n  output y\n", in);
  check_values(swapped, e.data);
  auto c = eval1("  input x: f32[2, 2]\n  y = extern \"copy\"(x) : f16[4]\n  output y\n", {{"x", F({2, 2}, {1, 2, 3, 0.1})}});
  check_values(c, {1, 2, 3, double(f16_bits_to_f32(f32_to_f16_bits(0.1f)))}, 0);
  CHECK_THROWS_WITH(eval1("  input x: f32[2]\n  y = extern \"fancy_norm\"(x) : f32[2]\n  output y\n", {{"x", F({2}, {1, 2})}}),
                    Contains("node 'y': extern kernel 'fancy_norm' is unknown to the interpreter (known: addmm_, copy, embedding, index_copy, index_copy_pair)"));
  auto bad_ids = in;
  bad_ids["ids"].data[1] = 3;
  CHECK_THROWS_WITH(eval1(decl + "  y = extern \"embedding\"(ids, table) : f32[2, 2, 2]\n  output y\n", bad_ids),
                    Contains("embedding id 3 out of range [0, 3)"));
  CHECK_THROWS_WITH(eval1(decl + "  y = extern \"embedding\"(ids, table) : f32[4, 2]\n  output y\n", in),
                    Contains("gives [2, 2, 2], annotated [4, 2]"));
  CHECK_THROWS_WITH(eval1("  input x: f32[2]\n  y = relu(x)\n  output y\n", {}), Contains("node 'x': no value given"));
}

TEST_CASE("random inputs are deterministic and shaped by their use") {
  Graph g = parse(
      "graph t {\n"
      "  input mutable cache: f16[64, 8]\n  input idx: i64[16]\n  input rows: f16[16, 8]\n"
      "  input ids: i32[100]\n  input table: f32[5, 3]\n  input n: i64[50]\n  input flag: bool[50]\n"
      "  w = kv_cache_update(cache, idx, rows)\n  c2 = mutation_output(w)\n"
      "  e = extern \"embedding\"(ids, table) : f32[100, 3]\n"
      "  output c2, e\n"
      "}\n");
  auto a = random_inputs(g, 7, reg());
  auto b = random_inputs(g, 7, reg());
  auto c = random_inputs(g, 8, reg());
  CHECK(a.at("cache").data == b.at("cache").data);
  CHECK(a.at("cache").data != c.at("cache").data);
  for (double v : a.at("rows").data) {
    CHECK(v >= -1);
    CHECK(v < 1);
    CHECK(v == round_to(DType::f16, v));
  }
  std::set<double> rows(a.at("idx").data.begin(), a.at("idx").data.end());
  CHECK(rows.size() == 16);  // distinct: index_copy writes are unambiguous
  CHECK(*rows.begin() >= 0);
  CHECK(*rows.rbegin() < 64);
  for (double v : a.at("ids").data) CHECK((v >= 0 && v < 5));
  for (double v : a.at("n").data) CHECK((v >= -8 && v < 8));
  for (double v : a.at("flag").data) CHECK((v == 0 || v == 1));
  // The inputs evaluate without error.
  auto out = evaluate(g, a, reg());
  CHECK(out.at("e").numel() == 300);
}

TEST_CASE("compare uses abs + rel * |reference| per element") {
  auto ref = F({3}, {1, 100, 0});
  Tolerance tol{0.01, 0.001};
  auto c = compare(F({3}, {1.005, 100.1, -0.009}), ref, tol);
  CHECK(c.ok);
  CHECK(c.max_abs == Approx(0.1));
  auto bad = compare(F({3}, {1, 100.2, 0}), ref, tol);
  CHECK_FALSE(bad.ok);
  CHECK(bad.worst_index == 1);
  auto nan = std::nan("");
  CHECK(compare(F({1}, {nan}), F({1}, {nan}), tol).ok);
  CHECK_FALSE(compare(F({1}, {nan}), F({1}, {1}), tol).ok);
  CHECK_FALSE(compare(F({2}, {1, 2}), F({1}, {1}), tol).ok);
  CHECK(tolerance_for(DType::i64).abs == 0);
  CHECK(tolerance_for(DType::f16).rel > tolerance_for(DType::f32).rel);
  CHECK(tolerance_for(DType::bf16).rel > tolerance_for(DType::f16).rel);
}

TEST_CASE("in-place externs: index_copy and addmm_ as torch exports them") {
  Graph g = parse(
      "graph t {\n"
      "  input mutable c: f32[3, 2]\n  input i: i64[1]\n  input s: f32[1, 2]\n"
      "  w = extern \"index_copy\"(c, i, s) {mutates=[0]} : f32[1, 2]\n  c2 = mutation_output(w) : f32[3, 2]\n"
      "  output w, c2\n"
      "}\n");
  std::map<std::string, Tensor> in = {{"c", F({3, 2}, {0, 0, 0, 0, 0, 0})}, {"i", T(DType::i64, {1}, {2})},
                                      {"s", F({1, 2}, {7, 8})}};
  auto out = evaluate(g, in, reg());
  check_values(out.at("w"), {7, 8});
  check_values(out.at("c2"), {0, 0, 0, 0, 7, 8});
  check_values(in.at("c"), {0, 0, 0, 0, 7, 8});
  Graph g2 = parse(
      "graph t {\n"
      "  input mutable c: f32[2, 2]\n  input a: f32[2, 1]\n  input b: f32[1, 2]\n"
      "  w = extern \"addmm_\"(c, a, b) {mutates=[0]} : f32[2, 2]\n  c2 = mutation_output(w) : f32[2, 2]\n"
      "  output c2\n"
      "}\n");
  std::map<std::string, Tensor> in2 = {{"c", F({2, 2}, {1, 1, 1, 1})}, {"a", F({2, 1}, {1, 2})}, {"b", F({1, 2}, {3, 4})}};
  auto out2 = evaluate(g2, in2, reg());
  check_values(out2.at("c2"), {4, 5, 7, 9});
  check_values(in2.at("c"), {4, 5, 7, 9});
}
