// Runs every PTX fixture on the GPU through the cuda backend and compares each
// output with the host reference. Exits 77 (skipped) where there is no GPU.
#include <cstdio>

#include "fixtures.hpp"

using namespace egfuse;

static Tolerance tol_for(DType dt) {
  switch (dt) {
    case DType::bf16: return {1e-2, 1e-2};
    case DType::f16: return {1e-3, 2e-3};
    default: return {1e-5, 1e-4};
  }
}

int main() {
  auto backend = make_cuda_backend();
  std::string why;
  if (!backend->available(why)) {
    std::printf("SKIP: no usable GPU: %s\n", why.c_str());
    return 77;
  }
  int failed = 0, passed = 0;
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
    bool ok = true;
    for (auto& [name, want] : expect) {
      const Tensor& got = r.outputs.at(name);
      Tolerance t = tol_for(want.type.dtype);
      double worst = 0;
      int64_t bad = -1;
      for (size_t i = 0; i < want.data.size(); ++i) {
        double d = std::fabs(got.data[i] - want.data[i]);
        double lim = t.abs + t.rel * std::fabs(want.data[i]);
        if (!(d <= lim) && bad < 0) bad = int64_t(i);
        if (d > worst || std::isnan(d)) worst = std::isnan(d) ? INFINITY : d;
      }
      std::printf("%s %-28s %-8s max |err| %.3g%s\n", bad < 0 ? "ok  " : "FAIL", c.name.c_str(), name.c_str(), worst,
                  bad < 0 ? "" : (" first bad element " + std::to_string(bad) + ": got " +
                                  std::to_string(got.data[size_t(bad)]) + " want " +
                                  std::to_string(want.data[size_t(bad)])).c_str());
      ok = ok && bad < 0;
    }
    (ok ? passed : failed)++;
  }
  std::printf("device: %s\n%d passed, %d failed\n", backend->name().c_str(), passed, failed);
  return failed ? 1 : 0;
}
