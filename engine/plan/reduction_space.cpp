// The iteration space of a reduction kernel. Several reductions share one
// kernel when they reduce the same input shape over the same axes: the kernel
// walks the rows once per reduction (phases in order), then once more for the
// values stored over the full row. Every computed node is at one of three
// levels; the check makes sure that a node reads a reduction's result only at
// its own row (a broadcast back over the reduced dimensions), which is what
// the backends' per-row override of a reduction's value computes.
#include <algorithm>
#include <unordered_map>

#include "egfuse/plan.hpp"

namespace egfuse {

namespace {
std::vector<int64_t> normalized_axes(const Node& r, size_t rank) {
  std::vector<int64_t> a;
  for (int64_t x : std::get<ReduceAttrs>(r.attrs).axes) a.push_back(x < 0 ? x + int64_t(rank) : x);
  std::sort(a.begin(), a.end());
  a.erase(std::unique(a.begin(), a.end()), a.end());
  return a;
}
Shape padded(Shape s, size_t rank) {
  while (s.size() < rank) s.insert(s.begin(), 1);
  return s;
}
}  // namespace

std::string analyse_reduction_kernel(const Graph& g, const std::vector<NodeId>& nodes,
                                     const std::function<bool(NodeId)>& inside, ReductionSpace* out) {
  std::vector<NodeId> sorted = nodes;
  std::sort(sorted.begin(), sorted.end());
  ReductionSpace sp;
  for (NodeId n : sorted)
    if (is_reduction(g[n].op)) sp.reductions.push_back(n);
  if (sp.reductions.empty()) return "no reduction";
  const Node& r0 = g[sp.reductions[0]];
  sp.input_shape = g[r0.inputs[0]].type.shape;
  const size_t rank = sp.input_shape.size();
  auto axes = normalized_axes(r0, rank);
  for (NodeId r : sp.reductions) {
    if (g[g[r].inputs[0]].type.shape != sp.input_shape || normalized_axes(g[r], rank) != axes)
      return "reductions over different iteration spaces (input shape or reduced axes differ)";
  }
  sp.reduced.assign(rank, false);
  for (int64_t a : axes)
    if (a >= 0 && size_t(a) < rank) sp.reduced[size_t(a)] = true;
  sp.keep_shape = sp.input_shape;
  sp.rows = 1;
  sp.row_len = 1;
  for (size_t d = 0; d < rank; ++d) {
    if (sp.reduced[d]) {
      sp.row_len *= sp.input_shape[d];
      sp.keep_shape[d] = 1;
    } else {
      sp.rows *= sp.input_shape[d];
    }
  }
  std::unordered_map<NodeId, ReductionSpace::Level> lvl;
  auto L = [&](NodeId u) {
    if (!inside(u)) return ReductionSpace::outside;
    auto it = lvl.find(u);
    return it == lvl.end() ? ReductionSpace::outside : it->second;
  };
  auto dep = [&](ReductionSpace::Level l) { return l == ReductionSpace::row || l == ReductionSpace::per_row; };
  for (NodeId n : sorted) {
    const Node& x = g[n];
    if (x.op == Op::input) continue;
    if (is_reduction(x.op)) {
      if (L(x.inputs[0]) == ReductionSpace::per_row && x.type.numel() != g[x.inputs[0]].type.numel())
        return "a reduction reads a per-row value of another reduction without broadcasting it";
      if (x.type.numel() != sp.rows) return "a reduction with another number of rows";
      lvl[n] = ReductionSpace::per_row;
      continue;
    }
    bool d = std::any_of(x.inputs.begin(), x.inputs.end(), [&](NodeId u) { return dep(L(u)); });
    if (!d) {
      lvl[n] = ReductionSpace::free;
      continue;
    }
    if (is_view(x.op)) {
      NodeId u = x.inputs[0];
      if (L(u) == ReductionSpace::per_row && x.op == Op::reshape && x.type.numel() == sp.rows) {
        lvl[n] = ReductionSpace::per_row;  // row-major order kept: element o stays element o
      } else if (L(u) == ReductionSpace::per_row && x.op == Op::expand && x.type.shape == sp.input_shape &&
                 padded(g[u].type.shape, rank) == sp.keep_shape) {
        lvl[n] = ReductionSpace::row;  // broadcast back over the reduced dimensions
      } else {
        return "a view of a value computed from a reduction that moves elements to other rows";
      }
      continue;
    }
    if (x.type.shape == sp.input_shape) {
      for (NodeId u : x.inputs) {
        auto lu = L(u);
        if (lu == ReductionSpace::row && g[u].type.shape != x.type.shape)
          return "a full-row value read at another shape";
        if (lu == ReductionSpace::per_row && padded(g[u].type.shape, rank) != sp.keep_shape)
          return "a reduction's result read at another row (not broadcast over the reduced dimensions)";
      }
      lvl[n] = ReductionSpace::row;
    } else if (x.type.numel() == sp.rows) {
      for (NodeId u : x.inputs) {
        auto lu = L(u);
        if (lu == ReductionSpace::row) return "a per-row value computed from a full row without a reduction";
        if (lu == ReductionSpace::per_row && padded(g[u].type.shape, x.type.shape.size()) != x.type.shape)
          return "the epilogue reads the reduction's result at two different indices";
      }
      lvl[n] = ReductionSpace::per_row;
    } else {
      return "an epilogue with another iteration space than the reduction";
    }
  }
  if (out) {
    sp.level.assign(g.size(), ReductionSpace::outside);
    for (auto& [n, l] : lvl) sp.level[n] = l;
    *out = std::move(sp);
  }
  return "";
}

}  // namespace egfuse
