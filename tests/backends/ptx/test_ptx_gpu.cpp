// Runs every PTX fixture on the GPU through the cuda backend and compares each
// output with the host reference. Exits 77 (skipped) where there is no GPU.
#include <cstdio>

#include "examples.hpp"
#include "fixtures.hpp"

using namespace egfuse;

int main() {
  auto backend = make_cuda_backend();
  std::string why;
  if (!backend->available(why)) {
    std::printf("SKIP: no usable GPU: %s\n", why.c_str());
    return 77;
  }
  int failed = 0, passed = 0;
  std::string device;
  for (auto& c : ptxtest::cases()) {
    auto inputs = ptxtest::make_inputs(c.plan, 42, c.index_bound);
    auto ref_inputs = inputs;
    ptxtest::Reference ref{c.plan, ptxtest::registry(), {}};
    auto expect = ref.run(ref_inputs);
    RunResult r;
    try {
      r = backend->run(c.plan, inputs, ptxtest::registry(), RunOptions{});
    } catch (const Error& e) {
      std::printf("FAIL %-28s %s\n", c.name.c_str(), e.what());
      ++failed;
      continue;
    }
    device = r.device;
    bool ok = true;
    for (auto& [name, want] : expect) {
      const Tensor& got = r.outputs.at(name);
      Comparison cmp = compare(got, want, tolerance_for(want.type.dtype));
      int64_t bad = cmp.ok ? -1 : cmp.worst_index;
      std::printf("%s %-28s %-10s max |err| %.3g%s\n", cmp.ok ? "ok  " : "FAIL", c.name.c_str(), name.c_str(),
                  cmp.max_abs,
                  cmp.ok ? "" : (" worst element " + std::to_string(bad) + ": got " +
                                 std::to_string(got.data[size_t(bad)]) + " want " +
                                 std::to_string(want.data[size_t(bad)])).c_str());
      ok = ok && cmp.ok;
    }
    (ok ? passed : failed)++;
  }
  // The example graphs, fused and unfused, against the interpreter on the graph.
  auto ex = ptxtest::load_examples();
  for (auto& e : ex.plans)
    for (const Plan* p : {&e.fused, &e.unfused}) {
      std::string label = e.name + (p == &e.fused ? " (fused)" : " (unfused)");
      auto inputs = random_inputs(e.graph, 1, ex.reg);
      auto ref_inputs = inputs;
      auto want = evaluate(e.graph, ref_inputs, ex.reg);
      bool ok = true;
      try {
        RunResult r = backend->run(*p, inputs, ex.reg, RunOptions{});
        for (auto& [name, ref] : want) {
          Comparison cmp = compare(r.outputs.at(name), ref, tolerance_for(ref.type.dtype));
          std::printf("%s %-28s %-10s max |err| %.3g\n", cmp.ok ? "ok  " : "FAIL", label.c_str(), name.c_str(),
                      cmp.max_abs);
          ok = ok && cmp.ok;
        }
        for (auto& [name, t] : ref_inputs) {  // mutated inputs must match too
          Comparison cmp = compare(inputs.at(name), t, tolerance_for(t.type.dtype));
          if (!cmp.ok) std::printf("FAIL %-28s mutated input %s\n", label.c_str(), name.c_str());
          ok = ok && cmp.ok;
        }
      } catch (const Error& err) {
        std::printf("FAIL %-28s %s\n", label.c_str(), err.what());
        ok = false;
      }
      (ok ? passed : failed)++;
    }
  std::printf("device: %s\n%d passed, %d failed\n", device.c_str(), passed, failed);
  return failed ? 1 : 0;
}
