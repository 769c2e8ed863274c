// The plan validator. It replays the plan over storage versions: each storage
// holds the contents last written to it; a buffer read must see the version it
// names (RAW: written before; WAR: not overwritten since), a buffer is written
// once (WAW), and each kernel body must be one codegen-able kernel.
#include <algorithm>
#include <map>
#include <set>

#include "egfuse/plan.hpp"
#include "egfuse/templates.hpp"
#include "engine/plan/plan_build.hpp"

namespace egfuse {

namespace {

std::string bname(const Plan& p, int b) { return "b" + std::to_string(b) + " '" + p.buffers[size_t(b)].name + "'"; }

// Downstream closure inside a body graph.
std::vector<bool> downstream(const Graph& g, NodeId from) {
  std::vector<bool> d(g.size(), false);
  d[from] = true;
  for (NodeId n = from + 1; n < g.size(); ++n)
    for (NodeId i : g[n].inputs)
      if (d[i]) d[n] = true;
  return d;
}

}  // namespace

bool validate_plan(const Plan& p, const TemplateRegistry& reg, Diagnostics& diags) {
  const size_t before = diags.error_count();
  const int B = int(p.buffers.size());
  auto err = [&](const std::string& code, const std::string& msg) { diags.error({}, code, msg); };

  // Buffer table sanity; the root (storage owner) of each buffer.
  std::vector<int> root(size_t(B), -1);
  for (int b = 0; b < B; ++b) {
    auto& buf = p.buffers[size_t(b)];
    int r = b, steps = 0;
    while (r >= 0 && r < B && p.buffers[size_t(r)].role == BufferRole::alias && steps++ <= B) r = p.buffers[size_t(r)].alias_of;
    if (r < 0 || r >= B || steps > B) {
      err("E-plan-alias", "buffer " + bname(p, b) + " is an alias of no valid buffer (alias_of " + std::to_string(buf.alias_of) + ")");
      continue;
    }
    root[size_t(b)] = r;
    if (buf.storage != p.buffers[size_t(r)].storage)
      err("E-plan-alias", "alias " + bname(p, b) + " is in storage s" + std::to_string(buf.storage) + " but its root " +
                              bname(p, r) + " is in s" + std::to_string(p.buffers[size_t(r)].storage));
  }
  if (diags.error_count() != before) return false;

  // Which kernel writes each buffer (WAW: at most one, never an input).
  std::vector<int> writer(size_t(B), -1);
  for (size_t ki = 0; ki < p.kernels.size(); ++ki)
    for (int b : p.kernels[ki].writes) {
      if (b < 0 || b >= B) {
        err("E-plan-buffer", "kernel " + p.kernels[ki].name + " writes buffer id " + std::to_string(b) + ", which does not exist");
        continue;
      }
      if (writer[size_t(b)] >= 0)
        err("E-plan-waw", "buffer " + bname(p, b) + " is written by both " + p.kernels[size_t(writer[size_t(b)])].name +
                              " and " + p.kernels[ki].name);
      writer[size_t(b)] = int(ki);
      auto& buf = p.buffers[size_t(b)];
      if (buf.role == BufferRole::input)
        err("E-plan-waw", "kernel " + p.kernels[ki].name + " writes input buffer " + bname(p, b) +
                              "; an in-place write must produce an alias (mutation output) of it");
      int r = root[size_t(b)];
      if (buf.role == BufferRole::alias && p.buffers[size_t(r)].role == BufferRole::input &&
          !p.buffers[size_t(r)].is_mutable_input)
        err("E-plan-waw", "kernel " + p.kernels[ki].name + " writes " + bname(p, b) + " into the storage of " + bname(p, r) +
                              ", which is not a mutable input");
    }
  for (auto& k : p.kernels)
    for (int b : k.reads)
      if (b < 0 || b >= B) err("E-plan-buffer", "kernel " + k.name + " reads buffer id " + std::to_string(b) + ", which does not exist");
  if (diags.error_count() != before) return false;

  // The version of a buffer: the written buffer it stands for (views of a
  // buffer stand for it; inputs are written before the plan).
  auto version = [&](int b) {
    while (writer[size_t(b)] < 0 && p.buffers[size_t(b)].role == BufferRole::alias) b = p.buffers[size_t(b)].alias_of;
    return b;
  };
  std::map<int, int> current;  // storage -> version buffer whose contents it holds
  std::map<int, int> written_at;  // version buffer -> kernel index (-1: input)
  for (int b = 0; b < B; ++b)
    if (p.buffers[size_t(b)].role == BufferRole::input) {
      current[p.buffers[size_t(b)].storage] = b;
      written_at[b] = -1;
    }
  auto check_read = [&](const std::string& who, int b) {
    int v = version(b);
    int s = p.buffers[size_t(b)].storage;
    if (!written_at.count(v)) {
      err("E-plan-raw", who + " reads " + bname(p, b) + " before any kernel writes " +
                            (v == b ? std::string("it") : bname(p, v)) + " (not in topological order)");
      return;
    }
    if (current[s] != v)
      err("E-plan-war", who + " reads " + bname(p, b) + " in storage s" + std::to_string(s) + " after " +
                            bname(p, current[s]) + " overwrote it (written by " +
                            (written_at[current[s]] >= 0 ? p.kernels[size_t(written_at[current[s]])].name : "the caller") + ")");
  };

  for (size_t ki = 0; ki < p.kernels.size(); ++ki) {
    const PlanKernel& k = p.kernels[ki];
    const Graph& body = k.body;
    for (int b : k.reads) check_read("kernel " + k.name, b);

    // Body shape contract: inputs are the reads, outputs the writes, same types.
    std::vector<NodeId> body_inputs = body.inputs();
    if (body_inputs.size() != k.reads.size())
      err("E-plan-shape", "kernel " + k.name + " has " + std::to_string(body_inputs.size()) + " body inputs but reads " +
                              std::to_string(k.reads.size()) + " buffers");
    for (size_t i = 0; i < std::min(body_inputs.size(), k.reads.size()); ++i) {
      auto& bt = p.buffers[size_t(k.reads[i])].type;
      auto& nt = body[body_inputs[i]].type;
      if (bt.dtype != nt.dtype || bt.shape != nt.shape)
        err("E-plan-shape", "kernel " + k.name + " reads " + bname(p, k.reads[i]) + " of type " + to_string(bt) +
                                " as '" + body[body_inputs[i]].name + "' of type " + to_string(nt));
    }
    if (body.outputs.size() != k.writes.size())
      err("E-plan-shape", "kernel " + k.name + " has " + std::to_string(body.outputs.size()) + " body outputs but writes " +
                              std::to_string(k.writes.size()) + " buffers");
    for (size_t j = 0; j < std::min(body.outputs.size(), k.writes.size()); ++j) {
      auto& bt = p.buffers[size_t(k.writes[j])].type;
      auto& nt = body[body.outputs[j].node].type;
      if (bt.dtype != nt.dtype || bt.shape != nt.shape)
        err("E-plan-shape", "kernel " + k.name + " writes '" + body.outputs[j].name + "' of type " + to_string(nt) +
                                " to " + bname(p, k.writes[j]) + " of type " + to_string(bt));
    }
    Diagnostics body_diags;
    if (!verify(body, reg, body_diags))
      for (auto& d : body_diags.all())
        if (d.severity == Severity::error) err("E-plan-body", "kernel " + k.name + ": " + d.message);

    // Codegen-ability: one template or extern at most and never beside a
    // reduction; reductions only over one shared iteration space (several
    // reductions of the same rows are phases of one kernel).
    std::vector<NodeId> roots, reductions;
    for (NodeId n = 0; n < body.size(); ++n) {
      if (body[n].op == Op::template_ || body[n].op == Op::extern_) roots.push_back(n);
      if (is_reduction(body[n].op)) reductions.push_back(n);
    }
    if (!reductions.empty()) {
      if (!roots.empty()) {
        err("E-plan-codegen", "kernel " + k.name + " holds template/extern '" + body[roots[0]].name + "' and reduction '" +
                                  body[reductions[0]].name + "'; a template kernel takes no reduction");
      } else {
        std::vector<NodeId> all(body.size());
        for (NodeId n = 0; n < body.size(); ++n) all[n] = n;
        std::string why = analyse_reduction_kernel(body, all, [&](NodeId n) { return body[n].op != Op::input; });
        if (!why.empty()) {
          bool spaces = why.rfind("reductions over", 0) == 0;
          err(spaces ? "E-plan-codegen" : "E-plan-iteration", "kernel " + k.name + ": " + why);
        }
      }
    }
    if (roots.size() > 1) {
      std::string names;
      for (NodeId r : roots) names += (names.empty() ? "'" : ", '") + body[r].name + "'";
      err("E-plan-codegen", "kernel " + k.name + " holds " + std::to_string(roots.size()) + " templates/reductions (" + names +
                                "); a kernel has at most one, templates are never inlined");
    }
    if (roots.size() == 1) {
      NodeId r = roots[0];
      const Node& rn = body[r];
      auto down = downstream(body, r);
      if (rn.op == Op::template_ || rn.op == Op::extern_) {
        // Prologues only into allowed prologue inputs; nothing computed into an extern.
        std::vector<int64_t> allowed;
        if (rn.op == Op::template_) {
          if (const TemplateKind* kind = reg.find(std::get<TemplateAttrs>(rn.attrs).kind)) allowed = kind->prologue_inputs();
        }
        for (size_t i = 0; i < rn.inputs.size(); ++i) {
          NodeId in = rn.inputs[i];
          if (body[in].op == Op::input) continue;
          if (std::find(allowed.begin(), allowed.end(), int64_t(i)) == allowed.end())
            err("E-plan-prologue", "kernel " + k.name + " computes '" + body[in].name + "' into input " + std::to_string(i) +
                                       " of '" + rn.name + "', which does not allow a prologue");
        }
        bool epi_ok = true;
        if (rn.op == Op::template_)
          if (const TemplateKind* kind = reg.find(std::get<TemplateAttrs>(rn.attrs).kind)) epi_ok = kind->epilogue;
        for (NodeId n = r + 1; n < body.size(); ++n)
          if (down[n] && body[n].op != Op::mutation_output && !epi_ok)
            err("E-plan-epilogue", "kernel " + k.name + " fuses '" + body[n].name + "' after '" + rn.name +
                                       "', which takes no epilogue");
      }
    }

    // Within a kernel: a storage it writes may be read only by the template or
    // extern that owns the in-place write, through that mutated input.
    std::set<int> write_storages;
    for (int b : k.writes) write_storages.insert(p.buffers[size_t(b)].storage);
    for (size_t i = 0; i < std::min(body_inputs.size(), k.reads.size()); ++i) {
      int b = k.reads[i];
      if (!write_storages.count(p.buffers[size_t(b)].storage)) continue;
      NodeId in = body_inputs[i];
      bool ok = true;
      for (NodeId n = in + 1; n < body.size(); ++n)
        for (size_t a = 0; a < body[n].inputs.size(); ++a) {
          if (body[n].inputs[a] != in) continue;
          bool is_mutated_slot = false;
          if (body[n].op == Op::template_ || body[n].op == Op::extern_) {
            std::vector<int64_t> muts;
            if (body[n].op == Op::extern_) muts = std::get<ExternAttrs>(body[n].attrs).mutates;
            else if (const TemplateKind* kind = reg.find(std::get<TemplateAttrs>(body[n].attrs).kind)) muts = kind->mutated_inputs();
            is_mutated_slot = std::find(muts.begin(), muts.end(), int64_t(a)) != muts.end();
          }
          if (!is_mutated_slot) ok = false;
        }
      if (!ok)
        err("E-plan-war", "kernel " + k.name + " reads " + bname(p, b) + " and writes storage s" +
                              std::to_string(p.buffers[size_t(b)].storage) +
                              " in the same kernel; a read other than the in-place template's own may see the new values");
    }

    for (int b : k.writes) {
      written_at[b] = int(ki);
      current[p.buffers[size_t(b)].storage] = b;
    }
  }
  for (auto& [name, b] : p.outputs) {
    if (b < 0 || b >= B) {
      err("E-plan-buffer", "output '" + name + "' names buffer id " + std::to_string(b) + ", which does not exist");
      continue;
    }
    check_read("output '" + name + "'", b);
  }
  return diags.error_count() == before;
}

}  // namespace egfuse
