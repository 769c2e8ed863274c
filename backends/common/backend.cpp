// make_backend: the backends by name. make_cuda_backend lives in backends/ptx;
// it is a weak reference here so that either backend builds alone.
#include "egfuse/backend.hpp"

namespace egfuse {

std::unique_ptr<Backend> make_cuda_backend() __attribute__((weak));

std::unique_ptr<Backend> make_backend(const std::string& name) {
  if (name == "vulkan") return make_vulkan_backend();
  if (name == "cuda") {
    if (!make_cuda_backend) throw Error("cuda backend not built");
    return make_cuda_backend();
  }
  throw Error("unknown backend '" + name + "' (known: vulkan, cuda)");
}

}  // namespace egfuse
