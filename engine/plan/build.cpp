// Building a Plan from a partition of the graph into kernels: buffers, views
// as strided aliases, kernel order with mutation ordering, lifetimes and reuse
// of dead temporaries' storage.
#include <algorithm>
#include <map>
#include <functional>
#include <optional>
#include <queue>
#include <set>

#include "egfuse/templates.hpp"
#include "engine/plan/plan_build.hpp"

namespace egfuse::plan_detail {

NodeId version_of(const Graph& g, NodeId n) {
  while (is_view(g[n].op)) n = g[n].inputs[0];
  return n;
}

int64_t storage_extent(const TensorType& t) {
  if (t.numel() == 0) return t.offset;
  auto st = t.effective_strides();
  int64_t last = t.offset;
  for (size_t i = 0; i < t.shape.size(); ++i) last += (t.shape[i] - 1) * st[i];
  return last + 1;
}

namespace {

TensorType normalized(TensorType t) {
  if (!t.strides.empty() && t.offset == 0 && t.strides == contiguous_strides(t.shape)) t.strides.clear();
  return t;
}

// ATen's computeStride: strides for viewing (shape, strides) as new_shape
// without a copy, when they exist.
std::optional<std::vector<int64_t>> reshape_strides(const Shape& old_shape, const std::vector<int64_t>& old_strides,
                                                    const Shape& new_shape) {
  int64_t numel = 1;
  for (auto d : old_shape) numel *= d;
  if (numel == 0 || old_shape.empty()) return contiguous_strides(new_shape);
  std::vector<int64_t> out(new_shape.size(), 1);
  int64_t view_d = int64_t(new_shape.size()) - 1;
  int64_t chunk_base = old_strides.back(), tensor_numel = 1, view_numel = 1;
  for (int64_t td = int64_t(old_shape.size()) - 1; td >= 0; --td) {
    tensor_numel *= old_shape[size_t(td)];
    if (td == 0 || (old_shape[size_t(td - 1)] != 1 && old_strides[size_t(td - 1)] != tensor_numel * chunk_base)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[size_t(view_d)] == 1)) {
        out[size_t(view_d)] = view_numel * chunk_base;
        view_numel *= new_shape[size_t(view_d)];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (td > 0) {
        chunk_base = old_strides[size_t(td - 1)];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

}  // namespace

std::optional<TensorType> view_type(const Node& v, const TensorType& src) {
  TensorType t{src.dtype, v.type.shape, {}, src.offset};
  auto st = src.effective_strides();
  switch (v.op) {
    case Op::permute: {
      auto& p = std::get<PermuteAttrs>(v.attrs).perm;
      for (auto d : p) t.strides.push_back(st[size_t(d)]);
      break;
    }
    case Op::slice: {
      auto a = std::get<SliceAttrs>(v.attrs);
      if (a.dim < 0) a.dim += src.rank();
      t.strides = st;
      t.offset += a.start * st[size_t(a.dim)];
      t.strides[size_t(a.dim)] *= a.step;
      break;
    }
    case Op::expand: {
      size_t lead = t.shape.size() - src.shape.size();
      t.strides.assign(t.shape.size(), 0);
      for (size_t i = lead; i < t.shape.size(); ++i)
        t.strides[i] = (src.shape[i - lead] == 1 && t.shape[i] != 1) ? 0 : st[i - lead];
      break;
    }
    case Op::reshape: {
      auto s = reshape_strides(src.shape, st, t.shape);
      if (!s) return std::nullopt;
      t.strides = *s;
      break;
    }
    default: return std::nullopt;
  }
  return normalized(t);
}

double kernel_cost(const Plan& p, const PlanKernel& k, const TemplateRegistry& reg) {
  double bytes = 0;
  for (int b : k.reads) bytes += double(p.buffers[size_t(b)].bytes());
  for (int b : k.writes) bytes += double(p.buffers[size_t(b)].bytes());
  double flops = 0;
  for (NodeId i = 0; i < k.body.size(); ++i) {
    const Node& n = k.body[i];
    if (n.op == Op::template_) {
      const TemplateKind* kind = reg.find(std::get<TemplateAttrs>(n.attrs).kind);
      std::vector<TensorType> ts;
      for (NodeId x : n.inputs) ts.push_back(k.body[x].type);
      std::string err;
      if (kind && kind->flops)
        if (auto b = reg.bind(*kind, ts, err)) flops += double(kind->flops->eval(b->vars));
    } else if (n.op != Op::input && !is_view(n.op)) {
      flops += double(n.op == Op::constant ? 0 : (is_reduction(n.op) ? k.body[n.inputs[0]].type.numel() : n.type.numel()));
    }
  }
  return bytes + kLaunchCost + flops / kFlopsPerByte;
}

Plan build_plan(const Graph& g, const TemplateRegistry& reg, std::vector<KernelGroup> groups) {
  const size_t N = g.size();
  auto users = g.users();
  std::vector<int> group_of(N, -1);
  for (size_t gi = 0; gi < groups.size(); ++gi)
    for (NodeId n : groups[gi].nodes) group_of[n] = int(gi);
  // Mutation outputs belong with their writer; stray nodes get their own kernel.
  for (NodeId n = 0; n < N; ++n) {
    const Node& x = g[n];
    if (x.op == Op::mutation_output) {
      int w = group_of[x.inputs[0]];
      if (w < 0) {
        w = int(groups.size());
        groups.push_back({{x.inputs[0]}, {}});
        group_of[x.inputs[0]] = w;
      }
      if (group_of[n] != w) {
        if (group_of[n] >= 0) {
          auto& v = groups[size_t(group_of[n])].nodes;
          v.erase(std::remove(v.begin(), v.end(), n), v.end());
        }
        groups[size_t(w)].nodes.push_back(n);
        group_of[n] = w;
      }
    } else if (group_of[n] < 0 && x.op != Op::input && !is_view(x.op)) {
      group_of[n] = int(groups.size());
      groups.push_back({{n}, {}});
    }
  }

  Plan p;
  p.graph_name = g.name;
  std::vector<int> buffer_of(N, -1);
  auto new_buffer = [&](PlanBuffer b) {
    p.buffers.push_back(std::move(b));
    return int(p.buffers.size() - 1);
  };
  for (NodeId in : g.inputs()) {
    PlanBuffer b;
    b.name = g[in].name;
    b.type = normalized(g[in].type);
    b.role = BufferRole::input;
    b.graph_node = g[in].name;
    b.is_mutable_input = std::get<InputAttrs>(g[in].attrs).is_mutable;
    buffer_of[in] = new_buffer(std::move(b));
    p.inputs.push_back(buffer_of[in]);
  }

  // Views outside every kernel: strided aliases where strides can express them,
  // else a copy kernel. The alias's type depends on its source's buffer type,
  // which for a materialized node is contiguous.
  std::vector<std::optional<TensorType>> alias_type(N);
  for (NodeId n = 0; n < N; ++n) {
    if (!is_view(g[n].op) || group_of[n] >= 0) continue;
    NodeId s = g[n].inputs[0];
    TensorType src = alias_type[s] ? *alias_type[s] : (g[s].op == Op::input ? normalized(g[s].type) : TensorType{g[s].type.dtype, g[s].type.shape, {}, 0});
    if (group_of[s] >= 0 || g[s].op == Op::input || alias_type[s]) alias_type[n] = view_type(g[n], src);
    if (!alias_type[n]) {
      group_of[n] = int(groups.size());
      groups.push_back({{n}, {}});
    }
  }
  // A mutated input must stay an alias of the real storage, never a copy.
  for (NodeId n = 0; n < N; ++n) {
    const Node& x = g[n];
    if (x.op != Op::template_ && x.op != Op::extern_) continue;
    for (int64_t m : mutated_inputs(g, n, reg)) {
      NodeId v = x.inputs[size_t(m)];
      for (NodeId c = v; is_view(g[c].op); c = g[c].inputs[0])
        if (!alias_type[c])
          throw Error("cannot plan '" + x.name + "': its mutated input '" + g[v].name +
                      "' is a view that strides cannot express (the write would go to a copy)");
    }
  }

  // Materialized nodes: read outside their kernel, graph outputs, mutation outputs.
  std::vector<bool> materialized(N, false);
  for (NodeId n = 0; n < N; ++n) {
    if (group_of[n] < 0) continue;
    if (g[n].op == Op::mutation_output) materialized[n] = true;
    for (NodeId u : users[n])
      if (group_of[u] != group_of[n]) materialized[n] = true;
  }
  for (auto& o : g.outputs)
    if (group_of[o.node] >= 0) materialized[o.node] = true;

  // Kernel order: data dependencies, plus every reader of a storage version
  // before the kernel that overwrites that version.
  const size_t G = groups.size();
  std::vector<std::set<int>> succ(G);
  std::vector<std::set<NodeId>> reads_version(G);  // versions each kernel reads from outside itself
  for (NodeId n = 0; n < N; ++n) {
    int gn = group_of[n];
    if (gn < 0) continue;
    for (NodeId u : g[n].inputs) {
      if (group_of[u] == gn) continue;
      NodeId src = u;
      while (group_of[src] < 0 && is_view(g[src].op)) src = g[src].inputs[0];
      if (group_of[src] >= 0 && group_of[src] != gn) succ[size_t(group_of[src])].insert(gn);
      reads_version[size_t(gn)].insert(version_of(g, u));
    }
  }
  for (NodeId t = 0; t < N; ++t) {
    const Node& x = g[t];
    if (x.op != Op::template_ && x.op != Op::extern_) continue;
    int w = group_of[t];
    for (int64_t m : mutated_inputs(g, t, reg)) {
      NodeId v = version_of(g, x.inputs[size_t(m)]);
      for (size_t gi = 0; gi < G; ++gi)
        if (int(gi) != w && reads_version[gi].count(v)) succ[gi].insert(w);
      // Within the writer's kernel only the writer itself may read the old version.
      for (NodeId r : groups[size_t(w)].nodes) {
        if (is_view(g[r].op)) continue;
        for (size_t i = 0; i < g[r].inputs.size(); ++i) {
          NodeId u = g[r].inputs[i];
          if (version_of(g, u) != v) continue;
          if (r == t && int64_t(i) == m) continue;
          throw Error("kernel computing '" + x.name + "' would read the old version of '" + g[v].name + "' (in '" +
                      g[r].name + "') while '" + x.name + "' overwrites it");
        }
      }
    }
  }
  std::vector<int> indeg(G, 0);
  for (auto& s : succ)
    for (int t : s) indeg[size_t(t)]++;
  std::vector<NodeId> first_node(G, kNoNode);
  for (size_t gi = 0; gi < G; ++gi)
    for (NodeId n : groups[gi].nodes) first_node[gi] = std::min(first_node[gi], n);
  std::priority_queue<std::pair<NodeId, int>, std::vector<std::pair<NodeId, int>>, std::greater<>> ready;
  for (size_t gi = 0; gi < G; ++gi)
    if (indeg[gi] == 0) ready.push({first_node[gi], int(gi)});
  std::vector<int> order;
  while (!ready.empty()) {
    int gi = ready.top().second;
    ready.pop();
    order.push_back(gi);
    for (int t : succ[size_t(gi)])
      if (--indeg[size_t(t)] == 0) ready.push({first_node[size_t(t)], t});
  }
  if (order.size() != G) {
    std::string names;
    for (size_t gi = 0; gi < G; ++gi)
      if (indeg[gi] > 0 && !groups[gi].nodes.empty()) names += (names.empty() ? "'" : ", '") + g[first_node[gi]].name + "'";
    throw Error("kernels cannot be ordered: the kernels starting at " + names +
                " depend on each other (a data cycle or a read of a version after its overwrite)");
  }

  // Buffers for materialized nodes and aliases (created on first need).
  std::set<NodeId> graph_outputs;
  for (auto& o : g.outputs) graph_outputs.insert(o.node);
  std::function<int(NodeId)> buffer_for = [&](NodeId n) -> int {
    if (buffer_of[n] >= 0) return buffer_of[n];
    PlanBuffer b;
    b.name = g[n].name;
    b.graph_node = g[n].name;
    if (is_view(g[n].op) && group_of[n] < 0) {
      b.role = BufferRole::alias;
      b.alias_of = buffer_for(g[n].inputs[0]);
      b.type = *alias_type[n];
    } else if (g[n].op == Op::mutation_output) {
      NodeId x = g[g[n].inputs[0]].inputs[size_t(std::get<MutationOutputAttrs>(g[n].attrs).input)];
      b.role = BufferRole::alias;
      b.alias_of = buffer_for(x);
      b.type = p.buffers[size_t(b.alias_of)].type;
    } else {
      b.role = graph_outputs.count(n) ? BufferRole::output : BufferRole::temp;
      b.type = TensorType{g[n].type.dtype, g[n].type.shape, {}, 0};
    }
    int id = new_buffer(std::move(b));
    buffer_of[n] = id;
    return id;
  };

  p.kernels.reserve(order.size());
  for (int gi : order) {
    auto nodes = groups[size_t(gi)].nodes;
    std::sort(nodes.begin(), nodes.end());
    if (nodes.empty()) continue;
    bool writes_any = false;
    for (NodeId n : nodes) writes_any = writes_any || materialized[n];
    if (!writes_any) continue;  // dead code
    PlanKernel k;
    k.rules = groups[size_t(gi)].rules;
    std::set<NodeId> mutated_here;
    for (NodeId n : nodes)
      if (g[n].op == Op::template_ || g[n].op == Op::extern_)
        for (int64_t m : mutated_inputs(g, n, reg)) mutated_here.insert(g[n].inputs[size_t(m)]);
    std::map<NodeId, NodeId> local;
    std::vector<NodeId> external;
    for (NodeId n : nodes)
      for (NodeId u : g[n].inputs)
        if (group_of[u] != gi && !local.count(u)) {
          Node in;
          in.op = Op::input;
          in.name = g[u].name;
          in.type = TensorType{g[u].type.dtype, g[u].type.shape, {}, 0};
          in.attrs = InputAttrs{mutated_here.count(u) > 0};
          local[u] = k.body.add(std::move(in));
          k.reads.push_back(buffer_for(u));
        }
    std::vector<std::string> ops;
    for (NodeId n : nodes) {
      Node c = g[n];
      c.type = TensorType{c.type.dtype, c.type.shape, {}, 0};
      for (auto& i : c.inputs) i = local.at(i);
      local[n] = k.body.add(std::move(c));
      k.nodes.push_back(g[n].name);
      std::string op = g[n].op == Op::template_ ? std::get<TemplateAttrs>(g[n].attrs).kind
                       : g[n].op == Op::extern_ ? std::get<ExternAttrs>(g[n].attrs).kernel
                                                : std::string(op_name(g[n].op));
      if (g[n].op != Op::mutation_output && ops.size() < 3 && std::find(ops.begin(), ops.end(), op) == ops.end())
        ops.push_back(op);
      if (g[n].op == Op::template_) k.kind = KernelKind::template_;
      else if (g[n].op == Op::extern_) k.kind = KernelKind::extern_;
      else if (is_reduction(g[n].op) && k.kind == KernelKind::pointwise) k.kind = KernelKind::reduction;
    }
    for (NodeId n : nodes)
      if (materialized[n]) {
        k.body.outputs.push_back({g[n].name, local.at(n)});
        k.writes.push_back(buffer_for(n));
      }
    k.name = "k" + std::to_string(p.kernels.size());
    for (auto& o : ops) k.name += "_" + o;
    p.kernels.push_back(std::move(k));
  }
  for (auto& o : g.outputs) p.outputs.push_back({o.name, buffer_for(o.node)});
  for (auto& k : p.kernels) k.cost = kernel_cost(p, k, reg);

  // Lifetimes, then storage: inputs and outputs own theirs; a temporary takes
  // the storage of one whose whole alias family is dead (best fit by bytes).
  const int K = int(p.kernels.size());
  for (int ki = 0; ki < K; ++ki) {
    auto touch = [&](int b) {
      auto& buf = p.buffers[size_t(b)];
      buf.first_use = buf.first_use < 0 ? ki : std::min(buf.first_use, ki);
      buf.last_use = std::max(buf.last_use, ki);
    };
    for (int b : p.kernels[size_t(ki)].reads) touch(b);
    for (int b : p.kernels[size_t(ki)].writes) touch(b);
  }
  auto root_of = [&](int b) {
    while (p.buffers[size_t(b)].role == BufferRole::alias) b = p.buffers[size_t(b)].alias_of;
    return b;
  };
  std::vector<int> end_of(p.buffers.size(), -1);  // storage live range end, per root buffer
  std::vector<int> begin_of(p.buffers.size(), K);
  for (size_t b = 0; b < p.buffers.size(); ++b) {
    int r = root_of(int(b));
    auto& buf = p.buffers[b];
    if (buf.first_use >= 0) begin_of[size_t(r)] = std::min(begin_of[size_t(r)], buf.first_use);
    end_of[size_t(r)] = std::max(end_of[size_t(r)], buf.last_use);
  }
  for (auto& [name, b] : p.outputs) end_of[size_t(root_of(b))] = K;  // live past the plan
  struct Slot {
    int64_t bytes;
    int free_after;  // kernel index after which it is free; K = never
  };
  std::vector<Slot> slots;
  std::vector<int> roots;
  for (size_t b = 0; b < p.buffers.size(); ++b)
    if (p.buffers[b].role != BufferRole::alias) roots.push_back(int(b));
  std::stable_sort(roots.begin(), roots.end(), [&](int a, int b) {
    bool ia = p.buffers[size_t(a)].role == BufferRole::input, ib = p.buffers[size_t(b)].role == BufferRole::input;
    if (ia != ib) return ia;
    return begin_of[size_t(a)] < begin_of[size_t(b)];
  });
  for (int r : roots) {
    auto& buf = p.buffers[size_t(r)];
    int64_t need = storage_extent(buf.type) * dtype_bytes(buf.type.dtype);
    int chosen = -1;
    if (buf.role == BufferRole::temp) {
      for (size_t s = 0; s < slots.size(); ++s)
        if (slots[s].free_after < begin_of[size_t(r)] && slots[s].bytes >= need &&
            (chosen < 0 || slots[s].bytes < slots[size_t(chosen)].bytes))
          chosen = int(s);
    }
    if (chosen < 0) {
      slots.push_back({need, K});
      chosen = int(slots.size() - 1);
    }
    slots[size_t(chosen)].free_after = buf.role == BufferRole::temp ? end_of[size_t(r)] : K;
    buf.storage = chosen;
  }
  for (size_t b = 0; b < p.buffers.size(); ++b) p.buffers[b].storage = p.buffers[size_t(root_of(int(b)))].storage;
  return p;
}

}  // namespace egfuse::plan_detail

namespace egfuse {

Plan plan_unfused(const Graph& g, const TemplateRegistry& reg) {
  std::vector<plan_detail::KernelGroup> groups;
  for (NodeId n = 0; n < g.size(); ++n) {
    Op op = g[n].op;
    if (op == Op::input || op == Op::mutation_output || is_view(op)) continue;
    groups.push_back({{n}, {}});
  }
  return plan_detail::build_plan(g, reg, std::move(groups));
}

}  // namespace egfuse
