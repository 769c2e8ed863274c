// Hand-built kernel plans for the SPIR-V backend tests and benchmark: a whole
// graph as one fused kernel, and a graph cut into one kernel per compute node.
#pragma once

#include <algorithm>
#include <map>

#include "egfuse/interp.hpp"
#include "egfuse/plan.hpp"
#include "egfuse/templates.hpp"

namespace egfuse::testing {

inline KernelKind kind_of(const Graph& g) {
  KernelKind k = KernelKind::pointwise;
  for (auto& n : g.nodes) {
    if (n.op == Op::template_) return KernelKind::template_;
    if (is_reduction(n.op)) k = KernelKind::reduction;
  }
  return k;
}

// One kernel computing every output of `g`. Mutation outputs become alias
// buffers of the mutated input's buffer.
inline Plan fused_plan(const Graph& g, const TemplateRegistry& reg) {
  Plan p;
  p.graph_name = g.name;
  PlanKernel k;
  k.name = "k0_fused";
  k.kind = kind_of(g);
  k.body = g;
  std::map<NodeId, int> buf;
  for (NodeId n : g.inputs()) {
    PlanBuffer b;
    b.name = g[n].name;
    b.type = g[n].type;
    b.role = BufferRole::input;
    b.storage = int(p.buffers.size());
    b.is_mutable_input = std::get<InputAttrs>(g[n].attrs).is_mutable;
    buf[n] = int(p.buffers.size());
    p.inputs.push_back(int(p.buffers.size()));
    k.reads.push_back(int(p.buffers.size()));
    p.buffers.push_back(b);
  }
  for (auto& o : g.outputs) {
    PlanBuffer b;
    b.name = o.name;
    b.type = TensorType{g[o.node].type.dtype, g[o.node].type.shape, {}, 0};
    if (g[o.node].op == Op::mutation_output) {
      NodeId t = g[o.node].inputs[0];
      NodeId src = g[t].inputs[size_t(std::get<MutationOutputAttrs>(g[o.node].attrs).input)];
      b.role = BufferRole::alias;
      b.alias_of = buf.at(src);
      b.type = p.buffers[size_t(b.alias_of)].type;
      b.storage = p.buffers[size_t(b.alias_of)].storage;
    } else {
      b.role = BufferRole::output;
      b.storage = int(p.buffers.size());
    }
    p.outputs.push_back({o.name, int(p.buffers.size())});
    k.writes.push_back(int(p.buffers.size()));
    p.buffers.push_back(b);
  }
  (void)reg;
  p.kernels.push_back(std::move(k));
  return p;
}

// A plan from a partition of the graph's nodes: group_of[n] is the kernel of
// node n (inputs: ignored). Groups run in order of their first node; a value
// is materialized when a later group or the graph's outputs read it. A
// mutation output must be in its template's group; it becomes an alias buffer.
inline Plan partition_plan(const Graph& g, const std::vector<int>& group_of) {
  Plan p;
  p.graph_name = g.name;
  std::map<NodeId, int> buf;
  std::map<NodeId, std::string> out_name;
  for (auto& o : g.outputs) out_name[o.node] = o.name;
  for (NodeId n : g.inputs()) {
    PlanBuffer b;
    b.name = g[n].name;
    b.type = g[n].type;
    b.role = BufferRole::input;
    b.storage = int(p.buffers.size());
    b.is_mutable_input = std::get<InputAttrs>(g[n].attrs).is_mutable;
    buf[n] = int(p.buffers.size());
    p.inputs.push_back(int(p.buffers.size()));
    p.buffers.push_back(b);
  }
  auto users = g.users();
  std::vector<int> order;
  for (NodeId n = 0; n < g.size(); ++n)
    if (g[n].op != Op::input && std::find(order.begin(), order.end(), group_of[n]) == order.end())
      order.push_back(group_of[n]);
  for (int grp : order) {
    PlanKernel k;
    std::map<NodeId, NodeId> local;
    std::string ops;
    for (NodeId n = 0; n < g.size(); ++n) {
      if (g[n].op == Op::input || group_of[n] != grp) continue;
      for (NodeId in : g[n].inputs)
        if (!local.count(in) && (g[in].op == Op::input || group_of[in] != grp)) {
          Node x;
          x.op = Op::input;
          x.name = g[in].name;
          x.type = TensorType{g[in].type.dtype, g[in].type.shape, {}, 0};
          x.attrs = InputAttrs{g[in].op == Op::input && std::get<InputAttrs>(g[in].attrs).is_mutable};
          local[in] = k.body.add(x);
          k.reads.push_back(buf.at(in));
        }
      Node c = g[n];
      for (auto& i : c.inputs) i = local.at(i);
      local[n] = k.body.add(c);
      if (ops.size() < 24 && g[n].op != Op::mutation_output && g[n].op != Op::constant)
        ops += "_" + (g[n].op == Op::template_ ? std::get<TemplateAttrs>(g[n].attrs).kind : std::string(op_name(g[n].op)));
    }
    for (NodeId n = 0; n < g.size(); ++n) {
      if (g[n].op == Op::input || group_of[n] != grp) continue;
      bool needed = out_name.count(n) > 0 || g[n].op == Op::mutation_output;
      for (NodeId u : users[n]) needed = needed || group_of[u] != grp;
      if (!needed) continue;
      k.body.outputs.push_back({g[n].name, local.at(n)});
      PlanBuffer b;
      b.name = g[n].name;
      b.type = TensorType{g[n].type.dtype, g[n].type.shape, {}, 0};
      if (g[n].op == Op::mutation_output) {
        NodeId t = g[n].inputs[0];
        b.role = BufferRole::alias;
        b.alias_of = buf.at(g[t].inputs[size_t(std::get<MutationOutputAttrs>(g[n].attrs).input)]);
        b.type = p.buffers[size_t(b.alias_of)].type;
        b.storage = p.buffers[size_t(b.alias_of)].storage;
      } else {
        b.role = out_name.count(n) ? BufferRole::output : BufferRole::temp;
        b.storage = int(p.buffers.size());
      }
      buf[n] = int(p.buffers.size());
      k.writes.push_back(int(p.buffers.size()));
      p.buffers.push_back(b);
    }
    k.name = "k" + std::to_string(p.kernels.size()) + ops;
    k.kind = kind_of(k.body);
    p.kernels.push_back(std::move(k));
  }
  for (auto& o : g.outputs) p.outputs.push_back({o.name, buf.at(o.node)});
  return p;
}

// One kernel per node (every value materialized; mutation outputs stay with
// their template or extern).
inline Plan split_plan(const Graph& g, const TemplateRegistry&) {
  std::vector<int> group(g.size(), -1);
  for (NodeId n = 0; n < g.size(); ++n)
    group[n] = g[n].op == Op::mutation_output ? group[g[n].inputs[0]] : int(n);
  return partition_plan(g, group);
}

}  // namespace egfuse::testing
