// Every example graph compiles with the standard rules to a valid plan whose
// results (outputs and mutated inputs) equal the graph's in the interpreter,
// as do the unfused plan's; fusion never adds kernels or bytes.
#include "tests/fusion/fusion_cases.hpp"

#include <catch2/catch.hpp>

#include <filesystem>

#include "egfuse/fusion.hpp"
#include "egfuse/graph_text.hpp"
#include "egfuse/interp.hpp"

using namespace egfuse;

namespace {
void check_same(const std::map<std::string, Tensor>& got, const std::map<std::string, Tensor>& want,
                const std::string& what) {
  for (auto& [name, ref] : want) {
    INFO(what << ": " << name);
    auto it = got.find(name);
    REQUIRE(it != got.end());
    auto c = compare(it->second, ref, tolerance_for(ref.type.dtype));
    CHECK(c.ok);
  }
}
}  // namespace

TEST_CASE("example graphs: plan results equal graph results") {
  std::string root = EGFUSE_SOURCE_ROOT_DIR;
  auto [rs, reg] = fusion_test::load_standard_rules();
  std::vector<std::string> files = fusion_test::graph_files(root + "/examples");
  REQUIRE(files.size() >= 5);
  for (auto& f : files) {
    INFO(f);
    Diagnostics gd;
    auto g = load_graph(f, reg, gd);
    INFO(gd.render());
    REQUIRE(g);
    REQUIRE(verify(*g, reg, gd));
    for (bool multi : {true, false}) {
      CompileOptions o;
      o.multi_output = multi;
      Diagnostics cd;
      auto r = compile_graph(*g, rs, reg, o, cd);
      INFO(cd.render());
      INFO(r.plan.to_text());
      REQUIRE(r.ok);
      CHECK(r.stats.kernels_after <= r.stats.kernels_before);
      CHECK(r.stats.bytes_after <= r.stats.bytes_before);
      auto inputs = random_inputs(*g, 7, reg);
      auto plan_inputs = inputs, unfused_inputs = inputs;
      auto want = evaluate(*g, inputs, reg);
      check_same(evaluate_plan(r.plan, plan_inputs, reg), want, "fused outputs");
      check_same(plan_inputs, inputs, "fused mutated inputs");
      check_same(evaluate_plan(r.unfused, unfused_inputs, reg), want, "unfused outputs");
      check_same(unfused_inputs, inputs, "unfused mutated inputs");
    }
  }
}
