// Epilogue indices, shared by the backends (host-side analysis only; each
// backend emits its own index arithmetic from the steps).
//
// A reduction or template kernel knows its root's value (the accumulator) at
// one index only. An output computed after the root must be stored at the
// index whose element reads the root at exactly that index: through a permute
// (or a reshape that is not the root's own linear order) this is not the
// root's index, nor its linear position. epilogue_steps lists, from the root
// up to the output, how to invert each step; a backend applies them to the
// root index in order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "egfuse/ir.hpp"

namespace egfuse {

struct EpilogueStep {
  enum class Kind : uint8_t {
    same,         // the node's index is its input's (cast, a slice keeping every element)
    reshape,      // unravel(ravel(xi, from), to)
    permute,      // idx[d] = xi[perm[d]]
    unbroadcast,  // idx = (0 for the `to.size() - from.size()` leading dims, then xi): same-size broadcast
  };
  Kind kind = Kind::same;
  NodeId node = kNoNode;  // the node whose index this step gives
  Shape from, to;         // the input's shape (towards the root), the node's shape
  std::vector<int64_t> perm;
};

// The steps from `root` to `out` (first step next to the root). Throws an
// Error naming `out` (and `context`, e.g. the kernel) when out does not read
// each element of root exactly once: a step that changes the element count or
// broadcasts, a node that cannot be followed, or two paths from root that read
// it at different indices of one element (add(t, permute(t))).
std::vector<EpilogueStep> epilogue_steps(const Graph& g, NodeId out, NodeId root, const std::string& context);

}  // namespace egfuse
