// Runs every PTX fixture on the GPU through the cuda backend and compares each
// output with the host reference. Exits 77 (skipped) where there is no GPU.
#include <cstdio>

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
  std::printf("device: %s\n%d passed, %d failed\n", device.c_str(), passed, failed);
  return failed ? 1 : 0;
}
