// Internal to engine/fusion: the rule families, the kernel legality test (the
// tensor guards), the cost model over candidate kernels, and the partitioner.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "egfuse/ir.hpp"
#include "egfuse/rule_ast.hpp"
#include "egfuse/templates.hpp"
#include "engine/plan/plan_build.hpp"

namespace egfuse::eg {
class Trace;
}

namespace egfuse::fusion_detail {

// Rule families. A family is enabled when the rule set holds a rule whose name
// starts with the family's name (e.g. "template-epilogue-pointwise").
enum Family : uint8_t {
  pointwise_inline,
  template_epilogue,
  template_prologue,
  reduction_prologue,
  reduction_epilogue,
  extern_epilogue,
  horizontal,
  multi_output_epilogue,
  multi_reduction,
  kNumFamilies
};
std::string_view family_name(Family f);

struct FamilySet {
  std::array<bool, kNumFamilies> on{};
  size_t max_buffers = 0;  // most buffers one kernel may bind (0: no limit)
  bool operator[](Family f) const { return on[f]; }
};

// Duplicates every view and constant per user, so that each can join its
// user's kernel (views and scalar fills are free to repeat). `origin` maps
// each new node to the node of `g` it copies.
Graph clone_views_per_user(const Graph& g, std::vector<NodeId>& origin);

// The graph encoded as e-graph terms (reads of computed values through buf)
// and saturated with the rule set's fusion schedule (saturate.cpp).
class Saturation {
 public:
  Saturation();
  ~Saturation();
  Saturation(Saturation&&) noexcept;
  Saturation& operator=(Saturation&&) noexcept;
  // May input `slot` of node n be computed inline (in n's kernel)? True when
  // the rules made n's term with that operand buf-free (or it is an alias of
  // a graph input, which has nothing to fuse).
  bool read_fusable(const Graph& g, NodeId n, size_t slot) const;
  // The rules ("name @ file:line") whose rewrites made that read buf-free:
  // the rule-labelled edges of the proof forest between the encoded node and
  // its buf-free twin. Empty for a read that is not fused or not through buf.
  std::vector<std::string> read_rules(const Graph& g, NodeId n, size_t slot) const;

  size_t nodes = 0, classes = 0, iterations = 0;
  std::string stop_reason;
  double saturate_ms = 0;

  struct Impl;

  // Template kinds the rules made equal to an extern node (the mutation rules:
  // extern index_copy_ == kv_cache_update): the same children, an op that is
  // a template kind. Each with the rules on the way (as read_rules).
  struct Alternative {
    NodeId node;
    std::string kind;
    std::vector<std::string> rules;
  };
  std::vector<Alternative> template_alternatives(const Graph& g) const;
  // Node n is now the template `kind` (extraction took the alternative): its
  // reads are looked up on that node from here on.
  void retarget(NodeId n, const std::string& kind);

 private:
  uint32_t fused_node(const Graph& g, NodeId n, size_t slot) const;  // eg::Id or kNoId
  std::vector<std::string> rules_between(uint32_t a, uint32_t b) const;
  std::unique_ptr<Impl> impl_;
  friend Saturation saturate(const Graph&, const rules::RuleSet&, const TemplateRegistry&, const std::string&,
                             eg::Trace*, double&);
};
Saturation saturate(const Graph& g, const rules::RuleSet& rs, const TemplateRegistry& reg, const std::string& schedule,
                    eg::Trace* trace, double& encode_ms);

struct Partition {
  std::vector<plan_detail::KernelGroup> groups;
  std::vector<std::vector<Family>> families;  // per group: families that formed it
};

// Greedy kernel formation over the (cloned) graph: merges a producer's kernel
// into its consumer's when the union is a legal kernel, keeps the kernel order
// acyclic, and lowers the cost; then horizontal merges of independent kernels
// with the same iteration space that share a read.
// `fusable(n, slot)` (when given) says which reads the rules allow to fuse
// (Saturation::read_fusable).
using ReadFilter = std::function<bool(NodeId, size_t)>;
// `choice(consumer, producer, family, fused, why)` hears every merge decision
// of a producer into a consumer (why: "" when fused, else the reason).
using ChoiceSink = std::function<void(NodeId, NodeId, Family, bool, const char*)>;
Partition partition(const Graph& g, const TemplateRegistry& reg, const FamilySet& families, bool multi_output,
                    const ReadFilter& fusable = {}, const ChoiceSink& choice = {});

}  // namespace egfuse::fusion_detail
