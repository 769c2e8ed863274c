#!/usr/bin/env python3
"""PyTorch baselines for the PTX backend benchmark, measured in the same run on
the same GPU as bench_ptx, and the ratios. Usage:
    python3 torch_baselines.py PATH/TO/bench_ptx
Prints a table; exits non-zero if bench_ptx fails."""
import json
import subprocess
import sys

import torch
import torch.nn.functional as F


def median_ms(fn, reps=50, warmup=5):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2]


def main():
    ours = json.loads(subprocess.run([sys.argv[1], "--json"], check=True, capture_output=True, text=True).stdout)
    figs = {f["name"]: f for f in ours["figures"]}
    dev = torch.cuda.get_device_name()
    print(f"torch {torch.__version__} on {dev}; egfuse bench on {ours['device']}")
    copy_bw = ours["copy_bytes_per_s"]
    x = torch.empty(8192 * 4096, device="cuda", dtype=torch.float32).uniform_(-1, 1)
    y = torch.empty_like(x)
    torch_copy = 2 * x.numel() * 4 / (median_ms(lambda: y.copy_(x), 100) * 1e-3)
    print(f"copy bandwidth: driver memcpy {copy_bw/1e9:.1f} GB/s, torch copy_ {torch_copy/1e9:.1f} GB/s")

    rows = []
    xm = torch.empty(8192, 4096, device="cuda").uniform_(-1, 1)
    w = torch.randn(4096, device="cuda")
    bb = torch.randn(4096, device="cuda")
    for name, fn in [("layernorm", lambda: F.layer_norm(xm, (4096,), w, bb)),
                     ("softmax", lambda: torch.softmax(xm, -1))]:
        f = figs[name]
        t = median_ms(fn)
        eff = f["min_bytes"] / (f["ms"] * 1e-3)
        per_kernel = [kb / (km * 1e-3) / copy_bw for kb, km in zip(f["kernel_bytes"], f["kernel_ms"])]
        rows.append((name, f["ms"], t, None, f"{eff/copy_bw:.2f} of copy (plan); kernels "
                     + ", ".join(f"{r:.2f}" for r in per_kernel)))
    f = figs["pointwise_gelu_mul"]
    t = median_ms(lambda: F.gelu(xm) * xm)
    rows.append(("pointwise_gelu_mul", f["ms"], t, None, f"{f['min_bytes']/(f['ms']*1e-3)/copy_bw:.2f} of copy"))

    M = N = K = 4096
    a = torch.randn(M, K, device="cuda", dtype=torch.bfloat16)
    wt = torch.randn(K, N, device="cuda", dtype=torch.bfloat16)
    bias = torch.randn(N, device="cuda", dtype=torch.bfloat16)

    def gemm(a, wt, bias):
        return F.gelu(a @ wt + bias)
    eager = median_ms(lambda: gemm(a, wt, bias))
    comp = torch.compile(gemm, mode="max-autotune-no-cudagraphs")
    compiled = median_ms(lambda: comp(a, wt, bias))
    f = figs["gemm_bias_gelu"]
    rows.append(("gemm_bias_gelu", f["ms"], eager, compiled,
                 f"{f['flops']/(f['ms']*1e-3)/1e12:.0f} TFLOP/s ours, spot err {f['max_rel_err']:.2g}"))

    T, H, I = 4096, 4096, 11008
    xs = torch.randn(T, H, device="cuda", dtype=torch.bfloat16) * 0.05
    wg = torch.randn(H, I, device="cuda", dtype=torch.bfloat16) * 0.05
    wu = torch.randn(H, I, device="cuda", dtype=torch.bfloat16) * 0.05
    wd = torch.randn(I, H, device="cuda", dtype=torch.bfloat16) * 0.05

    def mlp(xs, wg, wu, wd):
        return (F.silu(xs @ wg) * (xs @ wu)) @ wd
    eager = median_ms(lambda: mlp(xs, wg, wu, wd), 20)
    comp = torch.compile(mlp, mode="max-autotune-no-cudagraphs")
    compiled = median_ms(lambda: comp(xs, wg, wu, wd), 20)
    f = figs["llama_mlp"]
    rows.append(("llama_mlp", f["ms"], eager, compiled, f"{f['flops']/(f['ms']*1e-3)/1e12:.0f} TFLOP/s ours"))

    print(f"{'case':20} {'egfuse ms':>10} {'eager ms':>10} {'compile ms':>10} {'vs eager':>9} {'vs compile':>10}  note")
    for name, ours_ms, e, c, note in rows:
        ce = f"{c:10.3f}" if c else f"{'-':>10}"
        rc = f"{c/ours_ms:9.2f}x" if c else f"{'-':>10}"
        print(f"{name:20} {ours_ms:10.3f} {e:10.3f} {ce} {e/ours_ms:8.2f}x {rc}  {note}")
    for f in ours["figures"]:
        print(f"  {f['name']}: {f['strategies']}; kernel ms {f['kernel_ms']}")


if __name__ == "__main__":
    main()
