// The Vulkan runner: device selection, buffers (one per plan storage), one
// command buffer for the whole plan with the barriers its dependencies need,
// timestamp queries. Internal to backends/spirv.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "egfuse/backend.hpp"
#include "egfuse/spirv.hpp"

namespace egfuse::spirv {

struct VulkanDevice;  // opaque: instance, device, queue

struct DeviceInfo {
  std::string name;
  std::string type;  // "discrete", "integrated", "cpu", ...
  uint32_t api_version = 0;
};

// Lists the physical devices; throws egfuse::Error when Vulkan cannot start.
std::vector<DeviceInfo> list_vulkan_devices();

class VulkanRunner {
 public:
  explicit VulkanRunner(int device_index);  // -1: discrete GPU first, else the CPU implementation
  ~VulkanRunner();
  VulkanRunner(const VulkanRunner&) = delete;
  VulkanRunner& operator=(const VulkanRunner&) = delete;

  const SpirvDeviceLimits& limits() const;
  std::string device_name() const;
  // Runs the compiled kernels of `p`: uploads inputs, records every kernel in
  // one command buffer, reads the outputs (and mutated inputs) back.
  RunResult run(const Plan& p, const std::vector<SpirvKernel>& kernels, std::map<std::string, Tensor>& inputs,
                const RunOptions& opt);
  int barriers_last_run() const { return barriers_; }
  // Bandwidth of a device-to-device vkCmdCopyBuffer of `bytes` (read + write
  // counted), median of `reps` timed copies: the reference for kernel GB/s.
  double copy_gbps(int64_t bytes, int reps);

 private:
  std::unique_ptr<VulkanDevice> d_;
  int barriers_ = 0;
};

}  // namespace egfuse::spirv
