// Unit tests of the .pt2 importer on small synthetic programs and archives:
// lowerings checked numerically against direct computations, extern fallback
// with one warning, in-place mutation of buffers, and bad files (not a zip,
// wrong schema version, truncated, unknown dtype or argument).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <zip.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "egfuse/import.hpp"
#include "egfuse/templates.hpp"

using namespace egfuse;
using json = nlohmann::json;

namespace {

// ---------------------------------------------------------------- building programs
json meta(int dtype, const Shape& s) {
  json sizes = json::array(), strides = json::array();
  auto st = contiguous_strides(s);
  for (size_t i = 0; i < s.size(); ++i) sizes.push_back({{"as_int", s[i]}}), strides.push_back({{"as_int", st[i]}});
  return {{"dtype", dtype}, {"sizes", sizes}, {"requires_grad", false}, {"device", {{"type", "cpu"}, {"index", nullptr}}},
          {"strides", strides}, {"storage_offset", {{"as_int", 0}}}, {"layout", 7}};
}
json T(const std::string& name) { return {{"as_tensor", {{"name", name}}}}; }
json I(int64_t v) { return {{"as_int", v}}; }
json F(double v) { return {{"as_float", v}}; }
json Is(std::vector<int64_t> v) { return {{"as_ints", v}}; }
json B(bool v) { return {{"as_bool", v}}; }

constexpr int f32 = 7, i64 = 5;

struct ProgramBuilder {
  json nodes = json::array(), tv = json::object(), inputs = json::array(), outputs = json::array();
  json in_specs = json::array(), out_specs = json::array();
  int major = 8, minor = 17;

  void param(const std::string& name, const std::string& target, const Shape& s, bool buffer = false) {
    tv[name] = meta(f32, s);
    inputs.push_back(T(name));
    if (buffer)
      in_specs.push_back({{"buffer", {{"arg", {{"name", name}}}, {"buffer_name", target}, {"persistent", true}}}});
    else
      in_specs.push_back({{"parameter", {{"arg", {{"name", name}}}, {"parameter_name", target}}}});
  }
  void user_input(const std::string& name, int dtype, const Shape& s) {
    tv[name] = meta(dtype, s);
    inputs.push_back(T(name));
    in_specs.push_back({{"user_input", {{"arg", T(name)}}}});
  }
  // args: {name, Argument}
  void node(const std::string& target, std::vector<std::pair<std::string, json>> args, const std::string& out, int dtype,
            const Shape& s) {
    json in = json::array();
    for (auto& [n, a] : args) in.push_back({{"name", n}, {"arg", a}, {"kind", 1}});
    json outs = json::array();
    if (!out.empty()) {
      outs.push_back(T(out));
      tv[out] = meta(dtype, s);
    }
    nodes.push_back({{"target", "torch.ops." + target}, {"inputs", in}, {"outputs", outs}, {"metadata", json::object()},
                     {"name", out.empty() ? "n" + std::to_string(nodes.size()) : out}});
  }
  void output(const std::string& name) {
    outputs.push_back(T(name));
    out_specs.push_back({{"user_output", {{"arg", T(name)}}}});
  }
  std::string text() const {
    json g = {{"inputs", inputs}, {"outputs", outputs}, {"nodes", nodes}, {"tensor_values", tv},
              {"sym_int_values", json::object()}, {"sym_bool_values", json::object()}, {"is_single_tensor_return", false},
              {"custom_obj_values", json::object()}, {"sym_float_values", json::object()}};
    json j = {{"graph_module", {{"graph", g}, {"signature", {{"input_specs", in_specs}, {"output_specs", out_specs}}},
                                {"module_call_graph", json::array()}, {"metadata", json::object()}}},
              {"opset_version", {{"aten", 10}}}, {"range_constraints", json::object()},
              {"schema_version", {{"major", major}, {"minor", minor}}}, {"verifiers", {"TRAINING"}},
              {"torch_version", "2.11.0+cu130"}, {"guards_code", json::array()}};
    return j.dump();
  }
};

ImportedProgram import_text(const std::string& text, Diagnostics& d) {
  return import_pt2_json(text, "model.json", TemplateRegistry::builtin(), d);
}

bool has_code(const Diagnostics& d, const std::string& code, const std::string& text = "") {
  for (auto& x : d.all())
    if (x.code == code && x.message.find(text) != std::string::npos) return true;
  return false;
}

Tensor random_tensor(DType dt, const Shape& s, uint32_t seed, double lo = -1, double hi = 1) {
  Tensor t;
  t.type = TensorType{dt, s, {}, 0};
  int64_t n = 1;
  for (auto v : s) n *= v;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  t.data.resize(size_t(n));
  for (auto& v : t.data) v = dt == DType::f32 ? double(float(u(rng))) : std::floor(u(rng));
  return t;
}

std::map<std::string, Tensor> run(ImportedProgram& p, std::map<std::string, Tensor> user) {
  std::map<std::string, Tensor> in = p.weights;
  for (auto& [k, v] : user) in[k] = v;
  Diagnostics vd;
  bool ok = verify(p.graph, TemplateRegistry::builtin(), vd);
  INFO(vd.render());
  REQUIRE(ok);
  return evaluate(p.graph, in, TemplateRegistry::builtin());
}

int count_op(const Graph& g, Op op) {
  int c = 0;
  for (auto& n : g.nodes) c += n.op == op;
  return c;
}

// ---------------------------------------------------------------- archives
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() / ("egfuse_import_" + std::to_string(::getpid()) + "_" +
                                                     std::to_string(std::random_device{}()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& n) const { return (path / n).string(); }
};

void write_zip(const std::string& path, const std::map<std::string, std::string>& entries) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  REQUIRE(z);
  std::vector<std::string> keep;
  keep.reserve(entries.size());
  for (auto& [name, data] : entries) {
    keep.push_back(data);
    zip_source_t* s = zip_source_buffer(z, keep.back().data(), keep.back().size(), 0);
    REQUIRE(zip_file_add(z, name.c_str(), s, ZIP_FL_OVERWRITE) >= 0);
  }
  REQUIRE(zip_close(z) == 0);
}

std::string floats_bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// A linear layer x[2,3] @ w[4,3]^T + b[4], relu, softmax over the last dim.
ProgramBuilder linear_program() {
  ProgramBuilder pb;
  pb.param("p_w", "fc.weight", {4, 3});
  pb.param("p_b", "fc.bias", {4});
  pb.user_input("x", f32, {2, 3});
  pb.node("aten.linear.default", {{"input", T("x")}, {"weight", T("p_w")}, {"bias", T("p_b")}}, "linear", f32, {2, 4});
  pb.node("aten.relu.default", {{"self", T("linear")}}, "relu", f32, {2, 4});
  pb.node("aten.softmax.int", {{"self", T("relu")}, {"dim", I(-1)}}, "softmax", f32, {2, 4});
  pb.output("softmax");
  return pb;
}

std::map<std::string, std::string> linear_archive(const std::vector<float>& w, const std::vector<float>& b) {
  json cfg = {{"config",
               {{"fc.weight", {{"path_name", "weight_0"}, {"is_param", true}, {"use_pickle", false}, {"tensor_meta", meta(f32, {4, 3})}}},
                {"fc.bias", {{"path_name", "weight_1"}, {"is_param", true}, {"use_pickle", false}, {"tensor_meta", meta(f32, {4})}}}}}};
  return {{"m/models/model.json", linear_program().text()},
          {"m/data/weights/model_weights_config.json", cfg.dump()},
          {"m/data/weights/weight_0", floats_bytes(w)},
          {"m/data/weights/weight_1", floats_bytes(b)},
          {"m/data/constants/model_constants_config.json", "{\"config\": {}}"},
          {"m/archive_format", "pt2"},
          {"m/byteorder", "little"}};
}

}  // namespace

// ================================================================ lowerings
TEST_CASE("linear + relu + softmax lower to an addmm template and compute the right values", "[import]") {
  Diagnostics d;
  ImportedProgram p = import_text(linear_program().text(), d);
  INFO(d.render());
  REQUIRE_FALSE(d.has_errors());
  CHECK(p.extern_ops.empty());
  CHECK(p.user_inputs == std::vector<std::string>{"x"});
  CHECK(count_op(p.graph, Op::template_) == 1);
  // node names follow the torch values they compute
  REQUIRE(p.graph.find("linear"));
  CHECK(p.graph[*p.graph.find("linear")].op == Op::template_);
  Tensor w = random_tensor(DType::f32, {4, 3}, 1), b = random_tensor(DType::f32, {4}, 2), x = random_tensor(DType::f32, {2, 3}, 3);
  p.weights["p_w"] = w;
  p.weights["p_b"] = b;
  auto out = run(p, {{"x", x}});
  const Tensor& y = out.at("softmax");
  for (int r = 0; r < 2; ++r) {
    double z[4], sum = 0, mx = 0;
    for (int o = 0; o < 4; ++o) {
      double acc = b.data[size_t(o)];
      for (int k = 0; k < 3; ++k) acc += x.data[size_t(r * 3 + k)] * w.data[size_t(o * 3 + k)];
      z[o] = std::max(acc, 0.0);
      mx = std::max(mx, z[o]);
    }
    for (double& v : z) sum += v = std::exp(v - mx);
    for (int o = 0; o < 4; ++o) CHECK(y.data[size_t(r * 4 + o)] == Approx(z[o] / sum).margin(1e-6));
  }
}

TEST_CASE("conv2d with padding, stride and groups matches a direct convolution", "[import]") {
  // x [1, 4, 5, 6], w [6, 2, 3, 3] (groups 2), stride (2, 1), padding (1, 2) -> [1, 6, 3, 8]
  ProgramBuilder pb;
  pb.param("p_w", "conv.weight", {6, 2, 3, 3});
  pb.param("p_b", "conv.bias", {6});
  pb.user_input("x", f32, {1, 4, 5, 6});
  pb.node("aten.conv2d.default",
          {{"input", T("x")}, {"weight", T("p_w")}, {"bias", T("p_b")}, {"stride", Is({2, 1})}, {"padding", Is({1, 2})},
           {"dilation", Is({1, 1})}, {"groups", I(2)}},
          "conv", f32, {1, 6, 3, 8});
  pb.node("aten.max_pool2d.default", {{"self", T("conv")}, {"kernel_size", Is({3, 3})}, {"stride", Is({2, 2})}, {"padding", Is({1, 1})}},
          "pool", f32, {1, 6, 2, 4});
  pb.output("conv");
  pb.output("pool");
  Diagnostics d;
  ImportedProgram p = import_text(pb.text(), d);
  INFO(d.render());
  REQUIRE_FALSE(d.has_errors());
  CHECK(p.extern_ops.empty());
  Tensor w = random_tensor(DType::f32, {6, 2, 3, 3}, 4), b = random_tensor(DType::f32, {6}, 5);
  Tensor x = random_tensor(DType::f32, {1, 4, 5, 6}, 6);
  p.weights["p_w"] = w, p.weights["p_b"] = b;
  auto out = run(p, {{"x", x}});
  const Tensor& y = out.at("conv");
  auto X = [&](int c, int h, int ww) { return h < 0 || h >= 5 || ww < 0 || ww >= 6 ? 0.0 : x.data[size_t((c * 5 + h) * 6 + ww)]; };
  std::vector<double> ref(6 * 3 * 8);
  for (int co = 0; co < 6; ++co)
    for (int oh = 0; oh < 3; ++oh)
      for (int ow = 0; ow < 8; ++ow) {
        double acc = b.data[size_t(co)];
        int g = co / 3;
        for (int ci = 0; ci < 2; ++ci)
          for (int i = 0; i < 3; ++i)
            for (int j = 0; j < 3; ++j)
              acc += w.data[size_t(((co * 2 + ci) * 3 + i) * 3 + j)] * X(g * 2 + ci, oh * 2 - 1 + i, ow - 2 + j);
        ref[size_t((co * 3 + oh) * 8 + ow)] = acc;
        CHECK(y.data[size_t((co * 3 + oh) * 8 + ow)] == Approx(acc).margin(1e-5));
      }
  const Tensor& pool = out.at("pool");
  for (int c = 0; c < 6; ++c)
    for (int oh = 0; oh < 2; ++oh)
      for (int ow = 0; ow < 4; ++ow) {
        double m = -1e300;
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 3; ++j) {
            int h = oh * 2 - 1 + i, ww = ow * 2 - 1 + j;
            if (h >= 0 && h < 3 && ww >= 0 && ww < 8) m = std::max(m, ref[size_t((c * 3 + h) * 8 + ww)]);
          }
        CHECK(pool.data[size_t((c * 2 + oh) * 4 + ow)] == Approx(m).margin(1e-5));
      }
}

TEST_CASE("cat of unequal parts, cumsum and layer_norm on run-time values stay pure IR", "[import]") {
  ProgramBuilder pb;
  pb.user_input("a", f32, {2, 3});
  pb.user_input("c", f32, {2, 2});
  pb.node("aten.cat.default", {{"tensors", {{"as_tensors", {{{"name", "a"}}, {{"name", "c"}}}}}}, {"dim", I(1)}}, "cat", f32, {2, 5});
  pb.node("aten.cumsum.default", {{"self", T("cat")}, {"dim", I(1)}}, "cumsum", f32, {2, 5});
  pb.node("aten.layer_norm.default", {{"input", T("cumsum")}, {"normalized_shape", Is({5})}, {"eps", F(1e-5)}}, "ln", f32, {2, 5});
  pb.output("cat");
  pb.output("cumsum");
  pb.output("ln");
  Diagnostics d;
  ImportedProgram p = import_text(pb.text(), d);
  INFO(d.render());
  REQUIRE_FALSE(d.has_errors());
  CHECK(count_op(p.graph, Op::extern_) == 0);
  Tensor a = random_tensor(DType::f32, {2, 3}, 7), c = random_tensor(DType::f32, {2, 2}, 8);
  auto out = run(p, {{"a", a}, {"c", c}});
  for (int r = 0; r < 2; ++r) {
    double row[5] = {a.data[size_t(r * 3)], a.data[size_t(r * 3 + 1)], a.data[size_t(r * 3 + 2)], c.data[size_t(r * 2)],
                     c.data[size_t(r * 2 + 1)]};
    double run_sum = 0, cs[5], mean = 0, var = 0;
    for (int k = 0; k < 5; ++k) {
      CHECK(out.at("cat").data[size_t(r * 5 + k)] == Approx(row[k]).margin(1e-7));
      cs[k] = run_sum += row[k];
      CHECK(out.at("cumsum").data[size_t(r * 5 + k)] == Approx(cs[k]).margin(1e-6));
      mean += cs[k] / 5;
    }
    for (double v : cs) var += (v - mean) * (v - mean) / 5;
    for (int k = 0; k < 5; ++k)
      CHECK(out.at("ln").data[size_t(r * 5 + k)] == Approx((cs[k] - mean) / std::sqrt(var + 1e-5)).margin(1e-4));
  }
}

TEST_CASE("values that depend on no input are folded at import time", "[import]") {
  // a causal mask built from arange, as transformers do, feeding an attention
  ProgramBuilder pb;
  pb.user_input("q", f32, {1, 2, 4, 8});
  pb.node("aten.arange.default", {{"end", I(4)}}, "ar", i64, {4});
  pb.node("aten.unsqueeze.default", {{"self", T("ar")}, {"dim", I(1)}}, "col", i64, {4, 1});
  pb.node("aten.le.Tensor", {{"self", T("ar")}, {"other", T("col")}}, "mask", 12, {4, 4});
  pb.node("aten.scaled_dot_product_attention.default",
          {{"query", T("q")}, {"key", T("q")}, {"value", T("q")}, {"attn_mask", T("mask")}}, "att", f32, {1, 2, 4, 8});
  pb.node("aten.scaled_dot_product_attention.default",
          {{"query", T("q")}, {"key", T("q")}, {"value", T("q")}, {"is_causal", B(true)}}, "att2", f32, {1, 2, 4, 8});
  pb.output("att");
  pb.output("att2");
  Diagnostics d;
  ImportedProgram p = import_text(pb.text(), d);
  INFO(d.render());
  REQUIRE_FALSE(d.has_errors());
  REQUIRE(p.weights.count("const_mask"));  // the folded mask is a constant input with data
  CHECK(p.weights.at("const_mask").data == std::vector<double>{1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1});
  CHECK(count_op(p.graph, Op::template_) == 4);  // two bmm per attention
  Tensor q = random_tensor(DType::f32, {1, 2, 4, 8}, 9);
  auto out = run(p, {{"q", q}});
  for (int h = 0; h < 2; ++h)
    for (int i = 0; i < 4; ++i) {
      double s[4], mx = -1e300, z = 0;
      for (int j = 0; j <= i; ++j) {
        s[j] = 0;
        for (int e = 0; e < 8; ++e) s[j] += q.data[size_t((h * 4 + i) * 8 + e)] * q.data[size_t((h * 4 + j) * 8 + e)];
        s[j] /= std::sqrt(8.0);
        mx = std::max(mx, s[j]);
      }
      for (int j = 0; j <= i; ++j) z += s[j] = std::exp(s[j] - mx);
      for (int e = 0; e < 8; ++e) {
        double o = 0;
        for (int j = 0; j <= i; ++j) o += s[j] / z * q.data[size_t((h * 4 + j) * 8 + e)];
        CHECK(out.at("att").data[size_t((h * 4 + i) * 8 + e)] == Approx(o).margin(1e-5));
        CHECK(out.at("att2").data[size_t((h * 4 + i) * 8 + e)] == Approx(o).margin(1e-5));
      }
    }
}

TEST_CASE("an in-place update of a buffer becomes a copy extern that mutates the input", "[import]") {
  ProgramBuilder pb;
  pb.param("b_count", "count", {3}, true);
  pb.user_input("x", f32, {3});
  pb.node("aten.add_.Tensor", {{"self", T("b_count")}, {"other", T("x")}}, "add_", f32, {3});
  pb.node("aten.mul.Tensor", {{"self", T("b_count")}, {"other", F(2.0)}}, "mul", f32, {3});
  pb.output("mul");
  pb.out_specs.push_back({{"buffer_mutation", {{"arg", {{"name", "add_"}}}, {"buffer_name", "count"}}}});
  Diagnostics d;
  ImportedProgram p = import_text(pb.text(), d);
  INFO(d.render());
  REQUIRE_FALSE(d.has_errors());
  NodeId buf = *p.graph.find("b_count");
  CHECK(std::get<InputAttrs>(p.graph[buf].attrs).is_mutable);
  CHECK(count_op(p.graph, Op::mutation_output) == 1);
  REQUIRE(p.graph.outputs.size() == 2);
  CHECK(p.graph.outputs[1].name == "mutated_b_count");
  Tensor cnt = random_tensor(DType::f32, {3}, 10), x = random_tensor(DType::f32, {3}, 11);
  p.weights["b_count"] = cnt;
  std::map<std::string, Tensor> in = p.weights;
  in["x"] = x;
  Diagnostics vd;
  REQUIRE(verify(p.graph, TemplateRegistry::builtin(), vd));
  auto out = evaluate(p.graph, in, TemplateRegistry::builtin());
  for (int i = 0; i < 3; ++i) {
    double nv = float(cnt.data[size_t(i)] + x.data[size_t(i)]);
    CHECK(out.at("mul").data[size_t(i)] == Approx(2 * nv).margin(1e-6));  // reads the new value
    CHECK(in.at("b_count").data[size_t(i)] == Approx(nv).margin(1e-6));   // the buffer was written
  }
}

TEST_CASE("unknown ops become extern kernels with one warning listing them", "[import]") {
  ProgramBuilder pb;
  pb.user_input("x", f32, {4});
  pb.node("aten.special_bessel_j0.default", {{"self", T("x")}}, "j0", f32, {4});
  pb.node("aten.special_bessel_j0.default", {{"self", T("j0")}}, "j0b", f32, {4});
  pb.node("aten.floor.default", {{"self", T("j0b")}}, "fl", f32, {4});
  pb.output("fl");
  Diagnostics d;
  ImportedProgram p = import_text(pb.text(), d);
  REQUIRE_FALSE(d.has_errors());
  CHECK(d.warning_count() == 1);
  REQUIRE(p.warnings.size() == 1);
  CHECK(p.warnings[0].find("aten.special_bessel_j0.default (2)") != std::string::npos);
  CHECK(p.warnings[0].find("aten.floor.default (1)") != std::string::npos);
  CHECK(p.extern_ops == std::vector<std::string>{"aten.floor.default", "aten.special_bessel_j0.default"});
  CHECK(count_op(p.graph, Op::extern_) == 3);
  Diagnostics vd;
  CHECK(verify(p.graph, TemplateRegistry::builtin(), vd));
}

// ================================================================ bad input
TEST_CASE("a file of another schema version is refused naming both versions", "[import][errors]") {
  ProgramBuilder pb = linear_program();
  pb.major = 7, pb.minor = 3;
  Diagnostics d;
  import_text(pb.text(), d);
  CHECK(has_code(d, "E-pt2-version", "version 7.3"));
  CHECK(has_code(d, "E-pt2-version", "supported: 8.x"));
}

TEST_CASE("malformed JSON, unknown dtypes and bad arguments get clear errors", "[import][errors]") {
  Diagnostics d1;
  import_text("{\"schema_version\": {\"major\": 8, ", d1);
  CHECK(has_code(d1, "E-pt2-json"));

  Diagnostics d2;
  import_text("{\"schema_version\": {\"major\": 8, \"minor\": 17}, \"graph_module\": {\"graph\": 3}}", d2);
  CHECK(has_code(d2, "E-pt2-schema", "graph_module.graph"));

  ProgramBuilder pb = linear_program();
  pb.tv["x"]["dtype"] = 10;  // complex64
  Diagnostics d3;
  import_text(pb.text(), d3);
  CHECK(has_code(d3, "E-pt2-dtype", "complex64"));

  ProgramBuilder pb4;
  pb4.user_input("x", f32, {4, 4});
  pb4.node("aten.slice.Tensor", {{"self", T("x")}, {"dim", {{"as_floats", {1.0}}}}, {"start", I(0)}, {"end", I(2)}}, "s", f32, {4, 2});
  pb4.output("s");
  Diagnostics d4;
  import_text(pb4.text(), d4);
  CHECK(has_code(d4, "E-pt2-arg", "argument 'dim': expected an int, got float list"));
  CHECK(has_code(d4, "E-pt2-arg", "node 's' (torch.ops.aten.slice.Tensor)"));

  ProgramBuilder pb5;
  pb5.user_input("x", f32, {4});
  pb5.node("aten.relu.default", {{"self", T("nowhere")}}, "r", f32, {4});
  pb5.output("r");
  Diagnostics d5;
  import_text(pb5.text(), d5);
  CHECK(has_code(d5, "E-pt2-undefined", "'nowhere'"));

  ProgramBuilder pb6 = linear_program();
  pb6.tv["x"]["sizes"][0] = {{"as_expr", {{"expr_str", "s0"}}}};
  Diagnostics d6;
  import_text(pb6.text(), d6);
  CHECK(has_code(d6, "E-pt2-dynamic"));
}

TEST_CASE("archives: weights are read; bad, truncated and incomplete files are refused", "[import][errors]") {
  TempDir tmp;
  std::vector<float> w = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, b = {0.5f, -1, 2, 0};
  auto entries = linear_archive(w, b);
  std::string good = tmp.file("good.pt2");
  write_zip(good, entries);
  CHECK(is_pt2_path(good));
  {
    Diagnostics d;
    ImportedProgram p = import_pt2(good, TemplateRegistry::builtin(), d);
    INFO(d.render());
    REQUIRE_FALSE(d.has_errors());
    REQUIRE(p.weights.count("p_w"));
    CHECK(p.weights.at("p_w").type.shape == Shape{4, 3});
    CHECK(p.weights.at("p_w").data == std::vector<double>(w.begin(), w.end()));
    CHECK(p.weights.at("p_b").data == std::vector<double>(b.begin(), b.end()));
    CHECK(p.schema_major == 8);
  }
  {  // not a zip
    std::string f = tmp.file("text.pt2");
    std::ofstream(f) << "this is not an archive";
    Diagnostics d;
    import_pt2(f, TemplateRegistry::builtin(), d);
    CHECK(has_code(d, "E-pt2-not-zip", "not a .pt2 archive"));
    CHECK_FALSE(is_pt2_path(tmp.file("text.txt")));
  }
  {  // truncated: every prefix is refused without a crash
    std::ifstream in(good, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (size_t cut : {size_t(10), bytes.size() / 3, bytes.size() / 2, bytes.size() - 30}) {
      std::string f = tmp.file("cut.pt2");
      std::ofstream(f, std::ios::binary) << bytes.substr(0, cut);
      Diagnostics d;
      import_pt2(f, TemplateRegistry::builtin(), d);
      INFO("cut at " << cut << ": " << d.render());
      CHECK(d.has_errors());
    }
  }
  {  // a weight file too short for its tensor
    auto e = entries;
    e["m/data/weights/weight_0"] = floats_bytes({1, 2, 3});
    std::string f = tmp.file("short.pt2");
    write_zip(f, e);
    Diagnostics d;
    import_pt2(f, TemplateRegistry::builtin(), d);
    CHECK(has_code(d, "E-pt2-weights", "weight_0"));
  }
  {  // no model.json
    auto e = entries;
    e.erase("m/models/model.json");
    std::string f = tmp.file("nomodel.pt2");
    write_zip(f, e);
    Diagnostics d;
    import_pt2(f, TemplateRegistry::builtin(), d);
    CHECK(has_code(d, "E-pt2-layout", "models/model.json"));
  }
  {  // an unsupported stored dtype
    auto e = entries;
    json cfg = json::parse(e["m/data/weights/model_weights_config.json"]);
    cfg["config"]["fc.bias"]["tensor_meta"]["dtype"] = 8;  // float64
    e["m/data/weights/model_weights_config.json"] = cfg.dump();
    std::string f = tmp.file("f64.pt2");
    write_zip(f, e);
    Diagnostics d;
    import_pt2(f, TemplateRegistry::builtin(), d);
    CHECK(has_code(d, "E-pt2-dtype", "float64"));
  }
  {  // a missing file
    Diagnostics d;
    import_pt2(tmp.file("absent.pt2"), TemplateRegistry::builtin(), d);
    CHECK(d.has_errors());
  }
}
