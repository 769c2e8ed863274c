// Kernel-count parity with PyTorch Inductor: every graph in tests/fusion/parity
// states the number of kernels Inductor launches for it (and how that count is
// derived, tests/fusion/parity/README.md); egfuse's fused plan must have no
// more, and compute the graph's results in the interpreter.
#include "tests/fusion/fusion_cases.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <regex>

#include "egfuse/fusion.hpp"
#include "egfuse/graph_text.hpp"
#include "egfuse/interp.hpp"

using namespace egfuse;

TEST_CASE("parity: no more kernels than Inductor on the same program") {
  std::string dir = std::string(EGFUSE_SOURCE_ROOT_DIR) + "/tests/fusion/parity";
  auto [rs, reg] = fusion_test::load_standard_rules();
  std::vector<std::string> files = fusion_test::graph_files(dir);
  REQUIRE(files.size() >= 8);
  const std::regex count_line(R"(^#\s*inductor-kernels:\s*(\d+)\s*$)");
  for (auto& f : files) {
    INFO(f);
    std::ifstream in(f);
    std::string line;
    int inductor = -1;
    while (std::getline(in, line)) {
      std::smatch m;
      if (std::regex_match(line, m, count_line)) inductor = std::stoi(m[1]);
    }
    REQUIRE(inductor > 0);
    Diagnostics gd;
    auto g = load_graph(f, reg, gd);
    INFO(gd.render());
    REQUIRE(g);
    REQUIRE(verify(*g, reg, gd));
    Diagnostics cd;
    auto r = compile_graph(*g, rs, reg, CompileOptions{}, cd);
    INFO(cd.render());
    INFO(r.plan.to_text());
    REQUIRE(r.ok);
    CHECK(int(r.plan.kernels.size()) <= inductor);
    auto inputs = random_inputs(*g, 11, reg);
    auto plan_inputs = inputs;
    auto want = evaluate(*g, inputs, reg);
    auto got = evaluate_plan(r.plan, plan_inputs, reg);
    for (auto& [name, ref] : want) {
      INFO("output " << name);
      REQUIRE(got.count(name));
      CHECK(compare(got.at(name), ref, tolerance_for(ref.type.dtype)).ok);
    }
  }
}
