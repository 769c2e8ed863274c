// Hand-built kernel plans for the SPIR-V backend tests and benchmark: a whole
// graph as one fused kernel, and a graph cut into one kernel per compute node.
#pragma once

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

// One kernel per non-input node (every value materialized; no fusion).
inline Plan split_plan(const Graph& g, const TemplateRegistry& reg) {
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
  for (NodeId n = 0; n < g.size(); ++n) {
    if (g[n].op == Op::input || g[n].op == Op::mutation_output) continue;
    PlanKernel k;
    k.name = "k" + std::to_string(p.kernels.size()) + "_" + std::string(op_name(g[n].op));
    std::map<NodeId, NodeId> local;
    for (NodeId in : g[n].inputs)
      if (!local.count(in)) {
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
    NodeId me = k.body.add(c);
    k.body.outputs.push_back({g[n].name, me});
    PlanBuffer b;
    b.name = g[n].name;
    b.type = TensorType{g[n].type.dtype, g[n].type.shape, {}, 0};
    b.role = out_name.count(n) ? BufferRole::output : BufferRole::temp;
    b.storage = int(p.buffers.size());
    buf[n] = int(p.buffers.size());
    k.writes.push_back(int(p.buffers.size()));
    p.buffers.push_back(b);
    // Mutation outputs of a template are written by its kernel.
    for (NodeId m = n + 1; m < g.size(); ++m)
      if (g[m].op == Op::mutation_output && g[m].inputs[0] == n) {
        Node mo = g[m];
        mo.inputs = {me};
        NodeId lm = k.body.add(mo);
        k.body.outputs.push_back({g[m].name, lm});
        NodeId src = g[n].inputs[size_t(std::get<MutationOutputAttrs>(g[m].attrs).input)];
        PlanBuffer a;
        a.name = g[m].name;
        a.role = BufferRole::alias;
        a.alias_of = buf.at(src);
        a.type = p.buffers[size_t(a.alias_of)].type;
        a.storage = p.buffers[size_t(a.alias_of)].storage;
        buf[m] = int(p.buffers.size());
        k.writes.push_back(int(p.buffers.size()));
        p.buffers.push_back(a);
      }
    k.kind = kind_of(k.body);
    p.kernels.push_back(std::move(k));
  }
  for (auto& o : g.outputs) p.outputs.push_back({o.name, buf.at(o.node)});
  (void)reg;
  return p;
}

}  // namespace egfuse::testing
