// Internal: turning a partition of a graph's nodes into kernels into a Plan.
// Shared by plan_unfused (one node per kernel) and fusion (kernels chosen by
// extraction). The caller decides which nodes form each kernel; this code
// decides buffers (what is materialized, views as strided aliases), kernel
// order (data dependencies plus "readers of an old version before its
// overwrite"), lifetimes and temporary reuse.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "egfuse/ir.hpp"
#include "egfuse/plan.hpp"

namespace egfuse::plan_detail {

struct KernelGroup {
  std::vector<NodeId> nodes;        // graph nodes computed by the kernel (any order)
  std::vector<std::string> rules;   // rules whose rewrites formed it
};

// Nodes no group holds: inputs, and views expressible as strided aliases of a
// materialized buffer (the others get a copy kernel here). Mutation outputs
// are moved into their template's group. Throws egfuse::Error when the groups
// cannot be ordered (a cycle) or a kernel would read a version of a storage it
// overwrites itself.
Plan build_plan(const Graph& g, const TemplateRegistry& reg, std::vector<KernelGroup> groups);

// Storage version read through node n: the node that produced the bytes a
// read of n sees (views pass through; a mutation output is a new version).
NodeId version_of(const Graph& g, NodeId n);

// Cost model shared by fusion and the unfused plan: memory traffic in bytes
// plus a launch overhead plus compute, all in bytes-equivalent units.
inline constexpr double kLaunchCost = 8192;      // ~3 us at 3 TB/s
inline constexpr double kFlopsPerByte = 256;     // tensor-core flops per byte of bandwidth
double kernel_cost(const Plan& p, const PlanKernel& k, const TemplateRegistry& reg);

// The strided type of a view of `src` (a buffer type), or nullopt when the view
// cannot be expressed by strides over src's storage.
std::optional<TensorType> view_type(const Node& view, const TensorType& src);

// Element extent of a (possibly strided) type in its storage: offset + last index + 1.
int64_t storage_extent(const TensorType& t);

}  // namespace egfuse::plan_detail
