// The "cuda" backend: PTX from emit_ptx, assembled in process where possible,
// run through the CUDA driver API. The driver is loaded at run time
// (dlopen libcuda.so.1): the library builds and starts everywhere, and reports
// "not available" with the reason where there is no driver or no GPU. Types
// and prototypes come from the toolkit's cuda.h.
#include <cuda.h>
#include <dlfcn.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>

#include "backends/ptx/lower.hpp"
#include "egfuse/backend.hpp"
#include "egfuse/ptx.hpp"
#include "egfuse/strided.hpp"

namespace egfuse {

namespace {

// ---------------------------------------------------------------- driver entry points
#define EGF_CUDA_FUNCS(X)                                                                          \
  X(cuInit, "cuInit") X(cuDriverGetVersion, "cuDriverGetVersion") X(cuDeviceGet, "cuDeviceGet")    \
  X(cuDeviceGetCount, "cuDeviceGetCount") X(cuDeviceGetName, "cuDeviceGetName")                    \
  X(cuDeviceGetAttribute, "cuDeviceGetAttribute")                                                  \
  X(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain") X(cuCtxSetCurrent, "cuCtxSetCurrent")    \
  X(cuGetErrorString, "cuGetErrorString") X(cuModuleLoadData, "cuModuleLoadData")                  \
  X(cuModuleGetFunction, "cuModuleGetFunction") X(cuModuleUnload, "cuModuleUnload")                \
  X(cuFuncSetAttribute, "cuFuncSetAttribute") X(cuLaunchKernel, "cuLaunchKernel")                  \
  X(cuMemAlloc, "cuMemAlloc_v2") X(cuMemFree, "cuMemFree_v2") X(cuMemcpyHtoD, "cuMemcpyHtoD_v2")  \
  X(cuMemcpyDtoH, "cuMemcpyDtoH_v2") X(cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2")                 \
  X(cuMemsetD8, "cuMemsetD8_v2") X(cuStreamCreate, "cuStreamCreate")                               \
  X(cuStreamSynchronize, "cuStreamSynchronize") X(cuStreamDestroy, "cuStreamDestroy_v2")          \
  X(cuEventCreate, "cuEventCreate") X(cuEventRecord, "cuEventRecord")                              \
  X(cuEventSynchronize, "cuEventSynchronize") X(cuEventElapsedTime, "cuEventElapsedTime_v2")       \
  X(cuEventDestroy, "cuEventDestroy_v2")

struct Driver {
#define EGF_DECL(fn, sym) decltype(&::fn) fn = nullptr;
  EGF_CUDA_FUNCS(EGF_DECL)
#undef EGF_DECL
  void* lib = nullptr;
  std::string error;  // why it cannot be used
  CUdevice dev = 0;
  CUcontext ctx = nullptr;
  std::string device_name;
  int cc_major = 0, cc_minor = 0, driver_version = 0;

  bool load() {
    lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* e = dlerror();
      error = std::string("cannot load the CUDA driver (libcuda.so.1): ") + (e ? e : "not found");
      return false;
    }
#define EGF_LOAD(fn, sym)                                                      \
  fn = reinterpret_cast<decltype(fn)>(dlsym(lib, sym));                        \
  if (!fn) {                                                                   \
    error = std::string("the CUDA driver lacks ") + sym;                       \
    return false;                                                              \
  }
    EGF_CUDA_FUNCS(EGF_LOAD)
#undef EGF_LOAD
    CUresult r = cuInit(0);
    if (r != CUDA_SUCCESS) {
      error = "cuInit failed: " + err(r);
      return false;
    }
    int n = 0;
    if (cuDeviceGetCount(&n) != CUDA_SUCCESS || n == 0) {
      error = "the CUDA driver sees no device";
      return false;
    }
    check(cuDeviceGet(&dev, 0), "cuDeviceGet");
    char name[256] = {};
    check(cuDeviceGetName(name, sizeof name, dev), "cuDeviceGetName");
    check(cuDeviceGetAttribute(&cc_major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev), "attribute");
    check(cuDeviceGetAttribute(&cc_minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev), "attribute");
    check(cuDriverGetVersion(&driver_version), "cuDriverGetVersion");
    if (cc_major < 8) {
      error = std::string(name) + " is compute capability " + std::to_string(cc_major) + "." +
              std::to_string(cc_minor) + "; the PTX backend needs 8.0 or newer";
      return false;
    }
    check(cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
    check(cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
    std::ostringstream d;
    d << name << " (sm_" << cc_major << cc_minor << ", CUDA driver API " << driver_version / 1000 << "."
      << (driver_version % 1000) / 10 << ")";
    device_name = d.str();
    return true;
  }
  std::string err(CUresult r) const {
    const char* s = nullptr;
    if (cuGetErrorString && cuGetErrorString(r, &s) == CUDA_SUCCESS && s) return s;
    return "CUDA error " + std::to_string(int(r));
  }
  void check(CUresult r, const std::string& what) const {
    if (r != CUDA_SUCCESS) throw Error("CUDA: " + what + " failed: " + err(r));
  }
  PtxTarget target() const { return cc_major >= 9 && cc_minor == 0 ? PtxTarget::sm_90a : PtxTarget::sm_80; }
};

Driver* driver(std::string& why) {
  static std::once_flag once;
  static Driver* d = nullptr;
  static std::string error;
  std::call_once(once, [] {
    // Lives for the whole process: the CUDA context must outlive every kernel handle.
    static Driver storage;
    auto* x = &storage;
    try {
      if (x->load()) d = x;
      else error = x->error;
    } catch (const Error& e) {
      error = e.what();
    }
  });
  if (!d) why = error;
  return d;
}

struct Loaded {
  CUmodule module = nullptr;
  CUfunction fn = nullptr;
  PtxLaunch launch;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

class CudaBackend : public Backend {
 public:
  std::string name() const override { return "cuda"; }

  bool available(std::string& why) const override { return driver(why) != nullptr; }

  std::vector<EmittedFile> emit(const Plan& p, const TemplateRegistry& reg, bool verbose) const override {
    PtxEmitOptions opt;
    opt.target = PtxTarget::sm_80;
    std::vector<EmittedFile> out;
    for (size_t i = 0; i < p.kernels.size(); ++i) {
      PtxKernel k = emit_ptx_kernel(p, int(i), reg, opt);
      out.push_back({k.launch.entry + ".ptx", k.ptx});
    }
    if (verbose)
      out.push_back({"ptx-resources.txt", ptx_resource_report(p, reg, PtxTarget::sm_80) +
                                              ptx_resource_report(p, reg, PtxTarget::sm_90a)});
    return out;
  }

  RunResult run(const Plan& p, std::map<std::string, Tensor>& inputs, const TemplateRegistry& reg,
                const RunOptions& opt) const override {
    std::string why;
    Driver* d = driver(why);
    if (!d) throw Error("cuda backend unavailable: " + why);
    d->check(d->cuCtxSetCurrent(d->ctx), "cuCtxSetCurrent");
    RunResult result;
    result.device = d->device_name;

    // Kernels: assemble for this device in process when possible, else let the driver JIT the PTX.
    PtxEmitOptions eo;
    eo.target = d->target();
    eo.allow_vector = std::getenv("EGFUSE_PTX_NO_VECTOR") == nullptr;  // tests exercise the scalar path too
    std::vector<Loaded> kernels;
    struct Cleanup {
      const Driver* d;
      std::vector<Loaded>* ks;
      std::vector<CUdeviceptr> mem;
      ~Cleanup() {
        for (auto& k : *ks)
          if (k.module) d->cuModuleUnload(k.module);
        for (auto m : mem) d->cuMemFree(m);
      }
    } cleanup{d, &kernels, {}};
    for (size_t i = 0; i < p.kernels.size(); ++i) {
      PtxKernel pk = emit_ptx_kernel(p, int(i), reg, eo);
      Loaded l;
      l.launch = pk.launch;
      // A cubin runs on its own major architecture only: newer devices JIT the PTX.
      bool cubin_fits = d->cc_major == 8 || (d->cc_major == 9 && d->cc_minor == 0);
      PtxCheckResult c;
      if (cubin_fits) c = check_ptx(pk.ptx, eo.target);
      CUresult r;
      if (c.ok && !c.cubin.empty()) r = d->cuModuleLoadData(&l.module, c.cubin.data());
      else r = d->cuModuleLoadData(&l.module, pk.ptx.c_str());
      if (r != CUDA_SUCCESS)
        throw Error("CUDA: loading kernel '" + p.kernels[i].name + "' failed: " + d->err(r) + "\n" + c.log);
      d->check(d->cuModuleGetFunction(&l.fn, l.module, l.launch.entry.c_str()), "cuModuleGetFunction");
      if (l.launch.dynamic_smem > 48 * 1024)
        d->check(d->cuFuncSetAttribute(l.fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                       int(l.launch.dynamic_smem)),
                 "cuFuncSetAttribute");
      kernels.push_back(std::move(l));
    }

    // Storage: aliases share their root's storage; buffers with one storage slot share one allocation.
    auto root = [&](int b) {
      while (p.buffers[size_t(b)].role == BufferRole::alias && p.buffers[size_t(b)].alias_of >= 0)
        b = p.buffers[size_t(b)].alias_of;
      return b;
    };
    std::map<std::string, size_t> slot_of_key;
    std::vector<int64_t> slot_bytes;
    std::vector<size_t> slot(p.buffers.size());
    for (size_t b = 0; b < p.buffers.size(); ++b) {
      int r = root(int(b));
      std::string key = p.buffers[size_t(r)].storage >= 0 ? "s" + std::to_string(p.buffers[size_t(r)].storage)
                                                          : "b" + std::to_string(r);
      auto [it, fresh] = slot_of_key.emplace(key, slot_bytes.size());
      if (fresh) slot_bytes.push_back(16);
      slot[b] = it->second;
      const TensorType& t = p.buffers[b].type;
      slot_bytes[it->second] = std::max(slot_bytes[it->second], ptx::storage_extent(t) * dtype_bytes(t.dtype));
    }
    std::vector<CUdeviceptr> mem(slot_bytes.size());
    for (size_t s = 0; s < mem.size(); ++s) {
      d->check(d->cuMemAlloc(&mem[s], size_t(slot_bytes[s])), "cuMemAlloc");
      cleanup.mem.push_back(mem[s]);
      // Poison: an element no kernel writes reads back as NaN (or a large integer).
      d->check(d->cuMemsetD8(mem[s], 0xff, size_t(slot_bytes[s])), "cuMemsetD8");
    }
    auto input_name = [&](int b) {
      const PlanBuffer& pb = p.buffers[size_t(b)];
      if (inputs.count(pb.name)) return pb.name;
      return pb.graph_node.empty() ? pb.name : pb.graph_node;
    };
    for (int b : p.inputs) {
      std::string nm = input_name(b);
      auto it = inputs.find(nm);
      if (it == inputs.end()) throw Error("cuda backend: no value for input '" + nm + "'");
      const TensorType& t = p.buffers[size_t(b)].type;
      if (it->second.numel() != t.numel())
        throw Error("cuda backend: input '" + nm + "' has " + std::to_string(it->second.numel()) + " elements, " +
                    to_string(t) + " expected");
      std::vector<uint8_t> host(size_t(slot_bytes[slot[size_t(b)]]), 0xff);
      int bytes = dtype_bytes(t.dtype);
      for_each_element(t, [&](int64_t i, int64_t off) {
        store_element(t.dtype, host.data() + off * bytes, it->second.data[size_t(i)]);
      });
      d->check(d->cuMemcpyHtoD(mem[slot[size_t(b)]], host.data(), host.size()), "cuMemcpyHtoD");
    }

    CUstream stream;
    d->check(d->cuStreamCreate(&stream, CU_STREAM_DEFAULT), "cuStreamCreate");
    auto launch = [&](const Loaded& l) {
      std::vector<CUdeviceptr> args;
      for (int b : l.launch.buffers) args.push_back(mem[slot[size_t(b)]]);
      std::vector<void*> argp;
      for (auto& a : args) argp.push_back(&a);
      d->check(d->cuLaunchKernel(l.fn, l.launch.grid[0], l.launch.grid[1], l.launch.grid[2], l.launch.block[0],
                                 l.launch.block[1], l.launch.block[2], l.launch.dynamic_smem, stream, argp.data(),
                                 nullptr),
               "launching " + l.launch.entry);
    };
    for (size_t i = 0; i < kernels.size(); ++i) {
      launch(kernels[i]);
      CUresult r = d->cuStreamSynchronize(stream);
      if (r != CUDA_SUCCESS) throw Error("CUDA: kernel '" + p.kernels[i].name + "' failed: " + d->err(r));
    }

    auto read_buffer = [&](int b) {
      const TensorType& t = p.buffers[size_t(b)].type;
      std::vector<uint8_t> host(static_cast<size_t>(slot_bytes[slot[size_t(b)]]));
      d->check(d->cuMemcpyDtoH(host.data(), mem[slot[size_t(b)]], host.size()), "cuMemcpyDtoH");
      Tensor out;
      out.type = TensorType{t.dtype, t.shape, {}, 0};
      out.data.resize(size_t(t.numel()));
      int bytes = dtype_bytes(t.dtype);
      for_each_element(t, [&](int64_t i, int64_t off) {
        out.data[size_t(i)] = load_element(t.dtype, host.data() + off * bytes);
      });
      return out;
    };
    for (auto& [nm, b] : p.outputs) result.outputs[nm] = read_buffer(b);
    for (int b : p.inputs)
      if (p.buffers[size_t(b)].is_mutable_input) inputs[input_name(b)] = read_buffer(b);

    if (opt.timing_reps > 0) {
      CUevent e0, e1;
      d->check(d->cuEventCreate(&e0, CU_EVENT_DEFAULT), "cuEventCreate");
      d->check(d->cuEventCreate(&e1, CU_EVENT_DEFAULT), "cuEventCreate");
      auto time_it = [&](auto&& body) {
        std::vector<double> ms;
        for (int r = 0; r < opt.timing_reps; ++r) {
          d->check(d->cuEventRecord(e0, stream), "cuEventRecord");
          body();
          d->check(d->cuEventRecord(e1, stream), "cuEventRecord");
          d->check(d->cuEventSynchronize(e1), "cuEventSynchronize");
          float t = 0;
          d->check(d->cuEventElapsedTime(&t, e0, e1), "cuEventElapsedTime");
          ms.push_back(t);
        }
        return median(ms);
      };
      for (auto& l : kernels) launch(l);  // warm-up
      result.median_ms = time_it([&] {
        for (auto& l : kernels) launch(l);
      });
      for (auto& l : kernels) result.kernel_ms.push_back(time_it([&] { launch(l); }));
      d->cuEventDestroy(e0);
      d->cuEventDestroy(e1);
    }
    d->cuStreamDestroy(stream);
    return result;
  }
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend() { return std::make_unique<CudaBackend>(); }

std::string ptx_resource_report(const Plan& p, const TemplateRegistry& reg, PtxTarget target) {
  std::ostringstream out;
  PtxEmitOptions opt;
  opt.target = target;
  for (size_t i = 0; i < p.kernels.size(); ++i) {
    PtxKernel k = emit_ptx_kernel(p, int(i), reg, opt);
    PtxCheckResult c = check_ptx(k.ptx, target);
    out << k.launch.entry << " " << ptx_target_name(target) << " [" << k.launch.strategy << "] ";
    if (!c.ok) {
      out << "FAILED (" << c.tool << "):\n" << c.log << "\n";
      continue;
    }
    const PtxResources* r = c.resources.empty() ? nullptr : &c.resources.front();
    if (r)
      out << r->registers << " registers, " << (r->shared_bytes < 0 ? 0 : r->shared_bytes) + int(k.launch.dynamic_smem)
          << " bytes shared, " << (r->stack_bytes < 0 ? 0 : r->stack_bytes) << " bytes stack, " << r->spill_bytes
          << " bytes spilled";
    else
      out << "(no resource report)";
    out << ", grid " << k.launch.grid[0] << "x" << k.launch.grid[1] << "x" << k.launch.grid[2] << ", block "
        << k.launch.block[0] << " (" << c.tool << ")\n";
  }
  return out.str();
}

double cuda_copy_bandwidth(int64_t bytes, int reps, std::string* device) {
  std::string why;
  Driver* d = driver(why);
  if (!d) throw Error("cuda: " + why);
  d->check(d->cuCtxSetCurrent(d->ctx), "cuCtxSetCurrent");
  if (device) *device = d->device_name;
  CUdeviceptr a, b;
  d->check(d->cuMemAlloc(&a, size_t(bytes)), "cuMemAlloc");
  d->check(d->cuMemAlloc(&b, size_t(bytes)), "cuMemAlloc");
  d->check(d->cuMemsetD8(a, 0x3c, size_t(bytes)), "cuMemsetD8");
  CUstream s;
  d->check(d->cuStreamCreate(&s, CU_STREAM_DEFAULT), "cuStreamCreate");
  CUevent e0, e1;
  d->check(d->cuEventCreate(&e0, CU_EVENT_DEFAULT), "cuEventCreate");
  d->check(d->cuEventCreate(&e1, CU_EVENT_DEFAULT), "cuEventCreate");
  std::vector<double> ms;
  for (int r = 0; r < reps + 2; ++r) {
    d->check(d->cuEventRecord(e0, s), "cuEventRecord");
    d->check(d->cuMemcpyDtoDAsync(b, a, size_t(bytes), s), "cuMemcpyDtoDAsync");
    d->check(d->cuEventRecord(e1, s), "cuEventRecord");
    d->check(d->cuEventSynchronize(e1), "cuEventSynchronize");
    float t = 0;
    d->check(d->cuEventElapsedTime(&t, e0, e1), "cuEventElapsedTime");
    if (r >= 2) ms.push_back(t);
  }
  d->cuEventDestroy(e0);
  d->cuEventDestroy(e1);
  d->cuStreamDestroy(s);
  d->cuMemFree(a);
  d->cuMemFree(b);
  return 2.0 * double(bytes) / (median(ms) * 1e-3);
}

}  // namespace egfuse
