// Template kernels with gemm-like impls (gemm, addmm, gemm_accumulate).
//
// f16/bf16 operands: tensor cores through mma.sync.m16n8k16 (sm_80+), a
// 128x128x32 block tile, 8 warps of 64x32, fragments read with ldmatrix, and a
// 4-stage cp.async pipeline. An operand whose layout allows it (unit inner
// stride, 16-byte aligned rows, K or N a multiple of 8) is copied with
// cp.async (zero-filled outside the matrix); any other operand, and any operand
// with a fused prologue, is loaded element by element through the expression
// emitter, converted and stored to shared memory (the slower path, never a
// wrong one). The epilogue is evaluated on the accumulator fragments at their
// (m, n) coordinates and stored directly, two elements at a time where the
// output layout allows.
//
// f32 operands: a plain SIMT kernel (one thread per output, f32 FMA), so the
// result matches the interpreter's f32 accumulation.
#include <algorithm>

#include "backends/ptx/lower.hpp"

namespace egfuse::ptx {

namespace {

constexpr int BM = 128, BN = 128, BK = 32, STAGES = 4, THREADS = 256;
constexpr int A_PITCH = (BK + 8) * 2;   // bytes per A row in shared memory (padded: no ldmatrix conflicts)
constexpr int B_PITCH = (BN + 8) * 2;   // bytes per B row
constexpr int A_BYTES = BM * A_PITCH, B_BYTES = BK * B_PITCH, STAGE_BYTES = A_BYTES + B_BYTES;

struct GemmParts {
  NodeId t = kNoNode;
  const TemplateKind* kind = nullptr;
  NodeId a = kNoNode, b = kNoNode, extra = kNoNode;  // extra: bias (addmm) or c (gemm_accumulate)
  bool batched = false;
  int64_t B = 1, M = 0, N = 0, K = 0;
};

GemmParts find_gemm(const Graph& g, const TemplateRegistry& reg, const std::string& kname) {
  GemmParts gp;
  for (NodeId i = 0; i < g.size(); ++i)
    if (g[i].op == Op::template_) {
      if (gp.t != kNoNode) throw Error("PTX: kernel '" + kname + "' has more than one template");
      gp.t = i;
    }
  if (gp.t == kNoNode) throw Error("PTX: template kernel '" + kname + "' has no template node");
  const Node& T = g[gp.t];
  gp.kind = reg.find(std::get<TemplateAttrs>(T.attrs).kind);
  if (!gp.kind) throw Error("PTX: unknown template kind '" + std::get<TemplateAttrs>(T.attrs).kind + "'");
  const std::string& impl = gp.kind->impl;
  if (impl == "gemm") {
    gp.a = T.inputs.at(0);
    gp.b = T.inputs.at(1);
  } else {
    gp.extra = T.inputs.at(0);
    gp.a = T.inputs.at(1);
    gp.b = T.inputs.at(2);
  }
  const Shape& as = g[gp.a].type.shape;
  const Shape& bs = g[gp.b].type.shape;
  gp.batched = as.size() == 3;
  if (gp.batched) gp.B = as[0];
  gp.M = as[as.size() - 2];
  gp.K = as[as.size() - 1];
  gp.N = bs[bs.size() - 1];
  return gp;
}

// cp.async applies: the operand is a plain input whose rows are contiguous
// and 16-byte aligned, and the row length is a multiple of 8 elements.
bool fast_operand(const Graph& g, NodeId n, const TensorType& t, DType dt, int64_t row_len) {
  if (g[n].op != Op::input || t.dtype != dt) return false;
  auto st = t.effective_strides();
  size_t r = st.size();
  if (t.shape[r - 1] != 1 && st[r - 1] != 1) return false;
  if (row_len % 8 != 0 || st[r - 2] % 8 != 0 || t.offset % 8 != 0) return false;
  if (r == 3 && st[0] % 8 != 0) return false;
  return true;
}

bool pair_store_ok(const TensorType& t, int64_t N) {
  auto st = t.effective_strides();
  size_t r = st.size();
  int bytes = dtype_bytes(t.dtype);
  if (bytes != 2 && bytes != 4) return false;
  if (N % 2 != 0 || st[r - 1] != 1 || t.offset % 2 != 0) return false;
  for (size_t i = 0; i + 1 < r; ++i)
    if (t.shape[i] != 1 && st[i] % 2 != 0) return false;
  return true;
}

std::string cvt_idx(KernelText& k, ExprEmitter& e, const std::string& r32) {
  if (!e.idx64()) return r32;
  std::string r = k.r64();
  k.ins("cvt.u64.u32 " + r + ", " + r32);
  return r;
}

}  // namespace

PtxKernel lower_gemm(const Plan& p, int ki, const TemplateRegistry& reg, const PtxEmitOptions& opt) {
  const PlanKernel& kern = p.kernels[size_t(ki)];
  const Graph& g = kern.body;
  GemmParts gp = find_gemm(g, reg, kern.name);
  const Node& T = g[gp.t];
  const std::string impl = gp.kind->impl;
  // Each output is stored at the index whose element reads the accumulator at
  // (bz, m, n): through a permute or reshape of the template that is not
  // (bz, m, n) itself. An output that does not read the template (a prologue
  // value) is stored at (bz, m, n) and must have the template's shape.
  std::vector<std::vector<EpilogueStep>> out_steps(g.outputs.size());
  std::vector<bool> out_plain(g.outputs.size(), true);  // stored at (bz, m, n) itself
  for (size_t o = 0; o < g.outputs.size(); ++o) {
    NodeId on = g.outputs[o].node;
    if (!depends_on(g, on, gp.t)) {
      if (g[on].type.shape != g[gp.t].type.shape)
        throw Error("PTX: template kernel '" + kern.name + "' writes '" + g.outputs[o].name + "' whose shape " +
                    shape_string(g[on].type.shape) + " is not the template's");
      continue;
    }
    out_steps[o] = epilogue_steps(g, on, gp.t, "PTX: template kernel '" + kern.name + "'");
    for (auto& st : out_steps[o]) out_plain[o] = out_plain[o] && st.kind == EpilogueStep::Kind::same;
  }
  DType dt = g[gp.a].type.dtype;
  bool tensor_cores = (dt == DType::bf16 || dt == DType::f16) && g[gp.b].type.dtype == dt;

  PtxKernel out;
  out.launch.entry = sanitize_entry(kern.name);
  KernelText k(out.launch.entry);
  ExprEmitter e(k, g, needs_idx64(p, kern));
  auto bound = bind_buffers(k, e, p, kern, out.launch);
  auto ins = body_inputs(g);
  auto buffer_of = [&](NodeId n) -> std::pair<std::string, TensorType> {
    size_t i = size_t(std::find(ins.begin(), ins.end(), n) - ins.begin());
    if (i >= ins.size()) return {"", {}};
    return {bound.reads[i], p.buffers[size_t(kern.reads[i])].type};
  };
  e.zero();

  // The template's own value at (bz, m, n) from the accumulator, then rounded.
  auto template_value = [&](const Val& acc, const Index& idx) {
    Val v = acc;
    if (impl == "addmm") {
      const Shape& bs = g[gp.extra].type.shape;
      Index bi(bs.size());
      for (size_t i = 0; i < bs.size(); ++i) {
        size_t src = idx.size() - bs.size() + i;
        bi[i] = bs[i] == 1 ? e.zero() : idx[src];
      }
      v = e.binary(Op::add, v, e.emit(gp.extra, bi), DType::f32);
    } else if (impl == "gemm_accumulate") {
      v = e.binary(Op::add, v, e.emit(gp.extra, idx), DType::f32);
    }
    return e.round_to(v, T.type.dtype);
  };
  auto set_template_override = [&](const Val& tv) {
    e.override_fn = [&, tv](NodeId n, const Index&) -> std::optional<Val> {
      if (n == gp.t) return tv;
      if (g[n].op == Op::mutation_output && g[n].inputs[0] == gp.t) return tv;
      return std::nullopt;
    };
  };
  auto make_index = [&](const std::string& bz, const std::string& m, const std::string& n) {
    return gp.batched ? Index{bz, m, n} : Index{m, n};
  };
  std::string cta_x = k.r32(), cta_y = k.r32(), cta_z = k.r32(), tid = k.r32();
  k.ins("mov.u32 " + cta_x + ", %ctaid.x");
  k.ins("mov.u32 " + cta_y + ", %ctaid.y");
  k.ins("mov.u32 " + cta_z + ", %ctaid.z");
  k.ins("mov.u32 " + tid + ", %tid.x");
  std::string bz = cvt_idx(k, e, cta_z);

  if (!tensor_cores) {
    // ---------------------------------------------------------------- SIMT f32
    out.launch.strategy = "gemm/simt-f32";
    std::string tx = k.r32(), ty = k.r32(), m32 = k.r32(), n32 = k.r32(), pm = k.pred(), pn = k.pred();
    k.ins("rem.u32 " + tx + ", " + tid + ", 16");
    k.ins("div.u32 " + ty + ", " + tid + ", 16");
    k.ins("mad.lo.u32 " + m32 + ", " + cta_y + ", 16, " + ty);
    k.ins("mad.lo.u32 " + n32 + ", " + cta_x + ", 16, " + tx);
    std::string done = k.label("done");
    k.ins("setp.ge.u32 " + pm + ", " + m32 + ", " + std::to_string(gp.M));
    k.ins("setp.ge.or.u32 " + pn + ", " + n32 + ", " + std::to_string(gp.N) + ", " + pm);
    k.ins("@" + pn + " bra " + done);
    std::string m = cvt_idx(k, e, m32), n = cvt_idx(k, e, n32);
    std::string acc = k.f32(), kk = e.new_idx();
    k.ins("mov.f32 " + acc + ", 0f00000000");
    k.ins("mov." + e.idx_type() + " " + kk + ", 0");
    std::string loop = k.label("k"), lend = k.label("kend");
    if (gp.K > 0) {
      k.put_label(loop);
      auto st = e.save();
      Val a = e.emit(gp.a, gp.batched ? Index{bz, m, kk} : Index{m, kk});
      Val b = e.emit(gp.b, gp.batched ? Index{bz, kk, n} : Index{kk, n});
      a = e.convert(a, VClass::f32);
      b = e.convert(b, VClass::f32);
      k.ins("fma.rn.f32 " + acc + ", " + a.reg + ", " + b.reg + ", " + acc);
      e.restore(st);
      std::string pk = k.pred();
      k.ins("add." + e.idx_type() + " " + kk + ", " + kk + ", 1");
      k.ins("setp.lt." + e.idx_type() + " " + pk + ", " + kk + ", " + std::to_string(gp.K));
      k.ins("@" + pk + " bra " + loop);
    }
    k.put_label(lend);
    Index idx = make_index(bz, m, n);
    Val tv = template_value({acc, VClass::f32}, idx);
    set_template_override(tv);
    for (size_t o = 0; o < g.outputs.size(); ++o) {
      const TensorType& t = p.buffers[size_t(kern.writes[o])].type;
      Index oi = e.epilogue_index(out_steps[o], idx);
      e.store(e.address(bound.writes[o], t, oi), t.dtype, e.emit(g.outputs[o].node, oi));
    }
    k.put_label(done);
    out.launch.grid[0] = uint32_t((gp.N + 15) / 16);
    out.launch.grid[1] = uint32_t((gp.M + 15) / 16);
    out.launch.grid[2] = uint32_t(gp.B);
    out.launch.block[0] = 256;
    out.ptx = k.finish(opt.target);
    return out;
  }

  // ---------------------------------------------------------------- tensor cores
  const std::string ety = dt == DType::bf16 ? "bf16" : "f16";
  // plain variables, not structured bindings: lambdas below capture them (clang 14)
  auto a_buf = buffer_of(gp.a);
  auto b_buf = buffer_of(gp.b);
  const auto& a_ptr = a_buf.first;
  const auto& a_t = a_buf.second;
  const auto& b_ptr = b_buf.first;
  const auto& b_t = b_buf.second;
  bool a_fast = !a_ptr.empty() && fast_operand(g, gp.a, a_t, dt, gp.K);
  bool b_fast = !b_ptr.empty() && fast_operand(g, gp.b, b_t, dt, gp.N);
  out.launch.strategy = std::string("gemm/mma.sync.m16n8k16 128x128x32 s4 A:") + (a_fast ? "cp.async" : "ld+cvt") +
                        " B:" + (b_fast ? "cp.async" : "ld+cvt");

  std::string warp = k.r32(), lane = k.r32(), wm = k.r32(), wn = k.r32(), bm = k.r32(), bn = k.r32();
  k.ins("shr.u32 " + warp + ", " + tid + ", 5");
  k.ins("and.b32 " + lane + ", " + tid + ", 31");
  k.ins("shr.u32 " + wm + ", " + warp + ", 2");
  k.ins("and.b32 " + wn + ", " + warp + ", 3");
  k.ins("mul.lo.u32 " + bm + ", " + cta_y + ", " + std::to_string(BM));
  k.ins("mul.lo.u32 " + bn + ", " + cta_x + ", " + std::to_string(BN));
  std::string sbase = k.r32();
  k.ins("mov.u32 " + sbase + ", egf_smem");

  // Per-thread constants of the fast copies.
  struct Chunk {
    std::string soff, gbase, pfix, kc;  // smem offset in stage, global byte address at k0=0, fixed predicate, k index
  };
  std::vector<Chunk> a_chunks, b_chunks;
  if (a_fast) {
    auto st = a_t.effective_strides();
    size_t r = st.size();
    int64_t lda = st[r - 2];
    for (int i = 0; i < BM * BK / 8 / THREADS; ++i) {
      Chunk c;
      std::string cc = k.r32(), row = k.r32(), ch = k.r32(), grow = k.r32(), crow = k.r32();
      c.soff = k.r32();
      c.pfix = k.pred();
      c.kc = k.r32();
      k.ins("add.u32 " + cc + ", " + tid + ", " + std::to_string(i * THREADS));
      k.ins("shr.u32 " + row + ", " + cc + ", 2");
      k.ins("and.b32 " + ch + ", " + cc + ", 3");
      k.ins("mul.lo.u32 " + c.soff + ", " + row + ", " + std::to_string(A_PITCH));
      k.ins("mad.lo.u32 " + c.soff + ", " + ch + ", 16, " + c.soff);
      k.ins("add.u32 " + grow + ", " + bm + ", " + row);
      k.ins("setp.lt.u32 " + c.pfix + ", " + grow + ", " + std::to_string(gp.M));
      k.ins("selp.u32 " + crow + ", " + grow + ", 0, " + c.pfix);
      k.ins("shl.b32 " + c.kc + ", " + ch + ", 3");
      std::string e64 = k.r64(), t64 = k.r64(), z64 = k.r64();
      c.gbase = k.r64();
      k.ins("mul.wide.u32 " + e64 + ", " + crow + ", " + std::to_string(lda * 2));
      k.ins("mul.wide.u32 " + t64 + ", " + c.kc + ", 2");
      k.ins("add.s64 " + e64 + ", " + e64 + ", " + t64);
      k.ins("mul.wide.u32 " + z64 + ", " + cta_z + ", " + std::to_string(r == 3 ? st[0] * 2 : 0));
      k.ins("add.s64 " + e64 + ", " + e64 + ", " + z64);
      k.ins("add.s64 " + c.gbase + ", " + a_ptr + ", " + e64);
      if (a_t.offset) k.ins("add.s64 " + c.gbase + ", " + c.gbase + ", " + std::to_string(a_t.offset * 2));
      a_chunks.push_back(c);
    }
  }
  if (b_fast) {
    auto st = b_t.effective_strides();
    size_t r = st.size();
    int64_t ldb = st[r - 2];
    for (int i = 0; i < BK * BN / 8 / THREADS; ++i) {
      Chunk c;
      std::string cc = k.r32(), row = k.r32(), ch = k.r32(), gcol = k.r32(), ccol = k.r32();
      c.soff = k.r32();
      c.pfix = k.pred();
      c.kc = k.r32();
      k.ins("add.u32 " + cc + ", " + tid + ", " + std::to_string(i * THREADS));
      k.ins("shr.u32 " + row + ", " + cc + ", 4");
      k.ins("and.b32 " + ch + ", " + cc + ", 15");
      k.ins("mul.lo.u32 " + c.soff + ", " + row + ", " + std::to_string(B_PITCH));
      k.ins("mad.lo.u32 " + c.soff + ", " + ch + ", 16, " + c.soff);
      k.ins("mad.lo.u32 " + gcol + ", " + ch + ", 8, " + bn);
      k.ins("setp.lt.u32 " + c.pfix + ", " + gcol + ", " + std::to_string(gp.N));
      k.ins("selp.u32 " + ccol + ", " + gcol + ", 0, " + c.pfix);
      k.ins("mov.u32 " + c.kc + ", " + row);
      std::string e64 = k.r64(), t64 = k.r64(), z64 = k.r64();
      c.gbase = k.r64();
      k.ins("mul.wide.u32 " + e64 + ", " + row + ", " + std::to_string(ldb * 2));
      k.ins("mul.wide.u32 " + t64 + ", " + ccol + ", 2");
      k.ins("add.s64 " + e64 + ", " + e64 + ", " + t64);
      k.ins("mul.wide.u32 " + z64 + ", " + cta_z + ", " + std::to_string(r == 3 ? st[0] * 2 : 0));
      k.ins("add.s64 " + e64 + ", " + e64 + ", " + z64);
      k.ins("add.s64 " + c.gbase + ", " + b_ptr + ", " + e64);
      if (b_t.offset) k.ins("add.s64 " + c.gbase + ", " + c.gbase + ", " + std::to_string(b_t.offset * 2));
      b_chunks.push_back(c);
    }
  }
  int64_t ldb_bytes = 0;
  if (b_fast) {
    auto st = b_t.effective_strides();
    ldb_bytes = st[st.size() - 2] * 2;
  }

  // Issues the copies of k-tile `kt` (u32 register) into the stage at shared address `stage`.
  auto load_tile = [&](const std::string& kt, const std::string& stage) {
    std::string k0 = k.r32();
    k.ins("shl.b32 " + k0 + ", " + kt + ", 5");
    auto state = e.save();
    if (a_fast) {
      for (auto& c : a_chunks) {
        std::string kc = k.r32(), pv = k.pred(), src = k.r32(), ga = k.r64(), off = k.r64(), sa = k.r32();
        k.ins("add.u32 " + kc + ", " + k0 + ", " + c.kc);
        k.ins("setp.lt.and.u32 " + pv + ", " + kc + ", " + std::to_string(gp.K) + ", " + c.pfix);
        k.ins("selp.u32 " + src + ", 16, 0, " + pv);
        k.ins("mul.wide.u32 " + off + ", " + k0 + ", 2");
        k.ins("add.s64 " + ga + ", " + c.gbase + ", " + off);
        k.ins("selp.b64 " + ga + ", " + ga + ", " + a_ptr + ", " + pv);
        k.ins("add.u32 " + sa + ", " + stage + ", " + c.soff);
        k.ins("cp.async.cg.shared.global [" + sa + "], [" + ga + "], 16, " + src);
      }
    } else {
      // Element path: 16 elements a thread; rows tid/32 + 8i, column tid%32.
      std::string r0 = k.r32(), col = k.r32(), kidx = k.r32(), pk = k.pred(), kcl = k.r32();
      k.ins("shr.u32 " + r0 + ", " + tid + ", 5");
      k.ins("and.b32 " + col + ", " + tid + ", 31");
      k.ins("add.u32 " + kidx + ", " + k0 + ", " + col);
      k.ins("setp.lt.u32 " + pk + ", " + kidx + ", " + std::to_string(gp.K));
      k.ins("min.u32 " + kcl + ", " + kidx + ", " + std::to_string(std::max<int64_t>(gp.K - 1, 0)));
      std::string kc = cvt_idx(k, e, kcl);
      for (int i = 0; i < BM * BK / THREADS; ++i) {
        std::string row = k.r32(), gm = k.r32(), gmc = k.r32(), pv = k.pred(), sa = k.r32(), hv = k.b16();
        k.ins("add.u32 " + row + ", " + r0 + ", " + std::to_string(8 * i));
        k.ins("add.u32 " + gm + ", " + bm + ", " + row);
        k.ins("setp.lt.and.u32 " + pv + ", " + gm + ", " + std::to_string(gp.M) + ", " + pk);
        k.ins("min.u32 " + gmc + ", " + gm + ", " + std::to_string(gp.M - 1));
        Val v = e.convert(e.emit(gp.a, gp.batched ? Index{bz, cvt_idx(k, e, gmc), kc} : Index{cvt_idx(k, e, gmc), kc}),
                          VClass::f32);
        std::string z = k.f32();
        k.ins("selp.f32 " + z + ", " + v.reg + ", 0f00000000, " + pv);
        k.ins("cvt.rn." + ety + ".f32 " + hv + ", " + z);
        k.ins("mad.lo.u32 " + sa + ", " + row + ", " + std::to_string(A_PITCH) + ", " + stage);
        k.ins("mad.lo.u32 " + sa + ", " + col + ", 2, " + sa);
        k.ins("st.shared.b16 [" + sa + "], " + hv);
      }
    }
    if (b_fast) {
      for (auto& c : b_chunks) {
        std::string kr = k.r32(), pv = k.pred(), src = k.r32(), ga = k.r64(), off = k.r64(), sa = k.r32();
        k.ins("add.u32 " + kr + ", " + k0 + ", " + c.kc);
        k.ins("setp.lt.and.u32 " + pv + ", " + kr + ", " + std::to_string(gp.K) + ", " + c.pfix);
        k.ins("selp.u32 " + src + ", 16, 0, " + pv);
        k.ins("mul.wide.u32 " + off + ", " + k0 + ", " + std::to_string(ldb_bytes));
        k.ins("add.s64 " + ga + ", " + c.gbase + ", " + off);
        k.ins("selp.b64 " + ga + ", " + ga + ", " + b_ptr + ", " + pv);
        k.ins("add.u32 " + sa + ", " + stage + ", " + c.soff);
        k.ins("cp.async.cg.shared.global [" + sa + "], [" + ga + "], 16, " + src);
      }
    } else {
      // Element path: 16 elements a thread; k rows tid/128 + 2i, column tid%128.
      std::string r0 = k.r32(), col = k.r32(), gn = k.r32(), pn = k.pred(), gnc = k.r32();
      k.ins("shr.u32 " + r0 + ", " + tid + ", 7");
      k.ins("and.b32 " + col + ", " + tid + ", 127");
      k.ins("add.u32 " + gn + ", " + bn + ", " + col);
      k.ins("setp.lt.u32 " + pn + ", " + gn + ", " + std::to_string(gp.N));
      k.ins("min.u32 " + gnc + ", " + gn + ", " + std::to_string(gp.N - 1));
      std::string nc = cvt_idx(k, e, gnc);
      for (int i = 0; i < BK * BN / THREADS; ++i) {
        std::string row = k.r32(), gk = k.r32(), gkc = k.r32(), pv = k.pred(), sa = k.r32(), hv = k.b16();
        k.ins("add.u32 " + row + ", " + r0 + ", " + std::to_string(2 * i));
        k.ins("add.u32 " + gk + ", " + k0 + ", " + row);
        k.ins("setp.lt.and.u32 " + pv + ", " + gk + ", " + std::to_string(gp.K) + ", " + pn);
        k.ins("min.u32 " + gkc + ", " + gk + ", " + std::to_string(std::max<int64_t>(gp.K - 1, 0)));
        std::string kcx = cvt_idx(k, e, gkc);
        Val v = e.convert(e.emit(gp.b, gp.batched ? Index{bz, kcx, nc} : Index{kcx, nc}), VClass::f32);
        std::string z = k.f32();
        k.ins("selp.f32 " + z + ", " + v.reg + ", 0f00000000, " + pv);
        k.ins("cvt.rn." + ety + ".f32 " + hv + ", " + z);
        k.ins("add.u32 " + sa + ", " + stage + ", " + std::to_string(A_BYTES));
        k.ins("mad.lo.u32 " + sa + ", " + row + ", " + std::to_string(B_PITCH) + ", " + sa);
        k.ins("mad.lo.u32 " + sa + ", " + col + ", 2, " + sa);
        k.ins("st.shared.b16 [" + sa + "], " + hv);
      }
    }
    e.restore(std::move(state));
    k.ins("cp.async.commit_group");
  };

  // Accumulators: acc[mi][ni][4], 4x4 tiles of m16n8 per warp.
  std::string acc[4][4][4];
  for (auto& a1 : acc)
    for (auto& a2 : a1)
      for (auto& r : a2) {
        r = k.f32();
        k.ins("mov.f32 " + r + ", 0f00000000");
      }
  // ldmatrix lane offsets within a stage.
  std::string a_lane = k.r32(), b_lane = k.r32();
  {
    std::string t1 = k.r32(), t2 = k.r32(), t3 = k.r32(), t4 = k.r32();
    k.ins("and.b32 " + t1 + ", " + lane + ", 15");
    k.ins("mad.lo.u32 " + t1 + ", " + wm + ", 64, " + t1);
    k.ins("shr.u32 " + t2 + ", " + lane + ", 4");
    k.ins("mul.lo.u32 " + a_lane + ", " + t1 + ", " + std::to_string(A_PITCH));
    k.ins("mad.lo.u32 " + a_lane + ", " + t2 + ", 16, " + a_lane);
    k.ins("and.b32 " + t3 + ", " + lane + ", 15");  // k row: lane%8 + ((lane/8)%2)*8 == lane%16
    k.ins("mul.lo.u32 " + b_lane + ", " + t3 + ", " + std::to_string(B_PITCH));
    k.ins("mad.lo.u32 " + t4 + ", " + wn + ", 32, 0");
    k.ins("mad.lo.u32 " + t4 + ", " + t2 + ", 8, " + t4);
    k.ins("mad.lo.u32 " + b_lane + ", " + t4 + ", 2, " + b_lane);
    k.ins("add.u32 " + b_lane + ", " + b_lane + ", " + std::to_string(A_BYTES));
  }

  int64_t ktiles = (gp.K + BK - 1) / BK;
  for (int s = 0; s < STAGES - 1; ++s) {
    std::string st = k.r32();
    k.ins("add.u32 " + st + ", " + sbase + ", " + std::to_string(s * STAGE_BYTES));
    load_tile(k.u32_const(uint32_t(s)), st);
  }
  std::string kt = k.r32(), rstage = k.r32(), wstage = k.r32(), ktw = k.r32();
  k.ins("mov.u32 " + kt + ", 0");
  k.ins("mov.u32 " + rstage + ", 0");
  k.ins("mov.u32 " + wstage + ", " + std::to_string((STAGES - 1) * STAGE_BYTES));
  std::string loop = k.label("kloop"), lend = k.label("kend");
  if (ktiles == 0) k.ins("bra " + lend);
  k.put_label(loop);
  k.ins("cp.async.wait_group " + std::to_string(STAGES - 2));
  k.ins("bar.sync 0");
  {
    std::string ws = k.r32();
    k.ins("add.u32 " + ktw + ", " + kt + ", " + std::to_string(STAGES - 1));
    k.ins("add.u32 " + ws + ", " + sbase + ", " + wstage);
    load_tile(ktw, ws);
  }
  {
    std::string rs = k.r32(), ab = k.r32(), bb = k.r32();
    k.ins("add.u32 " + rs + ", " + sbase + ", " + rstage);
    k.ins("add.u32 " + ab + ", " + rs + ", " + a_lane);
    k.ins("add.u32 " + bb + ", " + rs + ", " + b_lane);
    for (int kk = 0; kk < BK / 16; ++kk) {
      std::string af[4][4], bf[2][4];
      for (int mi = 0; mi < 4; ++mi) {
        for (auto& r : af[mi]) r = k.r32();
        k.ins("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {" + af[mi][0] + ", " + af[mi][1] + ", " + af[mi][2] + ", " +
              af[mi][3] + "}, [" + ab + "+" + std::to_string(mi * 16 * A_PITCH + kk * 32) + "]");
      }
      for (int nj = 0; nj < 2; ++nj) {
        for (auto& r : bf[nj]) r = k.r32();
        k.ins("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {" + bf[nj][0] + ", " + bf[nj][1] + ", " + bf[nj][2] +
              ", " + bf[nj][3] + "}, [" + bb + "+" + std::to_string(kk * 16 * B_PITCH + nj * 32) + "]");
      }
      for (int mi = 0; mi < 4; ++mi)
        for (int ni = 0; ni < 4; ++ni) {
          const std::string* bfr = &bf[ni / 2][(ni % 2) * 2];
          std::string d = "{" + acc[mi][ni][0] + ", " + acc[mi][ni][1] + ", " + acc[mi][ni][2] + ", " + acc[mi][ni][3] + "}";
          k.ins("mma.sync.aligned.m16n8k16.row.col.f32." + ety + "." + ety + ".f32 " + d + ", {" + af[mi][0] + ", " +
                af[mi][1] + ", " + af[mi][2] + ", " + af[mi][3] + "}, {" + bfr[0] + ", " + bfr[1] + "}, " + d);
        }
    }
  }
  {
    std::string pw = k.pred(), pr = k.pred(), pl = k.pred();
    k.ins("add.u32 " + rstage + ", " + rstage + ", " + std::to_string(STAGE_BYTES));
    k.ins("setp.eq.u32 " + pr + ", " + rstage + ", " + std::to_string(STAGES * STAGE_BYTES));
    k.ins("selp.u32 " + rstage + ", 0, " + rstage + ", " + pr);
    k.ins("add.u32 " + wstage + ", " + wstage + ", " + std::to_string(STAGE_BYTES));
    k.ins("setp.eq.u32 " + pw + ", " + wstage + ", " + std::to_string(STAGES * STAGE_BYTES));
    k.ins("selp.u32 " + wstage + ", 0, " + wstage + ", " + pw);
    k.ins("add.u32 " + kt + ", " + kt + ", 1");
    k.ins("setp.lt.u32 " + pl + ", " + kt + ", " + std::to_string(ktiles));
    k.ins("@" + pl + " bra " + loop);
  }
  k.put_label(lend);
  k.ins("cp.async.wait_group 0");

  // ---------------------------------------------------------------- epilogue on fragments
  std::vector<bool> pair_ok;
  for (size_t o = 0; o < g.outputs.size(); ++o)
    pair_ok.push_back(out_plain[o] && pair_store_ok(p.buffers[size_t(kern.writes[o])].type, gp.N));
  std::string mreg[4][2], mclamp[4][2], pmv[4][2], nreg[4][2], nclamp[4][2], pnv[4][2];
  {
    std::string r4 = k.r32(), c4 = k.r32();
    k.ins("shr.u32 " + r4 + ", " + lane + ", 2");
    k.ins("and.b32 " + c4 + ", " + lane + ", 3");
    k.ins("shl.b32 " + c4 + ", " + c4 + ", 1");
    for (int mi = 0; mi < 4; ++mi)
      for (int h = 0; h < 2; ++h) {
        std::string m = k.r32(), mc = k.r32();
        pmv[mi][h] = k.pred();
        k.ins("mad.lo.u32 " + m + ", " + wm + ", 64, " + r4);
        k.ins("add.u32 " + m + ", " + m + ", " + bm);
        k.ins("add.u32 " + m + ", " + m + ", " + std::to_string(mi * 16 + 8 * h));
        k.ins("setp.lt.u32 " + pmv[mi][h] + ", " + m + ", " + std::to_string(gp.M));
        k.ins("min.u32 " + mc + ", " + m + ", " + std::to_string(gp.M - 1));
        mreg[mi][h] = m;
        mclamp[mi][h] = cvt_idx(k, e, mc);
      }
    for (int ni = 0; ni < 4; ++ni)
      for (int c = 0; c < 2; ++c) {
        std::string n = k.r32(), nc = k.r32();
        pnv[ni][c] = k.pred();
        k.ins("mad.lo.u32 " + n + ", " + wn + ", 32, " + c4);
        k.ins("add.u32 " + n + ", " + n + ", " + bn);
        k.ins("add.u32 " + n + ", " + n + ", " + std::to_string(ni * 8 + c));
        k.ins("setp.lt.u32 " + pnv[ni][c] + ", " + n + ", " + std::to_string(gp.N));
        k.ins("min.u32 " + nc + ", " + n + ", " + std::to_string(gp.N - 1));
        nreg[ni][c] = n;
        nclamp[ni][c] = cvt_idx(k, e, nc);
      }
  }
  for (int mi = 0; mi < 4; ++mi)
    for (int h = 0; h < 2; ++h)
      for (int ni = 0; ni < 4; ++ni) {
        Val vals[2][8];
        Index oidx[2][8];  // the index of each output that reads this accumulator
        for (int c = 0; c < 2; ++c) {
          Index idx = make_index(bz, mclamp[mi][h], nclamp[ni][c]);
          Val tv = template_value({acc[mi][ni][2 * h + c], VClass::f32}, idx);
          set_template_override(tv);
          for (size_t o = 0; o < g.outputs.size() && o < 8; ++o) {
            oidx[c][o] = e.epilogue_index(out_steps[o], idx);
            vals[c][o] = e.emit(g.outputs[o].node, oidx[c][o]);
          }
        }
        e.override_fn = nullptr;
        for (size_t o = 0; o < g.outputs.size(); ++o) {
          const TensorType& t = p.buffers[size_t(kern.writes[o])].type;
          DType odt = t.dtype;
          if (o >= 8) throw Error("PTX: template kernel '" + kern.name + "' writes more than 8 buffers");
          if (pair_ok[o] && (odt == DType::f32 || odt == DType::bf16 || odt == DType::f16)) {
            std::string pv = k.pred();
            k.ins("and.pred " + pv + ", " + pmv[mi][h] + ", " + pnv[ni][0]);
            std::string addr = e.address(bound.writes[o], t, oidx[0][o]);
            if (odt == DType::f32) {
              Val v0 = e.convert(vals[0][o], VClass::f32), v1 = e.convert(vals[1][o], VClass::f32);
              k.ins("@" + pv + " st.global.v2.f32 [" + addr + "], {" + v0.reg + ", " + v1.reg + "}");
            } else {
              Val v0 = e.convert(vals[0][o], VClass::f32), v1 = e.convert(vals[1][o], VClass::f32);
              std::string w = k.r32();
              k.ins(std::string("cvt.rn.") + (odt == DType::bf16 ? "bf16x2" : "f16x2") + ".f32 " + w + ", " + v1.reg +
                    ", " + v0.reg);
              k.ins("@" + pv + " st.global.b32 [" + addr + "], " + w);
            }
          } else {
            for (int c = 0; c < 2; ++c) {
              std::string pv = k.pred();
              k.ins("and.pred " + pv + ", " + pmv[mi][h] + ", " + pnv[ni][c]);
              e.store(e.address(bound.writes[o], t, oidx[c][o]), odt, vals[c][o], pv);
            }
          }
        }
      }
  (void)mreg;
  (void)nreg;
  out.launch.grid[0] = uint32_t((gp.N + BN - 1) / BN);
  out.launch.grid[1] = uint32_t((gp.M + BM - 1) / BM);
  out.launch.grid[2] = uint32_t(gp.B);
  out.launch.block[0] = THREADS;
  out.launch.dynamic_smem = STAGES * STAGE_BYTES;
  out.ptx = k.finish(opt.target, ".extern .shared .align 128 .b8 egf_smem[];\n", THREADS);
  return out;
}

}  // namespace egfuse::ptx
