// Reduction kernels: one or more reductions over the same rows (the same
// input shape and reduced axes), their pointwise prologues (anything feeding
// them), values over the full row that read earlier results broadcast back
// over it, and pointwise ops on the per-row results. Like Inductor's looped
// reductions, the row is walked once per reduction, in order (phase p may read
// the results of phases before it, re-reading its inputs), then once more when
// full-row values that need the last result are stored; per-row values are
// stored once per row. Rows of 128 or more: one workgroup per row (looping over
// rows when there are more than workgroups), a strided per-invocation loop,
// then a subgroup reduction (subgroup size and count come from the device
// built-ins, never assumed) and a pass over the per-subgroup partials in
// shared memory; each phase's result goes through shared memory to every
// invocation. Short rows: one invocation per row.
#include <algorithm>
#include <cfloat>
#include <numeric>

#include "backends/spirv/lower.hpp"

namespace egfuse::spirv {

namespace {

struct Combine {
  const char* op;        // f32 instruction
  const char* group_op;  // subgroup instruction
  double identity;
  bool ext = false;      // op is a GLSL.std.450 instruction
};

Combine combine_for(Op op) {
  switch (op) {
    case Op::sum:
    case Op::mean: return {"OpFAdd", "OpGroupNonUniformFAdd", 0.0};
    case Op::prod: return {"OpFMul", "OpGroupNonUniformFMul", 1.0};
    case Op::amax: return {"FMax", "OpGroupNonUniformFMax", -FLT_MAX, true};
    default: return {"FMin", "OpGroupNonUniformFMin", FLT_MAX, true};
  }
}

}  // namespace

void Lowering::lower_reduction() {
  std::vector<NodeId> all(g.size());
  std::iota(all.begin(), all.end(), NodeId(0));
  ReductionSpace sp;
  std::string why = analyse_reduction_kernel(g, all, [&](NodeId n) { return g[n].op != Op::input; }, &sp);
  if (!why.empty()) fail(why);
  const std::vector<NodeId>& reds = sp.reductions;
  const size_t P = reds.size();
  const Shape& xs = sp.input_shape;
  const int64_t R = sp.row_len, O = sp.rows;
  Shape rshape, kshape;  // reduced and kept dimensions
  for (size_t d = 0; d < xs.size(); ++d) (sp.reduced[d] ? rshape : kshape).push_back(xs[d]);

  // When each output is stored: free values (no reduction needed) as phase 0
  // streams by; full-row values in the first phase after their last reduction
  // (P: a final pass); per-row values once per row, after the last phase.
  std::vector<std::vector<size_t>> row_stores(P + 1);
  std::vector<size_t> row_outputs;
  for (size_t j = 0; j < g.outputs.size(); ++j) {
    NodeId n = g.outputs[j].node;
    auto l = sp.level[n];
    if (l == ReductionSpace::per_row) {
      row_outputs.push_back(j);
      continue;
    }
    if (g[n].type.numel() != O * R) fail("output '" + g.outputs[j].name + "' is at neither the row's nor the input's shape");
    size_t phase = 0;
    for (size_t q = 0; q < P; ++q)
      if (l == ReductionSpace::row && depends_on(n, reds[q])) phase = q + 1;
    row_stores[phase].push_back(j);
  }
  std::string f = m.t_float(), ti = m.t_int();
  auto combine = [&](const Combine& c, const std::string& a, const std::string& b) {
    return c.ext ? m.ext(f, c.op, a + " " + b) : m.ins(f, std::string(c.op) + " " + a + " " + b);
  };
  auto x_index = [&](const Index& ki, const std::string& r) {
    Index ri = unravel(r, rshape), xi(xs.size());
    size_t a = 0, b = 0;
    for (size_t d = 0; d < xs.size(); ++d) xi[d] = sp.reduced[d] ? ri[b++] : ki[a++];
    return xi;
  };
  // One element of the row: phase p's input folded into acc (p < P), and the
  // outputs stored in this pass.
  auto element = [&](size_t p, const std::string& acc, const Index& ki, const std::string& r) {
    push_scope();
    Index xi = x_index(ki, r);
    if (p < P) {
      Combine c = combine_for(g[reds[p]].op);
      m.store(acc, combine(c, m.load(f, acc), value(g[reds[p]].inputs[0], xi)));
    }
    for (size_t j : row_stores[p]) {
      const Shape& s = g[g.outputs[j].node].type.shape;
      Index idx = s == xs ? xi : unravel(ravel(xi, xs), s);
      store(binding_of_output(j), idx, value(g.outputs[j].node, idx));
    }
    pop_scope();
  };
  auto finalize = [&](size_t p, const std::string& total) {
    std::string v = total;
    if (g[reds[p]].op == Op::mean) v = m.ins(f, "OpFDiv " + v + " " + m.c_float(double(R)));
    return round(g[reds[p]].type.dtype, v);
  };
  auto store_per_row = [&](const std::string& o) {
    push_scope();
    for (size_t j : row_outputs) {
      // Stored where its element reads the row's results (index_after inverts
      // views such as a permute between the last reduction it reads and it).
      NodeId out = g.outputs[j].node, root = reds.back();
      for (NodeId r : reds)
        if (depends_on(out, r)) root = r;
      Index idx = index_after(out, root, unravel(o, g[root].type.shape));
      store(binding_of_output(j), idx, value(g.outputs[j].node, idx));
    }
    pop_scope();
  };
  auto set_result = [&](size_t p, const std::string& v) { overrides[reds[p]] = [v](const Index&) { return v; }; };

  if (R < 128) {
    // One invocation per row: every phase in registers.
    uint32_t wg = std::min<uint32_t>(256, lim.max_invocations);
    std::string acc = m.local_var(f, m.c_float(0));
    grid_stride(O, wg, [&](const std::string& o) {
      Index ki = unravel(o, kshape);
      for (size_t p = 0; p <= P; ++p) {
        if (p == P && row_stores[P].empty()) break;
        if (p < P) m.store(acc, m.c_float(combine_for(g[reds[p]].op).identity));
        m.for_range(m.c_int(0), m.c_int(R), m.c_int(1), [&](const std::string& r) { element(p, acc, ki, r); });
        if (p < P) set_result(p, finalize(p, m.load(f, acc)));
      }
      store_per_row(o);
      for (NodeId r : reds) overrides.erase(r);
    });
    return;
  }

  // One workgroup per row.
  uint32_t wg = 1;
  while (wg * 2 <= std::min<uint32_t>(256, lim.max_invocations) && wg * 2 <= uint32_t(R)) wg *= 2;
  wg = std::max<uint32_t>(wg, std::min<uint32_t>(lim.subgroup_size, lim.max_invocations));
  int64_t groups = std::min<int64_t>(O, std::min<uint32_t>(lim.max_group_count_x, 65535));
  out.local = {wg, 1, 1};
  out.groups = {uint32_t(groups), 1, 1};
  std::string u = m.t_uint(), bt = m.t_bool();
  std::string wid = m.ins(ti, "OpBitcast " + m.ins(u, "OpCompositeExtract " + m.builtin("WorkgroupId", m.t_uvec3()) + " 0"));
  std::string lid = m.ins(ti, "OpBitcast " + m.builtin("LocalInvocationIndex", u));
  std::string shared = m.shared_array(f, wg);
  std::string results = m.shared_array(f, uint32_t(P));  // each phase's result, for every invocation
  std::string sptr = m.ptr("Workgroup", f);
  std::string acc = m.local_var(f, m.c_float(0));
  std::string total = m.local_var(f, m.c_float(0));
  std::string is0 = m.ins(bt, "OpIEqual " + lid + " " + m.c_int(0));
  m.for_range(wid, m.c_int(O), m.c_int(groups), [&](const std::string& o) {
    push_scope();
    Index ki = unravel(o, kshape);
    for (size_t p = 0; p <= P; ++p) {
      if (p == P) {
        if (!row_stores[P].empty())
          m.for_range(lid, m.c_int(R), m.c_int(wg), [&](const std::string& r) { element(P, acc, ki, r); });
        break;
      }
      Combine c = combine_for(g[reds[p]].op);
      m.store(acc, m.c_float(c.identity));
      m.for_range(lid, m.c_int(R), m.c_int(wg), [&](const std::string& r) { element(p, acc, ki, r); });
      std::string mine = m.load(f, acc);
      std::string slot = m.ins(sptr, "OpAccessChain " + results + " " + m.c_int(int64_t(p)));
      if (lim.subgroup_arithmetic) {
        m.capability("GroupNonUniform");
        m.capability("GroupNonUniformArithmetic");
        std::string part = m.ins(f, std::string(c.group_op) + " " + m.c_uint(3) + " Reduce " + mine);
        std::string sid = m.ins(ti, "OpBitcast " + m.builtin("SubgroupId", u));
        std::string slid = m.builtin("SubgroupLocalInvocationId", u);
        std::string nsg = m.ins(ti, "OpBitcast " + m.builtin("NumSubgroups", u));
        m.if_then(m.ins(bt, "OpIEqual " + slid + " " + m.c_uint(0)), [&] {
          m.store(m.ins(sptr, "OpAccessChain " + shared + " " + sid), part);
        });
        m.barrier();
        m.if_then(is0, [&] {
          m.store(total, m.c_float(c.identity));
          m.for_range(m.c_int(0), nsg, m.c_int(1), [&](const std::string& s) {
            std::string pv = m.load(f, m.ins(sptr, "OpAccessChain " + shared + " " + s));
            m.store(total, combine(c, m.load(f, total), pv));
          });
          m.store(slot, finalize(p, m.load(f, total)));
        });
      } else {
        // No subgroup arithmetic: a shared-memory tree.
        m.store(m.ins(sptr, "OpAccessChain " + shared + " " + lid), mine);
        m.barrier();
        for (uint32_t st = wg / 2; st > 0; st /= 2) {
          m.if_then(m.ins(bt, "OpSLessThan " + lid + " " + m.c_int(st)), [&] {
            std::string pa = m.ins(sptr, "OpAccessChain " + shared + " " + lid);
            std::string pb = m.ins(sptr, "OpAccessChain " + shared + " " + m.ins(ti, "OpIAdd " + lid + " " + m.c_int(st)));
            m.store(pa, combine(c, m.load(f, pa), m.load(f, pb)));
          });
          m.barrier();
        }
        m.if_then(is0, [&] {
          m.store(slot, finalize(p, m.load(f, m.ins(sptr, "OpAccessChain " + shared + " " + m.c_int(0)))));
        });
      }
      m.barrier();
      // Every invocation reads the result: later phases and full-row values use it.
      set_result(p, m.load(f, m.ins(sptr, "OpAccessChain " + results + " " + m.c_int(int64_t(p)))));
    }
    m.if_then(is0, [&] { store_per_row(o); });
    m.barrier();
    for (NodeId r : reds) overrides.erase(r);
    pop_scope();
  });
}

}  // namespace egfuse::spirv
