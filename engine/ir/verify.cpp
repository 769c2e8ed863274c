// The IR verifier: every node's arity, attributes and type, mutation targets,
// and mutation hazards (a read of a storage version that must happen after the
// template that overwrites it).
#include <algorithm>

#include "egfuse/ir.hpp"
#include "egfuse/templates.hpp"

namespace egfuse {

namespace {
std::string quoted(const Node& n) { return "'" + n.name + "'"; }

// Nodes reachable from `from` along input->user edges (inclusive).
std::vector<bool> descendants(const Graph& g, const std::vector<std::vector<NodeId>>& users, NodeId from) {
  std::vector<bool> seen(g.size(), false);
  std::vector<NodeId> stack{from};
  seen[from] = true;
  while (!stack.empty()) {
    NodeId n = stack.back();
    stack.pop_back();
    for (NodeId u : users[n])
      if (!seen[u]) {
        seen[u] = true;
        stack.push_back(u);
      }
  }
  return seen;
}
}  // namespace

bool verify(const Graph& g, const TemplateRegistry& reg, Diagnostics& diags) {
  size_t before = diags.error_count();
  for (NodeId id = 0; id < g.size(); ++id) {
    const Node& n = g[id];
    bool ok_inputs = true;
    for (NodeId in : n.inputs)
      if (in >= id) {
        diags.error(n.span, "E-verify-order", "node " + quoted(n) + " reads a node that is not defined before it");
        ok_inputs = false;
      }
    if (!ok_inputs) continue;
    if (n.attrs.index() != attrs_index_for(n.op)) {
      diags.error(n.span, "E-verify-attrs", "node " + quoted(n) + ": attributes do not belong to op " + std::string(op_name(n.op)));
      continue;
    }
    std::string err;
    auto t = infer_type(g, n, reg, err);
    if (!t) {
      diags.error(n.span, "E-verify-type", "node " + quoted(n) + ": " + err);
      continue;
    }
    if (t->dtype != n.type.dtype || t->shape != n.type.shape) {
      diags.error(n.span, "E-verify-type", "node " + quoted(n) + " is recorded as " + to_string(n.type) + " but " +
                                               std::string(op_name(n.op)) + " gives " + to_string(*t));
    }
    if (n.op == Op::template_ || n.op == Op::extern_) {
      for (int64_t m : mutated_inputs(g, id, reg)) {
        NodeId root = storage_root(g, n.inputs[size_t(m)]);
        const Node& r = g[root];
        if (r.op != Op::input || !std::get<InputAttrs>(r.attrs).is_mutable)
          diags.error(n.span, "E-verify-mutable", "node " + quoted(n) + " mutates input " + std::to_string(m) + " (" +
                                                      quoted(g[n.inputs[size_t(m)]]) + "), whose storage " + quoted(r) +
                                                      " is not a mutable graph input");
      }
    }
  }
  for (auto& o : g.outputs)
    if (o.node >= g.size()) diags.error({}, "E-verify-output", "output '" + o.name + "' names no node");
  if (diags.error_count() != before) return false;

  // Mutation hazards. A writer T of version v (its mutated input) must run after
  // every other reader of v; a reader that depends on T cannot, and two writers
  // of one version conflict.
  auto users = g.users();
  for (NodeId t = 0; t < g.size(); ++t) {
    const Node& n = g[t];
    if (n.op != Op::template_ && n.op != Op::extern_) continue;
    auto muts = mutated_inputs(g, t, reg);
    if (muts.empty()) continue;
    auto after = descendants(g, users, t);
    for (int64_t m : muts) {
      NodeId v = n.inputs[size_t(m)];
      for (NodeId r : users[v]) {
        if (r == t) continue;
        const Node& reader = g[r];
        bool writer = (reader.op == Op::template_ || reader.op == Op::extern_) && [&] {
          for (int64_t m2 : mutated_inputs(g, r, reg))
            if (reader.inputs[size_t(m2)] == v) return true;
          return false;
        }();
        if (writer && r > t) {
          diags.error(reader.span, "E-hazard-waw", "node " + quoted(reader) + " and " + quoted(n) + " both overwrite " +
                                                      quoted(g[v]) + "; the second writer must take the first's mutation output");
        } else if (after[r]) {
          diags.error(reader.span, "E-hazard-war",
                      "node " + quoted(reader) + " reads the old version of " + quoted(g[v]) + " but depends on " + quoted(n) +
                          ", which overwrites it; read the mutation output instead");
        }
      }
    }
  }
  return diags.error_count() == before;
}

}  // namespace egfuse
