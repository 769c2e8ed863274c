// Vulkan runner (see vulkan_runner.hpp). Every Vulkan error names the call and
// the result code.
#include "backends/spirv/vulkan_runner.hpp"

#include "egfuse/strided.hpp"

#include <vulkan/vulkan.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

namespace egfuse::spirv {

namespace {

const char* result_name(VkResult r) {
  switch (r) {
#define EGFUSE_VK_RESULT(x) \
  case x: return #x;
    EGFUSE_VK_RESULT(VK_SUCCESS)
    EGFUSE_VK_RESULT(VK_NOT_READY)
    EGFUSE_VK_RESULT(VK_TIMEOUT)
    EGFUSE_VK_RESULT(VK_INCOMPLETE)
    EGFUSE_VK_RESULT(VK_ERROR_OUT_OF_HOST_MEMORY)
    EGFUSE_VK_RESULT(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    EGFUSE_VK_RESULT(VK_ERROR_INITIALIZATION_FAILED)
    EGFUSE_VK_RESULT(VK_ERROR_DEVICE_LOST)
    EGFUSE_VK_RESULT(VK_ERROR_MEMORY_MAP_FAILED)
    EGFUSE_VK_RESULT(VK_ERROR_LAYER_NOT_PRESENT)
    EGFUSE_VK_RESULT(VK_ERROR_EXTENSION_NOT_PRESENT)
    EGFUSE_VK_RESULT(VK_ERROR_FEATURE_NOT_PRESENT)
    EGFUSE_VK_RESULT(VK_ERROR_INCOMPATIBLE_DRIVER)
    EGFUSE_VK_RESULT(VK_ERROR_TOO_MANY_OBJECTS)
    EGFUSE_VK_RESULT(VK_ERROR_FORMAT_NOT_SUPPORTED)
    EGFUSE_VK_RESULT(VK_ERROR_FRAGMENTED_POOL)
    EGFUSE_VK_RESULT(VK_ERROR_OUT_OF_POOL_MEMORY)
    EGFUSE_VK_RESULT(VK_ERROR_INVALID_SHADER_NV)
#undef EGFUSE_VK_RESULT
    default: return "VK_ERROR_UNKNOWN";
  }
}

void check(VkResult r, const char* call) {
  if (r != VK_SUCCESS)
    throw Error(std::string("vulkan: ") + call + " failed: " + result_name(r) + " (" + std::to_string(int(r)) + ")");
}
#define VKC(call, ...) check(call(__VA_ARGS__), #call)

const char* type_name(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
  }
}

int type_rank(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
    default: return 4;
  }
}

VkInstance make_instance() {
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "egfuse";
  app.apiVersion = VK_API_VERSION_1_2;
  VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ci.pApplicationInfo = &app;
  VkInstance inst = VK_NULL_HANDLE;
  VKC(vkCreateInstance, &ci, nullptr, &inst);
  return inst;
}

std::vector<VkPhysicalDevice> physical_devices(VkInstance inst) {
  uint32_t n = 0;
  VKC(vkEnumeratePhysicalDevices, inst, &n, nullptr);
  std::vector<VkPhysicalDevice> v(n);
  VKC(vkEnumeratePhysicalDevices, inst, &n, v.data());
  return v;
}

int64_t extent_bytes(const TensorType& t) {
  if (t.numel() == 0) return 0;
  auto st = t.effective_strides();
  int64_t last = t.offset;
  for (size_t d = 0; d < t.shape.size(); ++d) last += (t.shape[d] - 1) * st[d];
  return (last + 1) * dtype_bytes(t.dtype);
}

}  // namespace

// ---------------------------------------------------------------- the device
struct VulkanDevice {
  VkInstance instance = VK_NULL_HANDLE;
  VkPhysicalDevice phys = VK_NULL_HANDLE;
  VkDevice dev = VK_NULL_HANDLE;
  VkQueue queue = VK_NULL_HANDLE;
  uint32_t family = 0;
  VkCommandPool pool = VK_NULL_HANDLE;
  VkPhysicalDeviceMemoryProperties mem{};
  SpirvDeviceLimits lim;
  float timestamp_period = 1;
  bool timestamps = false;
  uint32_t max_stage_storage_buffers = 0, max_set_storage_buffers = 0;
  VkDeviceSize max_storage_range = 0;

  ~VulkanDevice() {
    if (dev) {
      vkDeviceWaitIdle(dev);
      if (pool) vkDestroyCommandPool(dev, pool, nullptr);
      vkDestroyDevice(dev, nullptr);
    }
    if (instance) vkDestroyInstance(instance, nullptr);
  }

  uint32_t memory_type(uint32_t bits, VkMemoryPropertyFlags want, VkMemoryPropertyFlags fallback) const {
    for (VkMemoryPropertyFlags w : {want, fallback})
      for (uint32_t i = 0; i < mem.memoryTypeCount; ++i)
        if ((bits & (1u << i)) && (mem.memoryTypes[i].propertyFlags & w) == w) return i;
    throw Error("vulkan: no suitable memory type");
  }
};

std::vector<DeviceInfo> list_vulkan_devices() {
  VkInstance inst = make_instance();
  std::vector<DeviceInfo> out;
  for (auto pd : physical_devices(inst)) {
    VkPhysicalDeviceProperties pr;
    vkGetPhysicalDeviceProperties(pd, &pr);
    out.push_back({pr.deviceName, type_name(pr.deviceType), pr.apiVersion});
  }
  vkDestroyInstance(inst, nullptr);
  return out;
}

VulkanRunner::VulkanRunner(int device_index) : d_(std::make_unique<VulkanDevice>()) {
  VulkanDevice& d = *d_;
  d.instance = make_instance();
  auto pds = physical_devices(d.instance);
  if (pds.empty()) throw Error("vulkan: no physical device (is an ICD installed? VK_ICD_FILENAMES)");
  if (device_index >= int(pds.size()))
    throw Error("vulkan: --device " + std::to_string(device_index) + " but only " + std::to_string(pds.size()) +
                " device(s) are present");
  if (device_index >= 0) {
    d.phys = pds[size_t(device_index)];
  } else {
    int best = 99;
    for (auto pd : pds) {
      VkPhysicalDeviceProperties pr;
      vkGetPhysicalDeviceProperties(pd, &pr);
      if (type_rank(pr.deviceType) < best) best = type_rank(pr.deviceType), d.phys = pd;
    }
  }
  VkPhysicalDeviceSubgroupProperties sg{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceProperties2 pr2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  pr2.pNext = &sg;
  vkGetPhysicalDeviceProperties2(d.phys, &pr2);
  const VkPhysicalDeviceProperties& pr = pr2.properties;
  if (pr.apiVersion < VK_API_VERSION_1_2)
    throw Error(std::string("vulkan: device '") + pr.deviceName + "' supports Vulkan " +
                std::to_string(VK_API_VERSION_MAJOR(pr.apiVersion)) + "." +
                std::to_string(VK_API_VERSION_MINOR(pr.apiVersion)) + "; egfuse needs 1.2");
  vkGetPhysicalDeviceMemoryProperties(d.phys, &d.mem);

  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  f11.pNext = &f12;
  VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  f2.pNext = &f11;
  vkGetPhysicalDeviceFeatures2(d.phys, &f2);

  SpirvDeviceLimits& l = d.lim;
  l.device = pr.deviceName;
  l.subgroup_size = sg.subgroupSize;
  l.subgroup_arithmetic = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                          (sg.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
                          (sg.supportedOperations & VK_SUBGROUP_FEATURE_BASIC_BIT);
  l.max_invocations = pr.limits.maxComputeWorkGroupInvocations;
  l.max_shared_bytes = pr.limits.maxComputeSharedMemorySize;
  l.max_group_count_x = pr.limits.maxComputeWorkGroupCount[0];
  l.storage16 = f11.storageBuffer16BitAccess;
  l.storage8 = f12.storageBuffer8BitAccess;
  l.is_cpu = pr.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
  d.timestamp_period = pr.limits.timestampPeriod;
  d.max_stage_storage_buffers = std::min(pr.limits.maxPerStageDescriptorStorageBuffers, pr.limits.maxPerStageResources);
  d.max_set_storage_buffers = pr.limits.maxDescriptorSetStorageBuffers;
  d.max_storage_range = pr.limits.maxStorageBufferRange;

  uint32_t nq = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(d.phys, &nq, nullptr);
  std::vector<VkQueueFamilyProperties> qf(nq);
  vkGetPhysicalDeviceQueueFamilyProperties(d.phys, &nq, qf.data());
  bool found = false;
  for (uint32_t i = 0; i < nq && !found; ++i)
    if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) d.family = i, found = true;
  if (!found) throw Error(std::string("vulkan: device '") + pr.deviceName + "' has no compute queue");
  d.timestamps = qf[d.family].timestampValidBits > 0 && pr.limits.timestampComputeAndGraphics;

  // Enable only what the device has; emission checks the same flags.
  VkPhysicalDeviceVulkan12Features e12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  e12.storageBuffer8BitAccess = f12.storageBuffer8BitAccess;
  VkPhysicalDeviceVulkan11Features e11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  e11.storageBuffer16BitAccess = l.storage16;
  e11.pNext = &e12;
  float prio = 1;
  VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qci.queueFamilyIndex = d.family;
  qci.queueCount = 1;
  qci.pQueuePriorities = &prio;
  VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  dci.pNext = &e11;
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;
  VKC(vkCreateDevice, d.phys, &dci, nullptr, &d.dev);
  vkGetDeviceQueue(d.dev, d.family, 0, &d.queue);
  VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pci.queueFamilyIndex = d.family;
  VKC(vkCreateCommandPool, d.dev, &pci, nullptr, &d.pool);
}

VulkanRunner::~VulkanRunner() = default;
const SpirvDeviceLimits& VulkanRunner::limits() const { return d_->lim; }
std::string VulkanRunner::device_name() const { return d_->lim.device; }

// ---------------------------------------------------------------- one run
namespace {

struct Resources {
  VkDevice dev;
  std::vector<VkBuffer> buffers;
  std::vector<VkDeviceMemory> memories;
  std::vector<VkShaderModule> modules;
  std::vector<VkDescriptorSetLayout> set_layouts;
  std::vector<VkPipelineLayout> layouts;
  std::vector<VkPipeline> pipelines;
  VkDescriptorPool dpool = VK_NULL_HANDLE;
  VkQueryPool qpool = VK_NULL_HANDLE;
  VkFence fence = VK_NULL_HANDLE;
  ~Resources() {
    vkDeviceWaitIdle(dev);
    for (auto x : pipelines) vkDestroyPipeline(dev, x, nullptr);
    for (auto x : layouts) vkDestroyPipelineLayout(dev, x, nullptr);
    for (auto x : set_layouts) vkDestroyDescriptorSetLayout(dev, x, nullptr);
    for (auto x : modules) vkDestroyShaderModule(dev, x, nullptr);
    if (dpool) vkDestroyDescriptorPool(dev, dpool, nullptr);
    if (qpool) vkDestroyQueryPool(dev, qpool, nullptr);
    if (fence) vkDestroyFence(dev, fence, nullptr);
    for (auto x : buffers) vkDestroyBuffer(dev, x, nullptr);
    for (auto x : memories) vkFreeMemory(dev, x, nullptr);
  }
};

}  // namespace

RunResult VulkanRunner::run(const Plan& p, const std::vector<SpirvKernel>& kernels,
                            std::map<std::string, Tensor>& inputs, const RunOptions& opt) {
  VulkanDevice& d = *d_;
  Resources r{d.dev};
  RunResult result;
  result.device = d.lim.device;

  // Storage slots: one VkBuffer each, sized for every buffer that uses it.
  auto storage_of = [&](int b) {
    const PlanBuffer* pb = &p.buffers[size_t(b)];
    if (pb->storage >= 0) return pb->storage;
    while (pb->role == BufferRole::alias && pb->alias_of >= 0) b = pb->alias_of, pb = &p.buffers[size_t(b)];
    return 1000000 + b;
  };
  std::map<int, int64_t> slot_bytes;
  for (size_t b = 0; b < p.buffers.size(); ++b) {
    int64_t& s = slot_bytes[storage_of(int(b))];
    s = std::max(s, extent_bytes(p.buffers[b].type));
  }
  std::map<int, size_t> slot_index;
  std::vector<VkDeviceSize> slot_size, slot_offset;  // offset within staging
  VkDeviceSize staging_bytes = 0;
  for (auto& [slot, bytes] : slot_bytes) {
    VkDeviceSize sz = VkDeviceSize(std::max<int64_t>(16, (bytes + 15) / 16 * 16));
    slot_index[slot] = slot_size.size();
    slot_size.push_back(sz);
    slot_offset.push_back(staging_bytes);
    staging_bytes += sz;
  }
  // Device limits a plan must fit: exceeding them is undefined behaviour
  // (lavapipe crashes), so each is an error naming the kernel or buffer.
  for (auto& k : kernels)
    if (k.bindings.size() > d.max_stage_storage_buffers || k.bindings.size() > d.max_set_storage_buffers)
      throw Error("vulkan: kernel " + k.name + " binds " + std::to_string(k.bindings.size()) +
                  " storage buffers but device '" + d.lim.device + "' allows " +
                  std::to_string(std::min(d.max_stage_storage_buffers, d.max_set_storage_buffers)) +
                  " per shader (maxPerStageDescriptorStorageBuffers)");
  for (size_t b = 0; b < p.buffers.size(); ++b)
    if (VkDeviceSize(extent_bytes(p.buffers[b].type)) > d.max_storage_range)
      throw Error("vulkan: buffer '" + p.buffers[b].name + "' spans " + std::to_string(extent_bytes(p.buffers[b].type)) +
                  " bytes but device '" + d.lim.device + "' binds at most " + std::to_string(d.max_storage_range) +
                  " (maxStorageBufferRange)");
  auto make_buffer = [&](VkDeviceSize size, VkBufferUsageFlags usage, VkMemoryPropertyFlags want,
                         VkMemoryPropertyFlags fallback) {
    VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bci.size = size;
    bci.usage = usage;
    bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    VkBuffer buf;
    VKC(vkCreateBuffer, d.dev, &bci, nullptr, &buf);
    r.buffers.push_back(buf);
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(d.dev, buf, &req);
    VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    mai.allocationSize = req.size;
    mai.memoryTypeIndex = d.memory_type(req.memoryTypeBits, want, fallback);
    VkDeviceMemory mem;
    VKC(vkAllocateMemory, d.dev, &mai, nullptr, &mem);
    r.memories.push_back(mem);
    VKC(vkBindBufferMemory, d.dev, buf, mem, 0);
    return std::pair{buf, mem};
  };
  std::vector<VkBuffer> slot_buf;
  for (auto sz : slot_size)
    slot_buf.push_back(make_buffer(sz,
                                   VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                       VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                                   VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0)
                           .first);
  auto [staging, staging_mem] =
      make_buffer(staging_bytes, VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                  VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT |
                      VK_MEMORY_PROPERTY_HOST_CACHED_BIT,
                  VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
  void* mapped = nullptr;
  VKC(vkMapMemory, d.dev, staging_mem, 0, VK_WHOLE_SIZE, 0, &mapped);
  uint8_t* host = static_cast<uint8_t*>(mapped);
  std::memset(host, 0, size_t(staging_bytes));
  for (int b : p.inputs) {
    const PlanBuffer& pb = p.buffers[size_t(b)];
    auto it = inputs.find(pb.name);
    if (it == inputs.end()) throw Error("vulkan: no value for input '" + pb.name + "'");
    if (it->second.numel() != pb.type.numel())
      throw Error("vulkan: input '" + pb.name + "' has " + std::to_string(it->second.numel()) + " elements, expected " +
                  std::to_string(pb.type.numel()));
    uint8_t* base = host + slot_offset[slot_index.at(storage_of(b))];
    int es = dtype_bytes(pb.type.dtype);
    for_each_element(pb.type, [&](int64_t i, int64_t pos) {
      store_element(pb.type.dtype, base + pos * es, it->second.data[size_t(i)]);
    });
  }

  // Pipelines and descriptor sets.
  uint32_t total_bindings = 0;
  for (auto& k : kernels) total_bindings += uint32_t(k.bindings.size());
  VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, std::max<uint32_t>(1, total_bindings)};
  VkDescriptorPoolCreateInfo dpci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  dpci.maxSets = std::max<uint32_t>(1, uint32_t(kernels.size()));
  dpci.poolSizeCount = 1;
  dpci.pPoolSizes = &ps;
  VKC(vkCreateDescriptorPool, d.dev, &dpci, nullptr, &r.dpool);
  std::vector<VkDescriptorSet> sets;
  for (auto& k : kernels) {
    VkShaderModuleCreateInfo smci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    smci.codeSize = k.binary.size() * 4;
    smci.pCode = k.binary.data();
    VkShaderModule sm;
    VKC(vkCreateShaderModule, d.dev, &smci, nullptr, &sm);
    r.modules.push_back(sm);
    std::vector<VkDescriptorSetLayoutBinding> lb(k.bindings.size());
    for (size_t i = 0; i < lb.size(); ++i)
      lb[i] = {uint32_t(i), VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
    VkDescriptorSetLayoutCreateInfo slci{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    slci.bindingCount = uint32_t(lb.size());
    slci.pBindings = lb.data();
    VkDescriptorSetLayout sl;
    VKC(vkCreateDescriptorSetLayout, d.dev, &slci, nullptr, &sl);
    r.set_layouts.push_back(sl);
    VkPipelineLayoutCreateInfo plci{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    plci.setLayoutCount = 1;
    plci.pSetLayouts = &sl;
    VkPipelineLayout pl;
    VKC(vkCreatePipelineLayout, d.dev, &plci, nullptr, &pl);
    r.layouts.push_back(pl);
    VkComputePipelineCreateInfo cpci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    cpci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
    cpci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    cpci.stage.module = sm;
    cpci.stage.pName = "main";
    cpci.layout = pl;
    VkPipeline pipe;
    VKC(vkCreateComputePipelines, d.dev, VK_NULL_HANDLE, 1, &cpci, nullptr, &pipe);
    r.pipelines.push_back(pipe);
    VkDescriptorSetAllocateInfo dsai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    dsai.descriptorPool = r.dpool;
    dsai.descriptorSetCount = 1;
    dsai.pSetLayouts = &sl;
    VkDescriptorSet set;
    VKC(vkAllocateDescriptorSets, d.dev, &dsai, &set);
    sets.push_back(set);
    std::vector<VkDescriptorBufferInfo> infos(k.bindings.size());
    std::vector<VkWriteDescriptorSet> writes(k.bindings.size());
    for (size_t i = 0; i < infos.size(); ++i) {
      size_t s = slot_index.at(storage_of(k.bindings[i]));
      infos[i] = {slot_buf[s], 0, VK_WHOLE_SIZE};
      writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
      writes[i].dstSet = set;
      writes[i].dstBinding = uint32_t(i);
      writes[i].descriptorCount = 1;
      writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      writes[i].pBufferInfo = &infos[i];
    }
    if (!writes.empty()) vkUpdateDescriptorSets(d.dev, uint32_t(writes.size()), writes.data(), 0, nullptr);
  }
  uint32_t nq = uint32_t(kernels.size()) + 1;
  if (d.timestamps) {
    VkQueryPoolCreateInfo qpci{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    qpci.queryType = VK_QUERY_TYPE_TIMESTAMP;
    qpci.queryCount = nq;
    VKC(vkCreateQueryPool, d.dev, &qpci, nullptr, &r.qpool);
  }
  VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  VKC(vkCreateFence, d.dev, &fci, nullptr, &r.fence);

  VkCommandBuffer cmds[3];
  VkCommandBufferAllocateInfo cbai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  cbai.commandPool = d.pool;
  cbai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  cbai.commandBufferCount = 3;
  VKC(vkAllocateCommandBuffers, d.dev, &cbai, cmds);
  struct FreeCmds {
    VkDevice dev;
    VkCommandPool pool;
    VkCommandBuffer* c;
    ~FreeCmds() { vkFreeCommandBuffers(dev, pool, 3, c); }
  } free_cmds{d.dev, d.pool, cmds};
  VkCommandBuffer upload = cmds[0], plan = cmds[1], download = cmds[2];
  VkCommandBufferBeginInfo cbbi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  auto global_barrier = [](VkCommandBuffer c, VkPipelineStageFlags src, VkAccessFlags sa, VkPipelineStageFlags dst,
                           VkAccessFlags da) {
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = sa;
    mb.dstAccessMask = da;
    vkCmdPipelineBarrier(c, src, dst, 0, 1, &mb, 0, nullptr, 0, nullptr);
  };

  VKC(vkBeginCommandBuffer, upload, &cbbi);
  for (size_t s = 0; s < slot_buf.size(); ++s) {
    VkBufferCopy bc{slot_offset[s], 0, slot_size[s]};
    vkCmdCopyBuffer(upload, staging, slot_buf[s], 1, &bc);
  }
  global_barrier(upload, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                 VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
  VKC(vkEndCommandBuffer, upload);

  // The plan: one command buffer, a barrier only where a kernel touches a
  // storage written (RAW, WAW) or read (WAR) since the last barrier.
  VKC(vkBeginCommandBuffer, plan, &cbbi);
  if (r.qpool) {
    vkCmdResetQueryPool(plan, r.qpool, 0, nq);
    vkCmdWriteTimestamp(plan, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, r.qpool, 0);
  }
  std::set<int> written, read;
  barriers_ = 0;
  for (size_t i = 0; i < kernels.size(); ++i) {
    auto& k = kernels[i];
    bool need = false;
    for (int b : k.reads_storage_of) need = need || written.count(storage_of(b));
    for (int b : k.writes_storage_of) need = need || written.count(storage_of(b)) || read.count(storage_of(b));
    if (need) {
      global_barrier(plan, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_SHADER_READ_BIT,
                     VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
      written.clear();
      read.clear();
      ++barriers_;
    }
    for (int b : k.reads_storage_of) read.insert(storage_of(b));
    for (int b : k.writes_storage_of) written.insert(storage_of(b));
    vkCmdBindPipeline(plan, VK_PIPELINE_BIND_POINT_COMPUTE, r.pipelines[i]);
    vkCmdBindDescriptorSets(plan, VK_PIPELINE_BIND_POINT_COMPUTE, r.layouts[i], 0, 1, &sets[i], 0, nullptr);
    vkCmdDispatch(plan, k.groups[0], k.groups[1], k.groups[2]);
    if (r.qpool) vkCmdWriteTimestamp(plan, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, r.qpool, uint32_t(i + 1));
  }
  VKC(vkEndCommandBuffer, plan);

  VKC(vkBeginCommandBuffer, download, &cbbi);
  global_barrier(download, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
                 VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_READ_BIT);
  for (size_t s = 0; s < slot_buf.size(); ++s) {
    VkBufferCopy bc{0, slot_offset[s], slot_size[s]};
    vkCmdCopyBuffer(download, slot_buf[s], staging, 1, &bc);
  }
  global_barrier(download, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT,
                 VK_ACCESS_HOST_READ_BIT);
  VKC(vkEndCommandBuffer, download);

  auto submit = [&](VkCommandBuffer c) {
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &c;
    VKC(vkQueueSubmit, d.queue, 1, &si, r.fence);
    VKC(vkWaitForFences, d.dev, 1, &r.fence, VK_TRUE, UINT64_MAX);
    VKC(vkResetFences, d.dev, 1, &r.fence);
  };
  auto read_times = [&](std::vector<double>& per_kernel) {
    std::vector<uint64_t> ts(nq);
    VKC(vkGetQueryPoolResults, d.dev, r.qpool, 0, nq, ts.size() * 8, ts.data(), 8,
        VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    per_kernel.clear();
    for (uint32_t i = 1; i < nq; ++i) per_kernel.push_back(double(ts[i] - ts[i - 1]) * d.timestamp_period * 1e-6);
    return double(ts[nq - 1] - ts[0]) * d.timestamp_period * 1e-6;
  };
  submit(upload);
  submit(plan);
  if (r.qpool) read_times(result.kernel_ms);
  submit(download);

  for (auto& [name, b] : p.outputs) {
    const PlanBuffer& pb = p.buffers[size_t(b)];
    Tensor t;
    t.type = TensorType{pb.type.dtype, pb.type.shape, {}, 0};
    t.data.assign(size_t(pb.type.numel()), 0.0);
    const uint8_t* base = host + slot_offset[slot_index.at(storage_of(b))];
    int es = dtype_bytes(pb.type.dtype);
    for_each_element(pb.type, [&](int64_t i, int64_t pos) { t.data[size_t(i)] = load_element(pb.type.dtype, base + pos * es); });
    result.outputs[name] = std::move(t);
  }
  for (int b : p.inputs) {
    const PlanBuffer& pb = p.buffers[size_t(b)];
    if (!pb.is_mutable_input) continue;
    Tensor& t = inputs[pb.name];
    t.data.resize(size_t(pb.type.numel()));
    const uint8_t* base = host + slot_offset[slot_index.at(storage_of(b))];
    int es = dtype_bytes(pb.type.dtype);
    for_each_element(pb.type, [&](int64_t i, int64_t pos) { t.data[size_t(i)] = load_element(pb.type.dtype, base + pos * es); });
  }

  // Timing runs come after the results are read: plans that mutate their
  // inputs would otherwise be measured on changed data and return it.
  if (opt.timing_reps > 0 && r.qpool) {
    submit(plan);  // warm-up
    std::vector<double> totals;
    std::vector<std::vector<double>> per(kernels.size());
    for (int i = 0; i < opt.timing_reps; ++i) {
      submit(plan);
      std::vector<double> pk;
      totals.push_back(read_times(pk));
      for (size_t j = 0; j < pk.size(); ++j) per[j].push_back(pk[j]);
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    result.median_ms = median(totals);
    result.kernel_ms.clear();
    for (auto& v : per) result.kernel_ms.push_back(median(v));
  }
  vkUnmapMemory(d.dev, staging_mem);
  return result;
}

double VulkanRunner::copy_gbps(int64_t bytes, int reps) {
  VulkanDevice& d = *d_;
  if (!d.timestamps) return 0;
  Resources r{d.dev};
  VkBuffer bufs[2];
  for (auto& b : bufs) {
    VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bci.size = VkDeviceSize(bytes);
    bci.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    VKC(vkCreateBuffer, d.dev, &bci, nullptr, &b);
    r.buffers.push_back(b);
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(d.dev, b, &req);
    VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    mai.allocationSize = req.size;
    mai.memoryTypeIndex = d.memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0);
    VkDeviceMemory mem;
    VKC(vkAllocateMemory, d.dev, &mai, nullptr, &mem);
    r.memories.push_back(mem);
    VKC(vkBindBufferMemory, d.dev, b, mem, 0);
  }
  VkQueryPoolCreateInfo qpci{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
  qpci.queryType = VK_QUERY_TYPE_TIMESTAMP;
  qpci.queryCount = 2;
  VKC(vkCreateQueryPool, d.dev, &qpci, nullptr, &r.qpool);
  VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  VKC(vkCreateFence, d.dev, &fci, nullptr, &r.fence);
  VkCommandBuffer cmd;
  VkCommandBufferAllocateInfo cbai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  cbai.commandPool = d.pool;
  cbai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  cbai.commandBufferCount = 1;
  VKC(vkAllocateCommandBuffers, d.dev, &cbai, &cmd);
  VkCommandBufferBeginInfo cbbi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  VKC(vkBeginCommandBuffer, cmd, &cbbi);
  vkCmdResetQueryPool(cmd, r.qpool, 0, 2);
  vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, r.qpool, 0);
  VkBufferCopy bc{0, 0, VkDeviceSize(bytes)};
  vkCmdCopyBuffer(cmd, bufs[0], bufs[1], 1, &bc);
  vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, r.qpool, 1);
  VKC(vkEndCommandBuffer, cmd);
  std::vector<double> t;
  for (int i = 0; i <= reps; ++i) {
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd;
    VKC(vkQueueSubmit, d.queue, 1, &si, r.fence);
    VKC(vkWaitForFences, d.dev, 1, &r.fence, VK_TRUE, UINT64_MAX);
    VKC(vkResetFences, d.dev, 1, &r.fence);
    uint64_t ts[2];
    VKC(vkGetQueryPoolResults, d.dev, r.qpool, 0, 2, sizeof ts, ts, 8, VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    if (i > 0) t.push_back(double(ts[1] - ts[0]) * d.timestamp_period * 1e-9);
  }
  vkFreeCommandBuffers(d.dev, d.pool, 1, &cmd);
  std::sort(t.begin(), t.end());
  return 2.0 * double(bytes) / t[t.size() / 2] / 1e9;
}

}  // namespace egfuse::spirv
