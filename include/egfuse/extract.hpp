// Kernel-aware extraction (docs/egraph.md, "Extraction").
//
// A kernel is a maximal buf-free subterm. Every e-class has two choices: the
// e-node that computes it as a kernel root (its value is written to memory)
// and the e-node that computes it inline inside a consumer's kernel (pointwise
// nodes, leaves, literals and reads through buf only). Cost, in nanoseconds:
//   kernel = launch_ns + bytes written / bandwidth + compute(root node)
//            + for each child: its inline cost (per use), or a read of its buffer
//   inline = compute(node) + inline cost of its children (per use: an inline
//            expression used twice is paid twice); a leaf or buf(Y) costs a read
// and a buffer read by several kernels is computed (written) once.
// The exact extractor is a branch and bound over the choices of the classes a
// solution uses; the greedy one is DAG-aware (shared kernels counted once).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "egfuse/egraph.hpp"

namespace egfuse::eg {

// Per-target parameters (values in docs/egraph.md).
struct TargetParams {
  std::string name = "unit";
  double bytes_per_ns = 1;         // memory bandwidth
  double launch_ns = 0;            // launch + ramp per kernel
  double flops_per_ns = 1;         // scalar (CUDA core / SIMD) throughput
  double tensor_flops_per_ns = 1;  // matrix unit throughput (templates)
  double default_bytes = 4;        // a value without a known type: one f32 element
  static TargetParams unit();      // every op costs 1, nothing else: AST size
  static TargetParams h100();      // NVIDIA H100 SXM (measured, ../shared/toolchain.md)
  static TargetParams lavapipe();  // Vulkan on the CPU (llvmpipe)
  static const TargetParams* by_name(const std::string& n);  // "unit", "h100", "lavapipe"
};

enum class NodeRole : uint8_t { leaf, literal, materialize, pointwise, reduction, template_, opaque };
std::string_view role_name(NodeRole);

class CostModel {
 public:
  explicit CostModel(TargetParams p = TargetParams::unit()) : params(std::move(p)) {}
  virtual ~CostModel() = default;
  TargetParams params;
  // Defaults use OpInfo: materialize -> buf, is_template, reduction, storage
  // leaves and 0-ary symbols -> leaf, numbers -> literal, everything else pointwise.
  virtual NodeRole role(const EGraph& g, Id node) const;
  virtual double bytes(const EGraph& g, Id cls) const;      // size of the class's value
  virtual double compute_ns(const EGraph& g, Id node) const;
  // Whether child i of `node` may be computed inside node's kernel.
  virtual bool inline_ok(const EGraph& g, Id node, size_t child) const;
  // Template flops (default 2 * numel(out) * last dim of input 0, or numel(out)).
  std::function<double(const EGraph&, Id node)> template_flops;
};

struct Choices {
  std::vector<Id> root, inl;  // per class id (indexed by canonical id); kNoId = none
};

struct ExtractOptions {
  enum class Method : uint8_t { automatic, exact, greedy } method = Method::automatic;
  size_t exact_max_classes = 64;     // automatic: exact up to this many reachable classes
  uint64_t exact_budget = 2000000;   // branch-and-bound steps before giving up (then greedy)
};

struct Extraction {
  Id root = kNoId;
  double cost = std::numeric_limits<double>::infinity();
  bool exact = false;            // proven optimal
  std::string method;            // "exact", "greedy"
  Choices choices;
  std::vector<Id> kernels;       // classes computed as kernels, producers first
  Term term;                     // the chosen term of the root
};

// Cost of a set of choices for `root` (infinity when they are cyclic or
// incomplete); kernels (producers first) in `kernels` when non-null.
double evaluate(const EGraph& g, Id root, const Choices& c, const CostModel& m, std::vector<Id>* kernels = nullptr);
Extraction extract_greedy(const EGraph& g, Id root, const CostModel& m);
Extraction extract_exact(const EGraph& g, Id root, const CostModel& m, uint64_t budget = 2000000);
// Exact for small e-graphs, greedy otherwise. Writes "extract" trace events
// (one per chosen class) when the e-graph has a trace.
Extraction extract(const EGraph& g, Id root, const CostModel& m, ExtractOptions o = {});
// The term that `c` chooses for class `cls` computed as a kernel root.
Term chosen_term(const EGraph& g, Id cls, const Choices& c, const CostModel& m);

}  // namespace egfuse::eg
