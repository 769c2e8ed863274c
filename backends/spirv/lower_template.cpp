// Template kernels, by the kind's impl (templates.hpp):
//   gemm / addmm / gemm_accumulate: a shared-memory tiled matrix multiply
//     (batched over workgroup z). Tile loads evaluate the body's prologue at
//     the loaded index (value() on the template's inputs), the accumulator
//     feeds the epilogue through an override of the template node.
//     Workgroup and tile sizes come from the device limits.
//   index_copy / index_copy_pair: one invocation per source element scatters
//     into the mutated buffer in place (the alias shares its storage).
#include <algorithm>

#include "backends/spirv/lower.hpp"

namespace egfuse::spirv {

namespace {

struct GemmTiles {
  uint32_t tx, ty, tm, tn, bk;
  uint32_t bm() const { return ty * tm; }
  uint32_t bn() const { return tx * tn; }
};

GemmTiles choose_tiles(const SpirvDeviceLimits& lim, int64_t M, int64_t N) {
  GemmTiles t{16, 16, 4, 4, 16};
  if (lim.max_invocations < 256) t.tx = t.ty = 8;
  if (!lim.is_cpu && M >= 512 && N >= 512) t.tm = t.tn = 8;
  auto shared_bytes = [&] { return (t.bm() + t.bn()) * t.bk * 4; };
  while (shared_bytes() > lim.max_shared_bytes && t.bk > 4) t.bk /= 2;
  while (shared_bytes() > lim.max_shared_bytes && t.tm > 1) t.tm /= 2, t.tn /= 2;
  return t;
}

}  // namespace

void Lowering::lower_template() {
  NodeId tn = kNoNode;
  for (NodeId n = 0; n < g.size(); ++n)
    if (g[n].op == Op::template_) {
      if (tn != kNoNode) fail("more than one template in one kernel");
      tn = n;
    }
  const Node& T = g[tn];
  const std::string& kind = std::get<TemplateAttrs>(T.attrs).kind;
  const TemplateKind* tk = reg.find(kind);
  if (!tk) fail("unknown template kind '" + kind + "'");
  for (NodeId n = 0; n < g.size(); ++n)
    if (is_reduction(g[n].op)) fail("a reduction beside template '" + kind + "'");

  // Mutation outputs of the template, by input index.
  std::map<int64_t, NodeId> mut_out;
  for (NodeId n = 0; n < g.size(); ++n)
    if (g[n].op == Op::mutation_output && g[n].inputs[0] == tn)
      mut_out[std::get<MutationOutputAttrs>(g[n].attrs).input] = n;

  const std::string& impl = tk->impl;
  if (impl == "index_copy" || impl == "index_copy_pair") {
    bool pair = impl == "index_copy_pair";
    NodeId idx_node = T.inputs[pair ? 2 : 1];
    std::vector<std::pair<int64_t, NodeId>> scatters;  // (mutated input, source)
    scatters.push_back({0, T.inputs[pair ? 3 : 2]});
    if (pair) scatters.push_back({1, T.inputs[4]});
    NodeId src0 = scatters[0].second;
    const Shape& ss = g[src0].type.shape;
    overrides[tn] = [this, src0](const Index& i) { return value(src0, i); };
    std::vector<std::pair<size_t, int64_t>> scatter_outputs;  // (output, mutated input)
    std::vector<size_t> plain;
    for (size_t j = 0; j < g.outputs.size(); ++j) {
      NodeId n = g.outputs[j].node;
      if (g[n].op == Op::mutation_output && g[n].inputs[0] == tn) {
        int64_t in = std::get<MutationOutputAttrs>(g[n].attrs).input;
        const PlanBuffer& w = p.buffers[size_t(k.writes[j])];
        if (g[T.inputs[size_t(in)]].op != Op::input) fail("mutated input of '" + kind + "' is not a kernel input");
        const PlanBuffer& rd = p.buffers[size_t(bindings[size_t(binding_of_input(T.inputs[size_t(in)]))].buffer)];
        if (rd.storage != w.storage || rd.type.offset != w.type.offset ||
            rd.type.effective_strides() != w.type.effective_strides())
          fail("mutation output '" + g.outputs[j].name + "' does not share the storage of the buffer it mutates");
        scatter_outputs.push_back({j, in});
      } else {
        if (g[n].type.numel() != g[tn].type.numel() || !depends_on(n, tn))
          fail("output '" + g.outputs[j].name + "' is not at the template's shape");
        plain.push_back(j);
      }
    }
    grid_stride(g[src0].type.numel(), std::min<uint32_t>(256, lim.max_invocations), [&](const std::string& i) {
      Index si = unravel(i, ss);
      for (size_t j : plain) {
        Index oi = unravel(i, g[g.outputs[j].node].type.shape);
        store(binding_of_output(j), oi, value(g.outputs[j].node, oi));
      }
      if (scatter_outputs.empty()) return;
      std::string row = to_int(value(idx_node, {si[0]}));
      for (const auto& scatter : scatter_outputs) {  // no structured binding: a lambda captures j (clang 14)
        const auto j = scatter.first;
        const auto in = scatter.second;
        NodeId src = in == 0 ? scatters[0].second : scatters[1].second;
        int64_t rows = g[T.inputs[size_t(in)]].type.shape[0];
        std::string v = value(src, si);
        std::string ok = m.ins(m.t_bool(), "OpLogicalAnd " + m.ins(m.t_bool(), "OpSGreaterThanEqual " + row + " " + m.c_int(0)) +
                                               " " + m.ins(m.t_bool(), "OpSLessThan " + row + " " + m.c_int(rows)));
        Index di = si;
        di[0] = row;
        m.if_then(ok, [&] { store(binding_of_output(j), di, v); });
      }
    });
    return;
  }
  if (impl != "gemm" && impl != "addmm" && impl != "gemm_accumulate")
    fail("template impl '" + impl + "' has no SPIR-V lowering");

  size_t ia = impl == "gemm" ? 0 : 1, ib = ia + 1;
  NodeId a = T.inputs[ia], b = T.inputs[ib];
  const Shape& as = g[a].type.shape;
  const Shape& bs = g[b].type.shape;
  bool batched = as.size() == 3;
  int64_t B = batched ? as[0] : 1, M = as[as.size() - 2], K = as.back(), N = bs.back();
  out.flops = 2.0 * double(B) * double(M) * double(N) * double(K);
  for (size_t j = 0; j < g.outputs.size(); ++j) {
    NodeId n = g.outputs[j].node;
    if (!depends_on(n, tn) || g[n].type.numel() != g[tn].type.numel())
      fail("output '" + g.outputs[j].name + "' is not an epilogue of template '" + kind + "'");
  }

  GemmTiles t = choose_tiles(lim, M, N);
  uint32_t wg = t.tx * t.ty, BM = t.bm(), BN = t.bn(), BK = t.bk;
  out.local = {wg, 1, 1};
  out.groups = {uint32_t((N + BN - 1) / BN), uint32_t((M + BM - 1) / BM), uint32_t(B)};
  std::string f = m.t_float(), ti = m.t_int(), u = m.t_uint(), bt = m.t_bool();
  std::string wgid = m.builtin("WorkgroupId", m.t_uvec3());
  auto wg_comp = [&](int c) { return m.ins(ti, "OpBitcast " + m.ins(u, "OpCompositeExtract " + wgid + " " + std::to_string(c))); };
  std::string gx = wg_comp(0), gy = wg_comp(1), gz = batched ? wg_comp(2) : m.c_int(0);
  std::string lid = m.ins(ti, "OpBitcast " + m.builtin("LocalInvocationIndex", u));
  std::string tx = imod(lid, t.tx), ty = idiv(lid, t.tx);
  std::string m0 = imul(gy, BM), n0 = imul(gx, BN);
  std::string As = m.shared_array(f, BK * BM), Bs = m.shared_array(f, BK * BN);
  std::string sptr = m.ptr("Workgroup", f);
  std::vector<std::string> acc(t.tm * t.tn);
  for (auto& v : acc) v = m.local_var(f, m.c_float(0));

  auto clamp_load = [&](NodeId node, std::string r, int64_t rmax, std::string c, int64_t cmax) {
    std::string in = m.ins(bt, "OpLogicalAnd " + m.ins(bt, "OpSLessThan " + r + " " + m.c_int(rmax)) + " " +
                                   m.ins(bt, "OpSLessThan " + c + " " + m.c_int(cmax)));
    std::string rc = m.ext(ti, "SMin", r + " " + m.c_int(rmax - 1)), cc = m.ext(ti, "SMin", c + " " + m.c_int(cmax - 1));
    Index idx = g[node].type.rank() == 3 ? Index{gz, rc, cc} : Index{rc, cc};
    return m.ins(f, "OpSelect " + in + " " + value(node, idx) + " " + m.c_float(0));
  };

  m.for_range(m.c_int(0), m.c_int(K), m.c_int(BK), [&](const std::string& k0) {
    push_scope();
    for (uint32_t s = 0; s < BM * BK / wg; ++s) {
      std::string e = iadd(lid, m.c_int(int64_t(s) * wg));
      std::string row = idiv(e, BK), col = imod(e, BK);
      std::string v = clamp_load(a, iadd(m0, row), M, iadd(k0, col), K);
      m.store(m.ins(sptr, "OpAccessChain " + As + " " + iadd(imul(col, BM), row)), v);
    }
    for (uint32_t s = 0; s < BK * BN / wg; ++s) {
      std::string e = iadd(lid, m.c_int(int64_t(s) * wg));
      std::string row = idiv(e, BN), col = imod(e, BN);
      std::string v = clamp_load(b, iadd(k0, row), K, iadd(n0, col), N);
      m.store(m.ins(sptr, "OpAccessChain " + Bs + " " + iadd(imul(row, BN), col)), v);
    }
    m.barrier();
    std::vector<std::string> accv(acc.size());
    for (size_t q = 0; q < acc.size(); ++q) accv[q] = m.load(f, acc[q]);
    for (uint32_t kk = 0; kk < BK; ++kk) {
      std::vector<std::string> ar(t.tm), br(t.tn);
      for (uint32_t i = 0; i < t.tm; ++i)
        ar[i] = m.load(f, m.ins(sptr, "OpAccessChain " + As + " " + iadd(ty, m.c_int(int64_t(kk) * BM + i * t.ty))));
      for (uint32_t j = 0; j < t.tn; ++j)
        br[j] = m.load(f, m.ins(sptr, "OpAccessChain " + Bs + " " + iadd(tx, m.c_int(int64_t(kk) * BN + j * t.tx))));
      for (uint32_t i = 0; i < t.tm; ++i)
        for (uint32_t j = 0; j < t.tn; ++j)
          accv[i * t.tn + j] = m.ext(f, "Fma", ar[i] + " " + br[j] + " " + accv[i * t.tn + j]);
    }
    for (size_t q = 0; q < acc.size(); ++q) m.store(acc[q], accv[q]);
    m.barrier();
    pop_scope();
  });

  // Epilogue: the template node's value is the accumulator (plus bias / c).
  for (uint32_t i = 0; i < t.tm; ++i)
    for (uint32_t j = 0; j < t.tn; ++j) {
      std::string mi = iadd(m0, iadd(ty, m.c_int(i * t.ty))), nj = iadd(n0, iadd(tx, m.c_int(j * t.tx)));
      std::string ok = m.ins(bt, "OpLogicalAnd " + m.ins(bt, "OpSLessThan " + mi + " " + m.c_int(M)) + " " +
                                     m.ins(bt, "OpSLessThan " + nj + " " + m.c_int(N)));
      m.if_then(ok, [&] {
        push_scope();
        Index oi = batched ? Index{gz, mi, nj} : Index{mi, nj};
        std::string v = m.load(f, acc[i * t.tn + j]);
        if (impl != "gemm") {
          NodeId extra = T.inputs[0];  // bias (addmm) or c (gemm_accumulate)
          v = m.ins(f, "OpFAdd " + v + " " + value(extra, broadcast_index(oi, T.type.shape, g[extra].type.shape)));
        }
        v = round(T.type.dtype, v);
        overrides[tn] = [v](const Index&) { return v; };
        for (auto& [in, mo] : mut_out) overrides[mo] = [v](const Index&) { return v; };
        for (size_t j2 = 0; j2 < g.outputs.size(); ++j2) {
          Index idx = index_after(g.outputs[j2].node, tn, oi);
          store(binding_of_output(j2), idx, value(g.outputs[j2].node, idx));
        }
        overrides.clear();
        pop_scope();
      });
    }
}

}  // namespace egfuse::spirv
