// Fused vs unfused plans of the same graphs on one Vulkan device, measured in
// one run with timestamp queries: per-kernel GB/s (pointwise, reductions) or
// GFLOP/s (templates), the fused/unfused speed ratio per graph, and a
// device-to-device copy (vkCmdCopyBuffer) as the bandwidth reference.
//   bench_spirv [--device N] [--reps R] [--scale S]
// Sizes default to small ones on a CPU device (lavapipe), large on a GPU.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

#include "backends/spirv/vulkan_runner.hpp"
#include "egfuse/spirv.hpp"
#include "tests/backends/spirv/plans.hpp"

using namespace egfuse;

namespace {

TensorType tt(DType d, Shape s) { return TensorType{d, std::move(s), {}, 0}; }

std::map<std::string, Tensor> inputs_for(const Graph& g) {
  std::map<std::string, Tensor> in;
  uint64_t x = 12345;
  for (NodeId n : g.inputs()) {
    Tensor t;
    t.type = TensorType{g[n].type.dtype, g[n].type.shape, {}, 0};
    t.data.resize(size_t(t.type.numel()));
    for (auto& v : t.data) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      v = double(x >> 40) / double(1 << 24) * 2 - 1;
    }
    in[g[n].name] = std::move(t);
  }
  return in;
}

struct Case {
  std::string name;
  Graph g;
  std::vector<int> fused;  // group of each node in the fused plan
};

// Builds the graph; `fuse(ids)` puts the listed nodes into one kernel.
Case make_case(const std::string& name, const std::function<void(Builder&, std::function<void(std::vector<NodeId>)>)>& f) {
  Case c;
  c.name = name;
  std::vector<std::vector<NodeId>> sets;
  Builder b(c.g, TemplateRegistry::builtin());
  f(b, [&](std::vector<NodeId> s) { sets.push_back(std::move(s)); });
  c.fused.assign(c.g.size(), -1);
  for (NodeId n = 0; n < c.g.size(); ++n) c.fused[n] = int(n);
  for (auto& s : sets)
    for (NodeId n : s) c.fused[n] = int(s.back());
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  int device = -1, reps = 10;
  double scale = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--device")) device = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--scale")) scale = std::atof(argv[i + 1]);
  }
  try {
    spirv::VulkanRunner runner(device);
    const SpirvDeviceLimits& lim = runner.limits();
    if (scale == 0) scale = lim.is_cpu ? 1 : 16;
    // On a CPU implementation the matrices stay small: a 4096^3 product takes minutes there.
    int64_t R = int64_t(256 * scale), C = 4096;
    int64_t M = lim.is_cpu ? 128 : int64_t(256 * scale), K = lim.is_cpu ? 1024 : 4096, N = M;
    std::printf("device: %s (subgroup %u, shared %u B, %u invocations)\n", lim.device.c_str(), lim.subgroup_size,
                lim.max_shared_bytes, lim.max_invocations);
    double copy_bytes = double(R * C * 4);
    double copy_gbps = runner.copy_gbps(int64_t(copy_bytes), reps);
    std::printf("device-to-device copy of %.0f MB: %.1f GB/s (read + write)\n", copy_bytes / 1e6, copy_gbps);

    std::vector<Case> cases;
    cases.push_back(make_case("pointwise f32 gelu(x*s+b)", [&](Builder& b, auto fuse) {
      NodeId x = b.input("x", tt(DType::f32, {R, C})), bias = b.input("b", tt(DType::f32, {C}));
      NodeId s = b.constant(0.5, DType::f32);
      NodeId m = b.binary(Op::mul, x, s), a = b.binary(Op::add, m, bias), y = b.unary(Op::gelu, a);
      b.output(y, "y");
      fuse({s, m, a, y});
    }));
    cases.push_back(make_case("softmax f32 rows", [&](Builder& b, auto fuse) {
      NodeId x = b.input("x", tt(DType::f32, {R, C}));
      NodeId m = b.reduce(Op::amax, x, {1}, true);
      NodeId d = b.binary(Op::sub, x, m), e = b.unary(Op::exp, d), z = b.reduce(Op::sum, e, {1}, true);
      NodeId p = b.binary(Op::div, e, z);
      b.output(p, "p");
      fuse({m, d, e, z, p});  // one kernel: max, sum of exp, normalized store (as fusion plans it)
    }));
    cases.push_back(make_case("rmsnorm f16", [&](Builder& b, auto fuse) {
      NodeId x = b.input("x", tt(DType::f16, {R, C})), w = b.input("w", tt(DType::f16, {C}));
      NodeId sq = b.binary(Op::mul, x, x), ms = b.reduce(Op::mean, sq, {1}, true);
      NodeId eps = b.constant(1e-5, DType::f16), ve = b.binary(Op::add, ms, eps), r = b.unary(Op::rsqrt, ve);
      NodeId xn = b.binary(Op::mul, x, r), y = b.binary(Op::mul, xn, w);
      b.output(y, "y");
      fuse({sq, ms, eps, ve, r, xn, y});  // one kernel (as fusion plans it)
    }));
    cases.push_back(make_case("mm f16 + bias + gelu", [&](Builder& b, auto fuse) {
      NodeId a = b.input("a", tt(DType::f16, {M, K})), w = b.input("w", tt(DType::f16, {K, N}));
      NodeId bias = b.input("bias", tt(DType::f16, {N}));
      NodeId mm = b.templ("mm", {a, w}), ad = b.binary(Op::add, mm, bias), y = b.unary(Op::gelu, ad);
      b.output(y, "y");
      fuse({mm, ad, y});
    }));
    cases.push_back(make_case("relu prologue + mm f32", [&](Builder& b, auto fuse) {
      NodeId a = b.input("a", tt(DType::f32, {M, K})), w = b.input("w", tt(DType::f32, {K, N}));
      NodeId r = b.unary(Op::relu, a), mm = b.templ("mm", {r, w});
      b.output(mm, "y");
      fuse({r, mm});
    }));

    bool all_faster = true;
    for (auto& c : cases) {
      auto in = inputs_for(c.g);
      double ms[2] = {0, 0};
      for (int fused = 0; fused < 2; ++fused) {
        Plan p = fused ? testing::partition_plan(c.g, c.fused) : testing::split_plan(c.g, TemplateRegistry::builtin());
        std::vector<SpirvKernel> ks;
        for (size_t i = 0; i < p.kernels.size(); ++i)
          ks.push_back(lower_spirv_kernel(p, i, TemplateRegistry::builtin(), lim));
        auto copy = in;
        RunOptions ro;
        ro.timing_reps = reps;
        RunResult r = runner.run(p, ks, copy, ro);
        ms[fused] = r.median_ms;
        std::printf("%-28s %-7s %2zu kernels %9.3f ms\n", c.name.c_str(), fused ? "fused" : "unfused", ks.size(),
                    r.median_ms);
        for (size_t i = 0; i < ks.size() && i < r.kernel_ms.size(); ++i) {
          double t = r.kernel_ms[i] * 1e-3;
          if (ks[i].flops > 0)
            std::printf("    %-30s %9.3f ms %9.1f GFLOP/s\n", ks[i].name.c_str(), r.kernel_ms[i], ks[i].flops / t / 1e9);
          else
            std::printf("    %-30s %9.3f ms %9.1f GB/s (%.0f%% of copy)\n", ks[i].name.c_str(), r.kernel_ms[i],
                        ks[i].bytes / t / 1e9, 100 * ks[i].bytes / t / 1e9 / copy_gbps);
        }
      }
      double ratio = ms[0] / ms[1];
      all_faster = all_faster && ratio > 1;
      std::printf("%-28s fused is %.2fx the speed of unfused\n\n", c.name.c_str(), ratio);
    }
    std::printf("fused faster on every graph: %s\n", all_faster ? "yes" : "NO");
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_spirv: %s\n", e.what());
    return 1;
  }
}
