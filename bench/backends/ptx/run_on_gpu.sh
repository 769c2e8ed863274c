#!/bin/bash
# Runs the PTX backend's GPU test and benchmark from a folder holding
# libegfuse.so, test_ptx_gpu, bench_ptx and torch_baselines.py (built on a
# machine without a GPU and copied over). Usage: run_on_gpu.sh [tests|bench|all]
# Writes logs to $OUT (or the current folder).
cd "$(dirname "$0")"
OUT=${OUT:-.}
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
JIT=$(dirname "$(find /usr/local /opt /usr/lib -name 'libnvJitLink.so.13*' 2>/dev/null | head -1)")
export LD_LIBRARY_PATH=$PWD:/usr/local/cuda/lib64:$JIT
./test_ptx_gpu 2>&1 | tee "$OUT/gpu_tests.txt"
EGFUSE_PTX_NO_VECTOR=1 ./test_ptx_gpu 2>&1 | tail -3 | tee "$OUT/gpu_tests_scalar.txt"
[ "$1" = tests ] && exit 0
./bench_ptx 2>&1 | tee "$OUT/bench.txt"
[ "$1" = bench ] && exit 0
PYTHONUNBUFFERED=1 timeout 420 python3 torch_baselines.py ./bench_ptx 2>&1 | tee "$OUT/torch.txt"
