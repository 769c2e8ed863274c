// Graph text: round trips on every example, data-driven malformed inputs
// (bad/NAME.graph beside bad/NAME.expected: the exact rendered diagnostics),
// and the details of the canonical form.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "egfuse/graph_text.hpp"
#include "egfuse/rule_ast.hpp"
#include "egfuse/templates.hpp"
#include "tests/graph_text/test_registry.hpp"

using namespace egfuse;
namespace fs = std::filesystem;

namespace {
fs::path source_root() {
  const char* r = std::getenv("EGFUSE_SOURCE_ROOT");
  return r ? fs::path(r) : fs::path(".");
}

std::string read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<fs::path> files_in(const fs::path& dir, const std::string& ext) {
  std::vector<fs::path> out;
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ext) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// Canonical text keeps everything but whole-line comments.
std::string without_comment_lines(const std::string& text) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) {
    auto first = line.find_first_not_of(" \t");
    if (first != std::string::npos && line[first] == '#') continue;
    out += line + "\n";
  }
  return out;
}

Graph parse_ok(const std::string& text, const TemplateRegistry& reg = TemplateRegistry::builtin()) {
  Diagnostics d;
  auto g = parse_graph("test.graph", text, reg, d);
  INFO(d.render());
  REQUIRE(g);
  CHECK(d.all().empty());
  return std::move(*g);
}

std::string parse_error(const std::string& text) {
  Diagnostics d;
  auto g = parse_graph("t.graph", text, TemplateRegistry::builtin(), d);
  CHECK_FALSE(g);
  return d.render();
}
}  // namespace

TEST_CASE("every example round-trips byte for byte and verifies") {
  auto reg = testing::test_registry();
  auto examples = files_in(source_root() / "examples", ".graph");
  CHECK(examples.size() >= 8);
  for (auto& p : examples) {
    INFO(p.string());
    std::string text = read(p);
    Diagnostics d;
    auto g = parse_graph(p.string(), text, reg, d);
    INFO(d.render());
    REQUIRE(g);
    CHECK(verify(*g, reg, d));
    std::string printed = print_graph(*g);
    CHECK(printed == without_comment_lines(text));
    // The printed form is itself canonical.
    auto again = parse_graph("again.graph", printed, reg, d);
    REQUIRE(again);
    CHECK(print_graph(*again) == printed);
    CHECK(again->size() == g->size());
  }
}

TEST_CASE("examples use the template kinds the standard rules declare") {
  TemplateRegistry reg = TemplateRegistry::builtin();
  Diagnostics d;
  rules::RuleSet set = rules::load_rules(rules::standard_rule_files(), d);
  set.register_templates(reg, d);
  INFO(d.render());
  REQUIRE_FALSE(d.has_errors());
  for (auto& p : files_in(source_root() / "examples", ".graph")) {
    INFO(p.string());
    auto g = load_graph(p.string(), reg, d);
    INFO(d.render());
    REQUIRE(g);
    CHECK(verify(*g, reg, d));
  }
}

TEST_CASE("malformed inputs report the exact position and message") {
  auto dir = source_root() / "tests" / "graph_text" / "bad";
  auto cases = files_in(dir, ".graph");
  CHECK(cases.size() >= 20);
  for (auto& p : cases) {
    std::string name = p.filename().string();
    INFO(name);
    fs::path expected_path = p;
    expected_path.replace_extension(".expected");
    REQUIRE(fs::exists(expected_path));
    Diagnostics d;
    auto g = parse_graph(name, read(p), testing::test_registry(), d);
    CHECK_FALSE(g);
    CHECK(d.has_errors());
    d.sort();
    CHECK(d.render() == read(expected_path));
  }
}

TEST_CASE("node names, spans and outputs come from the text") {
  Graph g = parse_ok(
      "graph g {\n"
      "  input x: f32[4, 8]\n"
      "  input w: f32[8, 2]\n"
      "  product = mm(x, w)\n"
      "  out = relu(product)\n"
      "  output result = out, product\n"
      "}\n");
  CHECK(g.name == "g");
  REQUIRE(g.find("product"));
  const Node& t = g[*g.find("product")];
  CHECK(t.op == Op::template_);
  CHECK(std::get<TemplateAttrs>(t.attrs).kind == "mm");
  CHECK(t.type.shape == Shape{4, 2});
  CHECK(t.span.line == 4);
  CHECK(t.span.col == 3);
  CHECK(t.span.length == 7);
  REQUIRE(g.outputs.size() == 2);
  CHECK(g.outputs[0].name == "result");
  CHECK(g.outputs[0].node == *g.find("out"));
  CHECK(g.outputs[1].name == "product");
  CHECK(print_graph(g) ==
        "graph g {\n"
        "  input x: f32[4, 8]\n"
        "  input w: f32[8, 2]\n"
        "  product = mm(x, w) : f32[4, 2]\n"
        "  out = relu(product) : f32[4, 2]\n"
        "  output result = out, product\n"
        "}\n");
}

TEST_CASE("free spacing, comments and missing types normalize to the canonical form") {
  Graph g = parse_ok(
      "# leading comment\n"
      "\n"
      "graph   g{   # trailing comment\n"
      "\tinput   mutable   c :f32[ 4 ,8 ]\n"
      "  input mutable: f32[8]\n"
      "  s=sum( c ){ keepdim = true ,axes=[ -1 ] }\n"
      "  k = constant() {value=2} : f32[]\n"
      "  m = mul(s, k)   :   f32[4, 1]   # checked against inference\n"
      "\n"
      "  output m\n"
      "  output   mutable\n"
      "}   \n"
      "# after\n");
  CHECK(print_graph(g) ==
        "graph g {\n"
        "  input mutable c: f32[4, 8]\n"
        "  input mutable: f32[8]\n"
        "  s = sum(c) {axes=[-1], keepdim=true} : f32[4, 1]\n"
        "  k = constant() {value=2.0} : f32[]\n"
        "  m = mul(s, k) : f32[4, 1]\n"
        "  output m, mutable\n"
        "}\n");
  CHECK(std::get<InputAttrs>(g[0].attrs).is_mutable);
  CHECK_FALSE(std::get<InputAttrs>(g[1].attrs).is_mutable);
}

TEST_CASE("inputs, outputs and values may be named like keywords") {
  Graph g = parse_ok(
      "graph graph {\n"
      "  input input: f32[2]\n"
      "  output = neg(input) : f32[2]\n"
      "  extern = exp(output) : f32[2]\n"
      "  output extern, output\n"
      "}\n");
  CHECK(g.size() == 3);
  CHECK(print_graph(g) ==
        "graph graph {\n"
        "  input input: f32[2]\n"
        "  output = neg(input) : f32[2]\n"
        "  extern = exp(output) : f32[2]\n"
        "  output extern, output\n"
        "}\n");
}

TEST_CASE("templates, mutation outputs and externs round-trip") {
  auto reg = testing::test_registry();
  const std::string text =
      "graph kv {\n"
      "  input mutable k: f32[16, 8]\n"
      "  input mutable v: f32[16, 8]\n"
      "  input idx: i64[2]\n"
      "  input ks: f32[2, 8]\n"
      "  input vs: f32[2, 8]\n"
      "  w = kv_cache_update_pair(k, v, idx, ks, vs) : f32[2, 8]\n"
      "  k2 = mutation_output(w) : f32[16, 8]\n"
      "  v2 = mutation_output(w) {input=1} : f32[16, 8]\n"
      "  e = extern \"copy\"(v2, ks) {mutates=[0]} : f32[16, 8]\n"
      "  v3 = mutation_output(e) : f32[16, 8]\n"
      "  n = extern \"my \\\"odd\\\" kernel\"(k2) : bf16[3]\n"
      "  output k2, v3, n\n"
      "}\n";
  Graph g = parse_ok(text, reg);
  CHECK(print_graph(g) == text);
  NodeId w = *g.find("w");
  CHECK(mutation_outputs(g, w) == std::vector<NodeId>{*g.find("k2"), *g.find("v2")});
  const auto& e = std::get<ExternAttrs>(g[*g.find("e")].attrs);
  CHECK(e.kernel == "copy");
  CHECK(e.mutates == std::vector<int64_t>{0});
  CHECK(std::get<ExternAttrs>(g[*g.find("n")].attrs).kernel == "my \"odd\" kernel");
  CHECK(storage_root(g, *g.find("v3")) == *g.find("v"));
  Diagnostics d;
  CHECK(verify(g, reg, d));
}

TEST_CASE("strided inputs, views and special numbers round-trip") {
  const std::string text =
      "graph views {\n"
      "  input x: f32[4, 8] strides [1, 4] offset 2\n"
      "  input c: bool[4, 8]\n"
      "  t = permute(x) {perm=[1, 0]} : f32[8, 4]\n"
      "  s = slice(t) {dim=1, start=1, end=4, step=2} : f32[8, 2]\n"
      "  r = reshape(s) {shape=[2, -1]} : f32[2, 8]\n"
      "  e = expand(r) {shape=[3, 2, 8]} : f32[3, 2, 8]\n"
      "  big = constant() {value=1e+20} : f16[]\n"
      "  ninf = constant() {value=-inf} : f32[]\n"
      "  half = constant() {value=0.5} : bf16[2]\n"
      "  w = where(c, x, ninf) : f32[4, 8]\n"
      "  output e, w, big, half\n"
      "}\n";
  Graph g = parse_ok(text);
  CHECK(print_graph(g) == text);
  CHECK(g[0].type.strides == std::vector<int64_t>{1, 4});
  CHECK(g[0].type.offset == 2);
  CHECK(std::get<ConstantAttrs>(g[*g.find("ninf")].attrs).value == -std::numeric_limits<double>::infinity());
}

TEST_CASE("a graph built with the Builder prints and parses back to the same text") {
  auto reg = testing::test_registry();
  Graph g;
  g.name = "built";
  Builder b(g, reg);
  auto cache = b.input("cache", TensorType{DType::f16, {8, 4}, {}, 0}, true);
  auto idx = b.input("idx", TensorType{DType::i64, {2}, {}, 0});
  auto src = b.input("src", TensorType{DType::f16, {2, 4}, {}, 0});
  auto t = b.templ("kv_cache_update", {cache, idx, src});
  auto m = mutation_outputs(g, t).at(0);
  auto s = b.reduce(Op::amax, m, {0}, true);
  b.output(b.cast(s, DType::f32), "out");
  std::string text = print_graph(g);
  Graph back = parse_ok(text, reg);
  CHECK(print_graph(back) == text);
  CHECK(back.size() == g.size());
  CHECK(back[m].name == g[m].name);
}

TEST_CASE("all semantic errors of a file are reported, in order") {
  std::string r = parse_error(
      "graph g {\n"
      "  input x: f32[4]\n"
      "  a = relu(nope)\n"
      "  b = relu(a)\n"  // depends on a failed value: not reported again
      "  c = mm(x, x)\n"
      "  output b, c\n"
      "}\n");
  CHECK(r.find("t.graph:3:12: error: unknown value 'nope'") != std::string::npos);
  CHECK(r.find("t.graph:5:7: error: 'c': mm: input 'a' must have rank 2") != std::string::npos);
  CHECK(r.find("'a'") != std::string::npos);
  CHECK(r.find("relu(a)") == std::string::npos);
}

TEST_CASE("extern attributes that belong to the head or the type are refused") {
  std::string r = parse_error(
      "graph g {\n"
      "  input x: f32[4]\n"
      "  e = extern \"copy\"(x) {kernel=\"copy\"} : f32[4]\n"
      "}\n");
  CHECK(r.find("t.graph:3:25: error: extern attribute 'kernel' is written in the head and type") != std::string::npos);
}

TEST_CASE("load_graph reports an unreadable file as a diagnostic") {
  Diagnostics d;
  CHECK_FALSE(load_graph("/nonexistent/x.graph", TemplateRegistry::builtin(), d));
  CHECK(d.render() == "/nonexistent/x.graph: error: cannot read the file [E-io]\n");
}
