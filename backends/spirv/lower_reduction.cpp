// Reduction kernels: one reduction node with its pointwise prologue (anything
// feeding it) and epilogue (pointwise ops after it, at the reduced shape).
// Rows of 128 or more: one workgroup per output element (looping over output
// elements when there are more than workgroups), a strided per-invocation loop,
// then a subgroup reduction (subgroup size and count come from the device
// built-ins, never assumed) and a pass over the per-subgroup partials in
// shared memory. Short rows: one invocation per output element.
#include <algorithm>
#include <cfloat>

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
  NodeId red = kNoNode;
  for (NodeId n = 0; n < g.size(); ++n)
    if (is_reduction(g[n].op)) {
      if (red != kNoNode) fail("more than one reduction in one kernel");
      red = n;
    }
  const Node& rn = g[red];
  NodeId x = rn.inputs[0];
  const Shape& xs = g[x].type.shape;
  auto& ra = std::get<ReduceAttrs>(rn.attrs);
  std::vector<bool> reduced(xs.size(), false);
  for (auto a : ra.axes) reduced[size_t(a < 0 ? a + int64_t(xs.size()) : a)] = true;
  Shape rshape;  // the reduced dimensions
  for (size_t d = 0; d < xs.size(); ++d)
    if (reduced[d]) rshape.push_back(xs[d]);
  int64_t R = 1;
  for (auto d : rshape) R *= d;
  const Shape& os = rn.type.shape;
  int64_t O = rn.type.numel();

  // Outputs after the reduction are written once per output element; outputs
  // that do not depend on it (materialized prologue values) once per input element.
  std::vector<size_t> after, before;
  for (size_t j = 0; j < g.outputs.size(); ++j) {
    NodeId n = g.outputs[j].node;
    if (depends_on(n, red)) {
      if (g[n].type.numel() != O) fail("output '" + g.outputs[j].name + "' is not at the reduced shape");
      after.push_back(j);
    } else {
      if (g[n].type.numel() != g[x].type.numel()) fail("output '" + g.outputs[j].name + "' is at neither shape");
      before.push_back(j);
    }
  }
  Combine c = combine_for(rn.op);
  std::string f = m.t_float(), ti = m.t_int();
  auto combine = [&](const std::string& a, const std::string& b) {
    return c.ext ? m.ext(f, c.op, a + " " + b) : m.ins(f, std::string(c.op) + " " + a + " " + b);
  };
  auto x_index = [&](const Index& oi, const std::string& r) {
    Index ri = unravel(r, rshape), xi(xs.size());
    size_t j = 0, k2 = 0;
    for (size_t d = 0; d < xs.size(); ++d) {
      if (reduced[d]) {
        xi[d] = ri[j++];
        if (ra.keepdim) ++k2;
      } else {
        xi[d] = oi[k2++];
      }
    }
    return xi;
  };
  auto accumulate = [&](const std::string& acc, const Index& oi, const std::string& r) {
    push_scope();
    Index xi = x_index(oi, r);
    m.store(acc, combine(m.load(f, acc), value(x, xi)));
    for (size_t j : before) {
      const Shape& s = g[g.outputs[j].node].type.shape;
      Index idx = s == xs ? xi : unravel(ravel(xi, xs), s);
      store(binding_of_output(j), idx, value(g.outputs[j].node, idx));
    }
    pop_scope();
  };
  auto finish = [&](const std::string& total, const std::string& o) {
    push_scope();
    std::string v = total;
    if (rn.op == Op::mean) v = m.ins(f, "OpFDiv " + v + " " + m.c_float(double(R)));
    v = round(rn.type.dtype, v);
    overrides[red] = [v](const Index&) { return v; };
    for (size_t j : after) {
      Index idx = index_after(g.outputs[j].node, red, unravel(o, os));
      store(binding_of_output(j), idx, value(g.outputs[j].node, idx));
    }
    overrides.erase(red);
    pop_scope();
  };

  if (R < 128) {
    // One invocation per output element.
    uint32_t wg = std::min<uint32_t>(256, lim.max_invocations);
    grid_stride(O, wg, [&](const std::string& o) {
      Index oi = unravel(o, os);
      std::string acc = m.local_var(f, m.c_float(c.identity));
      m.store(acc, m.c_float(c.identity));
      m.for_range(m.c_int(0), m.c_int(R), m.c_int(1), [&](const std::string& r) { accumulate(acc, oi, r); });
      finish(m.load(f, acc), o);
    });
    return;
  }

  // One workgroup per output element.
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
  std::string sptr = m.ptr("Workgroup", f);
  std::string acc = m.local_var(f, m.c_float(c.identity));
  std::string total = m.local_var(f, m.c_float(c.identity));
  std::string is0 = m.ins(bt, "OpIEqual " + lid + " " + m.c_int(0));
  m.for_range(wid, m.c_int(O), m.c_int(groups), [&](const std::string& o) {
    push_scope();
    Index oi = unravel(o, os);
    m.store(acc, m.c_float(c.identity));
    m.for_range(lid, m.c_int(R), m.c_int(wg), [&](const std::string& r) { accumulate(acc, oi, r); });
    std::string mine = m.load(f, acc);
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
          m.store(total, combine(m.load(f, total), pv));
        });
        finish(m.load(f, total), o);
      });
    } else {
      // No subgroup arithmetic: a shared-memory tree.
      m.store(m.ins(sptr, "OpAccessChain " + shared + " " + lid), mine);
      m.barrier();
      for (uint32_t s = wg / 2; s > 0; s /= 2) {
        m.if_then(m.ins(bt, "OpSLessThan " + lid + " " + m.c_int(s)), [&] {
          std::string pa = m.ins(sptr, "OpAccessChain " + shared + " " + lid);
          std::string pb = m.ins(sptr, "OpAccessChain " + shared + " " + m.ins(ti, "OpIAdd " + lid + " " + m.c_int(s)));
          m.store(pa, combine(m.load(f, pa), m.load(f, pb)));
        });
        m.barrier();
      }
      m.if_then(is0, [&] { finish(m.load(f, m.ins(sptr, "OpAccessChain " + shared + " " + m.c_int(0))), o); });
    }
    m.barrier();
    pop_scope();
  });
}

}  // namespace egfuse::spirv
