// The "vulkan" Backend: lowers every plan kernel with the chosen device's
// limits and runs the plan through the Vulkan runner.
#include <memory>

#include "backends/spirv/vulkan_runner.hpp"
#include "egfuse/backend.hpp"
#include "egfuse/spirv.hpp"

namespace egfuse {

namespace {

std::string hex_words(const std::vector<uint32_t>& w) {
  std::string s(w.size() * 4, '\0');
  for (size_t i = 0; i < w.size(); ++i)
    for (int b = 0; b < 4; ++b) s[i * 4 + size_t(b)] = char((w[i] >> (8 * b)) & 0xff);
  return s;
}

class VulkanBackend : public Backend {
 public:
  std::string name() const override { return "vulkan"; }

  bool available(std::string& why) const override {
    try {
      auto devs = spirv::list_vulkan_devices();
      if (devs.empty()) {
        why = "no Vulkan device";
        return false;
      }
      return true;
    } catch (const Error& e) {
      why = e.what();
      return false;
    }
  }

  std::vector<EmittedFile> emit(const Plan& p, const TemplateRegistry& reg, bool verbose) const override {
    // Tile and workgroup sizes depend on the device: use it when one is present.
    SpirvDeviceLimits lim = generic_spirv_limits();
    try {
      spirv::VulkanRunner r(-1);
      lim = r.limits();
    } catch (const Error&) {
    }
    std::vector<EmittedFile> files;
    for (size_t i = 0; i < p.kernels.size(); ++i) {
      SpirvKernel k = lower_spirv_kernel(p, i, reg, lim);
      std::string head = "; kernel " + k.name + " for " + lim.device + ": local " + std::to_string(k.local[0]) +
                         ", groups " + std::to_string(k.groups[0]) + "x" + std::to_string(k.groups[1]) + "x" +
                         std::to_string(k.groups[2]) + "\n";
      files.push_back({k.name + ".spvasm", (verbose ? head : std::string()) + k.assembly});
      files.push_back({k.name + ".spv", hex_words(k.binary)});
    }
    return files;
  }

  RunResult run(const Plan& p, std::map<std::string, Tensor>& inputs, const TemplateRegistry& reg,
                const RunOptions& opt) const override {
    spirv::VulkanRunner runner(opt.device);
    std::vector<SpirvKernel> kernels;
    for (size_t i = 0; i < p.kernels.size(); ++i) kernels.push_back(lower_spirv_kernel(p, i, reg, runner.limits()));
    return runner.run(p, kernels, inputs, opt);
  }
};

}  // namespace

std::unique_ptr<Backend> make_vulkan_backend() { return std::make_unique<VulkanBackend>(); }

}  // namespace egfuse
