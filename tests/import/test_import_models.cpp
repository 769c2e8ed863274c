// The importer on real models: GPT-2, LLaMA and ResNet-18 (small configs)
// exported with torch 2.11 (../shared/models). Each must import without extern
// fallbacks, verify, and the interpreter's output on the imported graph must
// match torch's recorded output (tests/import/fixtures/*.ref).
// The .pt2 files are not in the repository: without ../shared/models the test
// is skipped (exit 77).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "egfuse/import.hpp"
#include "egfuse/templates.hpp"
#include "fixture.hpp"

using namespace egfuse;

namespace {

std::string source_root() {
  const char* r = std::getenv("EGFUSE_SOURCE_ROOT");
  return r ? r : ".";
}

std::string models_dir() {
  std::string d = source_root() + "/../shared/models";
  if (!std::filesystem::exists(d + "/gpt2_tiny.pt2")) {
    std::cout << "skipped: the model archives are not at " << d
              << " (they live beside the repository, in ../shared/models)\n";
    std::exit(77);
  }
  return d;
}

struct ModelCase {
  const char* name;
  const char* input;
  double abs_tol, rel_tol;
};

void check_model(const ModelCase& mc) {
  std::string dir = models_dir();
  test::ImportFixture fx;
  REQUIRE(test::read_fixture(source_root() + "/tests/import/fixtures/" + mc.name + ".ref", fx));
  Diagnostics diags;
  const TemplateRegistry& reg = TemplateRegistry::builtin();
  ImportedProgram p = import_pt2(dir + "/" + mc.name + ".pt2", reg, diags);
  INFO(diags.render());
  REQUIRE_FALSE(diags.has_errors());
  // op coverage: every aten op was lowered (no opaque fallbacks, no warning)
  CHECK(p.extern_ops.empty());
  CHECK(p.warnings.empty());
  CHECK(p.torch_version.rfind("2.11", 0) == 0);
  Diagnostics vd;
  bool ok = verify(p.graph, reg, vd);
  INFO(vd.render());
  REQUIRE(ok);
  // the user input and the output, with the recorded shapes
  REQUIRE(p.user_inputs == std::vector<std::string>{mc.input});
  REQUIRE(p.graph.outputs.size() == 1);
  const TensorType& ot = p.graph[p.graph.outputs[0].node].type;
  CHECK(ot.shape == fx.output_shape);
  CHECK(p.graph[*p.graph.find(mc.input)].type.shape == fx.input_shape);
  // every non-user input has data
  for (NodeId i : p.graph.inputs())
    if (p.graph[i].name != mc.input) CHECK(p.weights.count(p.graph[i].name) == 1);

  std::map<std::string, Tensor> inputs = p.weights;
  Tensor x = test::seeded_input(fx.input_dtype, fx.input_shape, fx.seed, fx.bound);
  for (size_t k = 0; k < fx.input_head.size(); ++k) REQUIRE(x.data[k] == fx.input_head[k]);
  inputs[mc.input] = x;
  auto outs = evaluate(p.graph, inputs, reg);
  const Tensor& y = outs.at(p.graph.outputs[0].name);
  REQUIRE(y.type.shape == fx.output_shape);

  double worst = 0;
  int64_t bad = 0;
  for (auto& [i, ref] : fx.samples) {
    double d = std::fabs(y.data[size_t(i)] - ref);
    worst = std::max(worst, d);
    if (d > mc.abs_tol + mc.rel_tol * std::fabs(ref)) ++bad;
  }
  double mean = 0;
  for (double v : y.data) mean += v;
  mean /= double(y.data.size());
  int64_t row = fx.output_shape.back(), argmax_same = 0;
  for (size_t r = 0; r < fx.argmax.size(); ++r) {
    int64_t best = 0;
    for (int64_t c = 1; c < row; ++c)
      if (y.data[r * size_t(row) + size_t(c)] > y.data[r * size_t(row) + size_t(best)]) best = c;
    argmax_same += best == fx.argmax[r];
  }
  std::cout << mc.name << ": " << fx.samples.size() << " samples, max |diff| " << worst << ", mean " << mean
            << " (torch " << fx.mean << "), argmax agrees on " << argmax_same << "/" << fx.argmax.size() << " rows, "
            << p.graph.size() << " nodes\n";
  CHECK(bad == 0);
  CHECK(std::fabs(mean - fx.mean) < mc.abs_tol);
  CHECK(argmax_same == int64_t(fx.argmax.size()));
}

}  // namespace

TEST_CASE("GPT-2 (tiny) imports and matches torch", "[import][model]") {
  check_model({"gpt2_tiny", "input_ids", 1e-4, 1e-4});
}
TEST_CASE("LLaMA (tiny) imports and matches torch", "[import][model]") {
  check_model({"llama_tiny", "input_ids", 1e-4, 1e-4});
}
TEST_CASE("ResNet-18 (half width) imports and matches torch", "[import][model]") {
  check_model({"resnet18_slim", "x", 1e-4, 1e-4});
}
