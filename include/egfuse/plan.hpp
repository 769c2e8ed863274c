// The kernel plan: ordered kernels over named buffers. Produced by fusion
// (or by plan_unfused), consumed by the interpreter, the validator and the
// backends. A kernel's body is a small IR graph: its Op::input nodes are the
// buffers it reads (in `reads` order), its outputs are the buffers it writes
// (in `writes` order).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "egfuse/diagnostics.hpp"
#include "egfuse/ir.hpp"

namespace egfuse {

class TemplateRegistry;

enum class BufferRole : uint8_t { input, output, temp, alias };
std::string_view role_name(BufferRole);

struct PlanBuffer {
  std::string name;
  TensorType type;          // dtype, shape; strides/offset when it is a view of its storage
  BufferRole role = BufferRole::temp;
  int alias_of = -1;        // for role alias: the buffer whose storage it shares (mutation output)
  int storage = -1;         // storage slot id; temporaries with disjoint lifetimes may share one
  int first_use = -1, last_use = -1;  // kernel indices (lifetime)
  std::string graph_node;   // name of the graph node it holds
  bool is_mutable_input = false;
  int64_t bytes() const;
};

enum class KernelKind : uint8_t { pointwise, reduction, template_, extern_ };
std::string_view kernel_kind_name(KernelKind);

struct PlanKernel {
  std::string name;                 // "k3_mm_gelu"
  KernelKind kind = KernelKind::pointwise;
  Graph body;                       // inputs = reads, outputs = writes
  std::vector<int> reads;           // buffer ids, body input i reads buffer reads[i]
  std::vector<int> writes;          // buffer ids, body output j writes buffer writes[j]
  std::vector<std::string> nodes;   // graph nodes computed here (for reports, traces)
  std::vector<std::string> rules;   // rules whose rewrites formed this kernel ("name @ file:line")
  double cost = 0;                  // cost model estimate
};

struct Plan {
  std::string graph_name;
  std::vector<PlanBuffer> buffers;
  std::vector<PlanKernel> kernels;
  std::vector<int> inputs;    // buffer ids in graph input order
  std::vector<std::pair<std::string, int>> outputs;  // graph output name -> buffer id

  int64_t bytes_moved() const;   // sum over kernels of bytes read + written
  std::string to_text() const;   // readable form (docs/kernel-plan.md)
  std::string to_json() const;   // same content as JSON
};

// A reduction kernel's iteration space (engine/plan/reduction_space.cpp; shared by fusion, the validator and the backends): the rows of the
// reductions' common input. Several reductions share a kernel when they reduce
// the same input shape over the same axes (softmax: max, then sum of exp(x -
// max); layernorm: mean, then variance). Each computed node is at one level:
//   free     depends on no reduction of the kernel (a prologue value)
//   row      at the input's shape, reading results broadcast back over the row
//   per_row  one value per row (a reduction, or pointwise after reductions)
struct ReductionSpace {
  enum Level : uint8_t { outside, free, row, per_row };
  std::vector<NodeId> reductions;  // in graph order: the phases
  Shape input_shape, keep_shape;   // keep_shape: reduced dimensions set to 1
  std::vector<bool> reduced;       // per input dimension
  int64_t rows = 0, row_len = 0;
  std::vector<Level> level;        // per graph node
};
// Checks the kernel of `nodes` (those with inside(n); inputs outside): every
// reduction over the same space, every node at one level, reductions' results
// read only at their own row. Returns "" or why not; fills *out when given.
std::string analyse_reduction_kernel(const Graph& g, const std::vector<NodeId>& nodes,
                                     const std::function<bool(NodeId)>& inside, ReductionSpace* out = nullptr);

// One kernel per non-view node: the plan of the unfused program (every value
// materialized). Views become strided buffer aliases, not kernels.
Plan plan_unfused(const Graph& g, const TemplateRegistry& reg);

// Validates topological order, hazards (RAW, WAR, WAW on shared storage),
// codegen-ability (at most one template or reduction root per kernel, templates
// never inline), and shapes. Each violation is a diagnostic naming the kernel
// and the buffers.
bool validate_plan(const Plan& p, const TemplateRegistry& reg, Diagnostics& diags);

}  // namespace egfuse
