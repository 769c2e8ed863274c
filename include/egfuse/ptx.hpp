// PTX backend: lowers a kernel plan to PTX text (one module per plan), checks
// it with nvJitLink (in-process) or ptxas, and runs it through the CUDA driver
// API (backends/ptx/cuda_runner.cpp, libcuda.so.1 loaded at run time).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "egfuse/backend.hpp"
#include "egfuse/plan.hpp"

namespace egfuse {

enum class PtxTarget : uint8_t { sm_80, sm_90a };
std::string_view ptx_target_name(PtxTarget);  // "sm_80", "sm_90a"

struct PtxEmitOptions {
  PtxTarget target = PtxTarget::sm_80;
  bool allow_vector = true;  // 128-bit loads/stores where alignment allows (tests turn it off)
};

// How one kernel is launched: grid and block size, dynamic shared memory, and
// the parameter list (one u64 device pointer per entry of `buffers`, in order).
struct PtxLaunch {
  std::string entry;          // PTX entry name
  uint32_t grid[3] = {1, 1, 1};
  uint32_t block[3] = {1, 1, 1};
  uint32_t dynamic_smem = 0;  // bytes
  std::vector<int> buffers;   // plan buffer ids passed as pointers
  std::string strategy;       // "pointwise/vec8", "reduction/warp-row", "gemm/mma.sync 128x128x32 s3", ...
};

struct PtxKernel {
  PtxLaunch launch;
  std::string ptx;            // a complete module holding only this kernel
};

// Lowers every kernel of the plan. Throws egfuse::Error naming the kernel for
// anything it cannot lower.
std::vector<PtxKernel> emit_ptx(const Plan& p, const TemplateRegistry& reg, const PtxEmitOptions& opt);
PtxKernel emit_ptx_kernel(const Plan& p, int kernel, const TemplateRegistry& reg, const PtxEmitOptions& opt);

// The resources one compiled kernel uses (from the assembler's verbose log).
struct PtxResources {
  std::string entry;
  int registers = -1;
  int shared_bytes = -1;
  int stack_bytes = -1;
  int spill_bytes = 0;
};

struct PtxCheckResult {
  bool ok = false;
  std::string tool;                 // "nvJitLink" or "ptxas"
  std::string log;                  // errors (with PTX line numbers) or the verbose report
  std::vector<uint8_t> cubin;       // when ok and the tool produced one
  std::vector<PtxResources> resources;
};

// Assembles PTX for `target` (sm_80 or sm_90a) without a GPU: nvJitLink in
// process where the build found it, else the ptxas executable of the toolkit.
PtxCheckResult check_ptx(const std::string& ptx, PtxTarget target);
bool ptx_checker_available(std::string& why);

// One line per kernel: entry, strategy, registers, shared memory, stack and
// spills for `target` (what `egfuse compile --emit ptx -v` prints).
std::string ptx_resource_report(const Plan& p, const TemplateRegistry& reg, PtxTarget target);

// Device-to-device copy bandwidth (bytes read + written per second) measured
// with CUDA events on device 0: the ceiling the bandwidth kernels are judged
// against. Throws egfuse::Error when no GPU is usable.
double cuda_copy_bandwidth(int64_t bytes, int reps, std::string* device = nullptr);

}  // namespace egfuse
