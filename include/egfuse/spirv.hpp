// SPIR-V backend: emission options and the device facts emission depends on.
// The Vulkan runner fills DeviceLimits from the chosen device; emission without
// a device uses generic_limits(). See docs/spirv-backend.md.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace egfuse {

struct Plan;
class TemplateRegistry;

struct SpirvDeviceLimits {
  std::string device = "generic";
  uint32_t subgroup_size = 32;           // queried (lavapipe 8, NVIDIA 32)
  bool subgroup_arithmetic = true;       // VK_SUBGROUP_FEATURE_ARITHMETIC_BIT in compute
  uint32_t max_invocations = 1024;       // maxComputeWorkGroupInvocations
  uint32_t max_shared_bytes = 32768;     // maxComputeSharedMemorySize
  uint32_t max_group_count_x = 65535;    // maxComputeWorkGroupCount[0]
  bool storage16 = true;                 // storageBuffer16BitAccess (f16 and bf16 buffers)
  bool storage8 = true;                  // storageBuffer8BitAccess (bool buffers)
  bool is_cpu = false;                   // lavapipe: smaller tiles
};
SpirvDeviceLimits generic_spirv_limits();

// One compute shader per plan kernel.
struct SpirvKernel {
  std::string name;                 // plan kernel name
  std::string assembly;             // SPIR-V assembly text as emitted
  std::vector<uint32_t> binary;     // assembled, validated, optimized, validated again
  std::vector<int> bindings;        // plan buffer id of each binding (set 0, binding i)
  std::array<uint32_t, 3> groups{1, 1, 1};   // vkCmdDispatch arguments
  std::array<uint32_t, 3> local{1, 1, 1};    // workgroup size (also in the module)
  std::vector<int> reads_storage_of, writes_storage_of;  // plan buffer ids (for barriers)
  double flops = 0;                 // for GFLOP/s reports (templates)
  double bytes = 0;                 // bytes read + written
};

// Lowers kernel `index` of the plan; throws egfuse::Error when it cannot
// (extern kernels, an unsupported fused shape, a dtype the device lacks).
SpirvKernel lower_spirv_kernel(const Plan& p, size_t index, const TemplateRegistry& reg,
                               const SpirvDeviceLimits& lim);

// Assembles `text` for Vulkan 1.2 (SPIR-V 1.5), validates, optimizes and
// validates again; throws egfuse::Error with the message and line on failure.
std::vector<uint32_t> assemble_spirv(const std::string& text, const std::string& what, bool optimize = true);

}  // namespace egfuse
