// Epilogue indices: see epilogue_index.hpp.
#include "backends/common/epilogue_index.hpp"

#include <algorithm>
#include <variant>

#include "egfuse/diagnostics.hpp"

namespace egfuse {

namespace {

bool reaches(const Graph& g, NodeId from, NodeId target, std::vector<int8_t>& memo) {
  if (from == target) return true;
  int8_t& m = memo[from];
  if (m >= 0) return m != 0;
  bool r = false;
  for (NodeId x : g[from].inputs) r = r || reaches(g, x, target, memo);
  m = r ? 1 : 0;
  return r;
}

int64_t ravel_h(const std::vector<int64_t>& i, const Shape& s) {
  int64_t lin = 0;
  for (size_t d = 0; d < s.size(); ++d) lin = lin * s[d] + i[d];
  return lin;
}
std::vector<int64_t> unravel_h(int64_t lin, const Shape& s) {
  std::vector<int64_t> i(s.size());
  for (size_t d = s.size(); d-- > 0;) i[d] = lin % s[d], lin /= s[d];
  return i;
}
// The interpreter's broadcast: element i of a `from`-shaped result reads element r of `to`.
std::vector<int64_t> bcast_h(const std::vector<int64_t>& i, const Shape& from, const Shape& to) {
  std::vector<int64_t> r(to.size());
  size_t lead = from.size() - to.size();
  for (size_t d = 0; d < to.size(); ++d) r[d] = to[d] == 1 ? 0 : i[d + lead];
  return r;
}

bool root_reads(const Graph& g, NodeId n, NodeId root, const std::vector<int64_t>& idx, int64_t& at,
                std::vector<int8_t>& memo) {
  const Node& node = g[n];
  const Shape& os = node.type.shape;
  if (n == root) {
    int64_t lin = ravel_h(idx, os);
    if (at >= 0 && at != lin) return false;
    at = lin;
    return true;
  }
  for (NodeId x : node.inputs) {
    if (!reaches(g, x, root, memo)) continue;
    const Shape& xs = g[x].type.shape;
    std::vector<int64_t> xi;
    switch (op_class(node.op)) {
      case OpClass::unary:
      case OpClass::binary:
      case OpClass::ternary:
        if (xs.size() > os.size()) return false;
        xi = bcast_h(idx, os, xs);
        break;
      case OpClass::cast: xi = idx; break;
      case OpClass::mutation_output: xi = unravel_h(ravel_h(idx, os), xs); break;
      case OpClass::view:
        if (node.op == Op::reshape) {
          xi = unravel_h(ravel_h(idx, os), xs);
        } else if (node.op == Op::permute) {
          auto& perm = std::get<PermuteAttrs>(node.attrs).perm;
          xi.assign(xs.size(), 0);
          for (size_t d = 0; d < perm.size(); ++d) xi[size_t(perm[d])] = idx[d];
        } else if (node.op == Op::expand) {
          if (xs.size() > os.size()) return false;
          xi = bcast_h(idx, os, xs);
        } else {
          auto a = std::get<SliceAttrs>(node.attrs);
          if (a.dim < 0) a.dim += int64_t(xs.size());
          xi = idx;
          xi[size_t(a.dim)] = idx[size_t(a.dim)] * a.step + a.start;
        }
        break;
      default: return false;
    }
    if (!root_reads(g, x, root, xi, at, memo)) return false;
  }
  return true;
}

}  // namespace

std::vector<EpilogueStep> epilogue_steps(const Graph& g, NodeId out, NodeId root, const std::string& context) {
  std::string where = context.empty() ? "" : context + ": ";
  std::vector<int8_t> memo(g.size(), -1);
  std::vector<EpilogueStep> steps;  // out first, reversed at the end
  bool several = false;
  for (NodeId n = out; n != root;) {
    const Node& node = g[n];
    size_t pick = node.inputs.size();
    for (size_t i = 0; i < node.inputs.size(); ++i)
      if (reaches(g, node.inputs[i], root, memo)) {
        if (pick == node.inputs.size()) pick = i;
        else several = true;
      }
    if (pick == node.inputs.size())
      throw Error(where + "output node '" + g[out].name + "' does not depend on '" + g[root].name + "'");
    const Shape& os = node.type.shape;
    const Shape& xs = g[node.inputs[pick]].type.shape;
    auto cannot = [&](const std::string& why) {
      throw Error(where + "epilogue node '" + node.name + "' (" + std::string(op_name(node.op)) + ") of output '" +
                  g[out].name + "' " + why);
    };
    if (node.type.numel() != g[node.inputs[pick]].type.numel())
      cannot("changes the element count of the reduction or template result it reads");
    EpilogueStep s;
    s.node = n;
    s.from = xs;
    s.to = os;
    auto unbroadcast = [&] {
      if (xs.size() > os.size()) cannot("has fewer dimensions than its operand");
      size_t lead = os.size() - xs.size();
      for (size_t d = lead; d < os.size(); ++d)
        if (xs[d - lead] != os[d]) cannot("broadcasts the reduction or template result");
      s.kind = lead == 0 ? EpilogueStep::Kind::same : EpilogueStep::Kind::unbroadcast;
    };
    switch (op_class(node.op)) {
      case OpClass::unary:
      case OpClass::binary:
      case OpClass::ternary: unbroadcast(); break;
      case OpClass::cast: s.kind = EpilogueStep::Kind::same; break;
      case OpClass::mutation_output: s.kind = xs == os ? EpilogueStep::Kind::same : EpilogueStep::Kind::reshape; break;
      case OpClass::view:
        if (node.op == Op::reshape) {
          s.kind = xs == os ? EpilogueStep::Kind::same : EpilogueStep::Kind::reshape;
        } else if (node.op == Op::permute) {
          s.kind = EpilogueStep::Kind::permute;
          s.perm = std::get<PermuteAttrs>(node.attrs).perm;
          bool identity = true;
          for (size_t d = 0; d < s.perm.size(); ++d) identity = identity && s.perm[d] == int64_t(d);
          if (identity) s.kind = EpilogueStep::Kind::same;
        } else if (node.op == Op::expand) {
          unbroadcast();
        } else {  // a slice keeping every element (start 0, or a size-1 dim): the index is unchanged
          s.kind = EpilogueStep::Kind::same;
        }
        break;
      default: cannot("cannot follow a reduction or template result in an epilogue");
    }
    steps.push_back(std::move(s));
    n = node.inputs[pick];
  }
  std::reverse(steps.begin(), steps.end());
  if (several) {
    // Two paths from root meet: every element of out must still read one
    // element of root (add(t, relu(t)), not add(t, permute(t))).
    const Shape& os = g[out].type.shape;
    for (int64_t lin = 0; lin < g[out].type.numel(); ++lin) {
      int64_t at = -1;
      if (!root_reads(g, out, root, unravel_h(lin, os), at, memo))
        throw Error(where + "output node '" + g[out].name + "' reads '" + g[root].name +
                    "' at more than one index per element; it cannot be an epilogue of it");
    }
  }
  return steps;
}

}  // namespace egfuse
