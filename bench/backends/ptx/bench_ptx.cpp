// PTX backend figures on a GPU: layernorm and softmax (8192 x 4096, f32) as a
// fraction of the device-to-device copy bandwidth measured in the same run;
// fused GEMM + bias + GELU (bf16, 4096^3) and a LLaMA-style gated MLP
// (4096 tokens, hidden 4096, intermediate 11008) in TFLOP/s. Each figure is the
// median of many repetitions timed with CUDA events. --json prints one JSON
// object (read by torch_baselines.py).
#include <cstdio>
#include <cstring>
#include <random>

#include "egfuse/ptx.hpp"
#include "fixtures.hpp"

using namespace egfuse;
using ptxtest::PlanMaker;
using ptxtest::tt;

namespace {

struct Figure {
  std::string name;
  double ms = 0;
  std::vector<double> kernel_ms;
  std::vector<double> kernel_bytes;
  double min_bytes = 0, flops = 0;
  std::string strategies;
  double max_err = 0;
};

double kernel_bytes(const Plan& p, const PlanKernel& k) {
  double b = 0;
  for (int r : k.reads) b += double(p.buffers[size_t(r)].type.numel() * dtype_bytes(p.buffers[size_t(r)].type.dtype));
  for (int w : k.writes) b += double(p.buffers[size_t(w)].type.numel() * dtype_bytes(p.buffers[size_t(w)].type.dtype));
  return b;
}

Figure measure(const std::string& name, const Plan& p, std::map<std::string, Tensor>& inputs, int reps,
               RunResult* keep = nullptr) {
  auto be = make_cuda_backend();
  RunOptions o;
  o.timing_reps = reps;
  RunResult r = be->run(p, inputs, ptxtest::registry(), o);
  Figure f;
  f.name = name;
  f.ms = r.median_ms;
  f.kernel_ms = r.kernel_ms;
  for (auto& k : p.kernels) f.kernel_bytes.push_back(kernel_bytes(p, k));
  PtxEmitOptions eo;
  eo.target = PtxTarget::sm_90a;
  for (auto& k : emit_ptx(p, ptxtest::registry(), eo)) f.strategies += (f.strategies.empty() ? "" : "; ") + k.launch.strategy;
  if (keep) *keep = std::move(r);
  return f;
}

std::map<std::string, Tensor> random_inputs(const Plan& p, double scale = 1.0) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  std::map<std::string, Tensor> out;
  for (int b : p.inputs) {
    const PlanBuffer& pb = p.buffers[size_t(b)];
    Tensor t;
    t.type = tt(pb.type.dtype, pb.type.shape);
    t.data.resize(size_t(pb.type.numel()));
    for (auto& x : t.data) x = ptxtest::round_dt(pb.type.dtype, u(rng) * scale);
    out[pb.name] = std::move(t);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  bool json = argc > 1 && std::strcmp(argv[1], "--json") == 0;
  auto be = make_cuda_backend();
  std::string why;
  if (!be->available(why)) {
    std::fprintf(stderr, "bench_ptx: no usable GPU: %s\n", why.c_str());
    return 77;
  }
  std::string device;
  const int64_t R = 8192, C = 4096;
  double copy_bw = cuda_copy_bandwidth(R * C * 4, 100, &device);
  std::vector<Figure> figs;

  {  // layernorm: mean, variance, normalize (one reduction per kernel)
    PlanMaker m;
    m.input("x", tt(DType::f32, {R, C}));
    m.input("w", tt(DType::f32, {C}));
    m.input("b", tt(DType::f32, {C}));
    using B = Builder;
    m.kernel("ln_mean", KernelKind::reduction, [&](B& b) { b.output(b.reduce(Op::mean, m.in(b, "x"), {1}, true), "mu"); });
    m.kernel("ln_var", KernelKind::reduction, [&](B& b) {
      auto d = b.binary(Op::sub, m.in(b, "x"), m.in(b, "mu"));
      b.output(b.reduce(Op::mean, b.binary(Op::mul, d, d), {1}, true), "var");
    });
    m.kernel("ln_norm", KernelKind::pointwise, [&](B& b) {
      auto d = b.binary(Op::sub, m.in(b, "x"), m.in(b, "mu"));
      auto r = b.unary(Op::rsqrt, b.binary(Op::add, m.in(b, "var"), b.constant(1e-5, DType::f32)));
      b.output(b.binary(Op::add, b.binary(Op::mul, b.binary(Op::mul, d, r), m.in(b, "w")), m.in(b, "b")), "out");
    });
    m.output("out");
    auto in = random_inputs(m.plan);
    Figure f = measure("layernorm", m.plan, in, 50);
    f.min_bytes = double(2 * R * C * 4);
    figs.push_back(f);
  }
  {  // softmax: max, sum of exp, divide
    PlanMaker m;
    m.input("x", tt(DType::f32, {R, C}));
    using B = Builder;
    m.kernel("sm_max", KernelKind::reduction, [&](B& b) { b.output(b.reduce(Op::amax, m.in(b, "x"), {1}, true), "mx"); });
    m.kernel("sm_sum", KernelKind::reduction, [&](B& b) {
      b.output(b.reduce(Op::sum, b.unary(Op::exp, b.binary(Op::sub, m.in(b, "x"), m.in(b, "mx"))), {1}, true), "den");
    });
    m.kernel("sm_div", KernelKind::pointwise, [&](B& b) {
      auto e = b.unary(Op::exp, b.binary(Op::sub, m.in(b, "x"), m.in(b, "mx")));
      b.output(b.binary(Op::div, e, m.in(b, "den")), "out");
    });
    m.output("out");
    auto in = random_inputs(m.plan);
    Figure f = measure("softmax", m.plan, in, 50);
    f.min_bytes = double(2 * R * C * 4);
    figs.push_back(f);
  }
  {  // pointwise: y = gelu(x) * z, f32
    PlanMaker m;
    m.input("x", tt(DType::f32, {R, C}));
    m.input("z", tt(DType::f32, {R, C}));
    m.kernel("pw_gelu_mul", KernelKind::pointwise, [&](Builder& b) {
      b.output(b.binary(Op::mul, b.unary(Op::gelu, m.in(b, "x")), m.in(b, "z")), "out");
    });
    m.output("out");
    auto in = random_inputs(m.plan);
    Figure f = measure("pointwise_gelu_mul", m.plan, in, 50);
    f.min_bytes = double(3 * R * C * 4);
    figs.push_back(f);
  }
  const int64_t M = 4096, N = 4096, K = 4096;
  {  // fused GEMM + bias + GELU
    PlanMaker m;
    m.input("x", tt(DType::bf16, {M, K}));
    m.input("w", tt(DType::bf16, {K, N}));
    m.input("bias", tt(DType::bf16, {N}));
    m.kernel("mm_bias_gelu", KernelKind::template_, [&](Builder& b) {
      auto mm = b.templ("mm", {m.in(b, "x"), m.in(b, "w")});
      b.output(b.unary(Op::gelu, b.binary(Op::add, mm, m.in(b, "bias"))), "out");
    });
    m.output("out");
    auto in = random_inputs(m.plan);
    RunResult r;
    Figure f = measure("gemm_bias_gelu", m.plan, in, 30, &r);
    f.flops = 2.0 * M * N * K;
    // Spot check 64 outputs against a double-precision dot product.
    auto& X = in["x"].data;
    auto& W = in["w"].data;
    auto& bias = in["bias"].data;
    for (int s = 0; s < 64; ++s) {
      int64_t i = (s * 997) % M, j = (s * 1013 + 5) % N;
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += X[size_t(i * K + k)] * W[size_t(k * N + j)];
      acc = ptxtest::round_dt(DType::bf16, acc);
      double want = ptxtest::round_dt(DType::bf16, ptxtest::Reference::unary(Op::gelu, ptxtest::round_dt(DType::bf16, acc + bias[size_t(j)])));
      double got = r.outputs["out"].data[size_t(i * N + j)];
      f.max_err = std::max(f.max_err, std::fabs(got - want) / std::max(1.0, std::fabs(want)));
    }
    figs.push_back(f);
  }
  {  // LLaMA gated MLP: g = x@Wg; h = silu(g) * (x@Wu) (epilogue); out = h@Wd
    const int64_t T = 4096, H = 4096, I = 11008;
    PlanMaker m;
    m.input("x", tt(DType::bf16, {T, H}));
    m.input("wg", tt(DType::bf16, {H, I}));
    m.input("wu", tt(DType::bf16, {H, I}));
    m.input("wd", tt(DType::bf16, {I, H}));
    m.kernel("mlp_gate", KernelKind::template_, [&](Builder& b) { b.output(b.templ("mm", {m.in(b, "x"), m.in(b, "wg")}), "g"); });
    m.kernel("mlp_up_silu_mul", KernelKind::template_, [&](Builder& b) {
      auto up = b.templ("mm", {m.in(b, "x"), m.in(b, "wu")});
      b.output(b.binary(Op::mul, b.unary(Op::silu, m.in(b, "g")), up), "h");
    });
    m.kernel("mlp_down", KernelKind::template_, [&](Builder& b) { b.output(b.templ("mm", {m.in(b, "h"), m.in(b, "wd")}), "out"); });
    m.output("out");
    auto in = random_inputs(m.plan, 0.05);
    Figure f = measure("llama_mlp", m.plan, in, 20);
    f.flops = 2.0 * T * H * I * 3;
    figs.push_back(f);
  }

  if (json) {
    std::printf("{\"device\": \"%s\", \"copy_bytes_per_s\": %.6g, \"figures\": [", device.c_str(), copy_bw);
    for (size_t i = 0; i < figs.size(); ++i) {
      auto& f = figs[i];
      std::printf("%s{\"name\": \"%s\", \"ms\": %.6g, \"min_bytes\": %.6g, \"flops\": %.6g, \"max_rel_err\": %.3g, "
                  "\"strategies\": \"%s\", \"kernel_ms\": [",
                  i ? ", " : "", f.name.c_str(), f.ms, f.min_bytes, f.flops, f.max_err, f.strategies.c_str());
      for (size_t k = 0; k < f.kernel_ms.size(); ++k) std::printf("%s%.6g", k ? ", " : "", f.kernel_ms[k]);
      std::printf("], \"kernel_bytes\": [");
      for (size_t k = 0; k < f.kernel_bytes.size(); ++k) std::printf("%s%.6g", k ? ", " : "", f.kernel_bytes[k]);
      std::printf("]}");
    }
    std::printf("]}\n");
    return 0;
  }
  std::printf("device: %s\ncopy bandwidth: %.1f GB/s (read + write)\n", device.c_str(), copy_bw / 1e9);
  for (auto& f : figs) {
    std::printf("%-20s %9.3f ms", f.name.c_str(), f.ms);
    if (f.min_bytes > 0)
      std::printf("  effective %.1f GB/s = %.2f of copy", f.min_bytes / (f.ms * 1e-3) / 1e9, f.min_bytes / (f.ms * 1e-3) / copy_bw);
    if (f.flops > 0) std::printf("  %.1f TFLOP/s", f.flops / (f.ms * 1e-3) / 1e12);
    if (f.max_err > 0) std::printf("  spot max rel err %.3g", f.max_err);
    std::printf("\n");
    for (size_t k = 0; k < f.kernel_ms.size(); ++k)
      std::printf("    kernel %zu: %8.3f ms  %.1f GB/s = %.2f of copy\n", k, f.kernel_ms[k],
                  f.kernel_bytes[k] / (f.kernel_ms[k] * 1e-3) / 1e9, f.kernel_bytes[k] / (f.kernel_ms[k] * 1e-3) / copy_bw);
    std::printf("    [%s]\n", f.strategies.c_str());
  }
  return 0;
}
