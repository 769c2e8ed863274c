// Backends: turn a kernel plan into device code and run it. Implemented by
// backends/spirv (Vulkan) and backends/ptx (CUDA driver API); the interpreter
// is the oracle every result is compared with (interp.hpp).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "egfuse/interp.hpp"
#include "egfuse/plan.hpp"

namespace egfuse {

struct RunOptions {
  int device = -1;          // -1 = pick (discrete GPU first, else the CPU implementation)
  bool verbose = false;
  int timing_reps = 0;      // >0: time the whole plan that many times (after a warm-up)
};

struct RunResult {
  std::map<std::string, Tensor> outputs;  // by graph output name
  std::string device;                     // e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"
  double median_ms = 0;                   // when timing_reps > 0
  std::vector<double> kernel_ms;          // per kernel, when measured
};

struct EmittedFile {
  std::string name;      // "k0_add.spvasm", "plan.ptx"
  std::string contents;  // text or binary
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;                  // "vulkan", "cuda"
  // False (with the reason) when no device/driver can run it here.
  virtual bool available(std::string& why) const = 0;
  // Emits code for every kernel; throws egfuse::Error on a kernel it cannot lower.
  virtual std::vector<EmittedFile> emit(const Plan& p, const TemplateRegistry& reg, bool verbose) const = 0;
  // Runs the plan; inputs by graph input name (mutated inputs are updated).
  virtual RunResult run(const Plan& p, std::map<std::string, Tensor>& inputs, const TemplateRegistry& reg,
                        const RunOptions& opt) const = 0;
};

std::unique_ptr<Backend> make_vulkan_backend();  // backends/spirv
std::unique_ptr<Backend> make_cuda_backend();    // backends/ptx
// "vulkan" | "cuda"; throws egfuse::Error for an unknown name.
std::unique_ptr<Backend> make_backend(const std::string& name);

}  // namespace egfuse
