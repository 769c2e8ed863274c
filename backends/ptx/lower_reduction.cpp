// Reduction kernels: a group of threads per output row (a warp for rows up to
// 1024 elements, a 256-thread block beyond), the prologue evaluated at each
// element, lanes combined with warp shuffles (and shared memory across warps),
// the epilogue evaluated once per row. Rows whose reduced axes are trailing,
// contiguous and aligned are read with 16-byte vector loads.
#include <algorithm>

#include "backends/ptx/lower.hpp"

namespace egfuse::ptx {

namespace {

std::string init_value(Op op, VClass c) {
  if (c == VClass::f32) {
    switch (op) {
      case Op::amax: return "0fFF800000";
      case Op::amin: return "0f7F800000";
      case Op::prod: return "0f3F800000";
      default: return "0f00000000";
    }
  }
  bool wide = c == VClass::i64;
  switch (op) {
    case Op::amax: return wide ? "-9223372036854775807" : "-2147483648";
    case Op::amin: return wide ? "9223372036854775807" : "2147483647";
    case Op::prod: return "1";
    default: return "0";
  }
}

Op combine_op(Op r) {
  switch (r) {
    case Op::amax: return Op::max;
    case Op::amin: return Op::min;
    case Op::prod: return Op::mul;
    default: return Op::add;
  }
}

std::string ty_of(VClass c) { return c == VClass::f32 ? "f32" : c == VClass::i64 ? "s64" : "s32"; }

// acc = acc (op) v, in place.
void accumulate(KernelText& k, Op rop, VClass c, const std::string& acc, const std::string& v) {
  std::string ty = ty_of(c);
  switch (combine_op(rop)) {
    case Op::max: k.ins("max." + ty + " " + acc + ", " + acc + ", " + v); break;
    case Op::min: k.ins("min." + ty + " " + acc + ", " + acc + ", " + v); break;
    case Op::mul: k.ins(std::string(c == VClass::f32 ? "mul.rn." : "mul.lo.") + ty + " " + acc + ", " + acc + ", " + v); break;
    default: k.ins(std::string(c == VClass::f32 ? "add.rn." : "add.") + ty + " " + acc + ", " + acc + ", " + v); break;
  }
}

std::string new_reg(KernelText& k, VClass c) { return c == VClass::f32 ? k.f32() : c == VClass::i64 ? k.r64() : k.r32(); }

// Butterfly over `width` lanes: every lane ends with the combined value.
void warp_combine(KernelText& k, Op rop, VClass c, const std::string& acc, int width) {
  for (int off = width / 2; off >= 1; off /= 2) {
    std::string o = new_reg(k, c);
    if (c == VClass::i64) {
      std::string lo = k.r32(), hi = k.r32(), lo2 = k.r32(), hi2 = k.r32();
      k.ins("mov.b64 {" + lo + ", " + hi + "}, " + acc);
      k.ins("shfl.sync.bfly.b32 " + lo2 + ", " + lo + ", " + std::to_string(off) + ", 31, -1");
      k.ins("shfl.sync.bfly.b32 " + hi2 + ", " + hi + ", " + std::to_string(off) + ", 31, -1");
      k.ins("mov.b64 " + o + ", {" + lo2 + ", " + hi2 + "}");
    } else {
      k.ins("shfl.sync.bfly.b32 " + o + ", " + acc + ", " + std::to_string(off) + ", 31, -1");
    }
    accumulate(k, rop, c, acc, o);
  }
}

}  // namespace

PtxKernel lower_reduction(const Plan& p, int ki, const PtxEmitOptions& opt) {
  const PlanKernel& kern = p.kernels[size_t(ki)];
  const Graph& g = kern.body;
  NodeId red = kNoNode;
  for (NodeId i = 0; i < g.size(); ++i)
    if (is_reduction(g[i].op)) {
      if (red != kNoNode) throw Error("PTX: kernel '" + kern.name + "' has more than one reduction");
      red = i;
    }
  if (red == kNoNode) throw Error("PTX: reduction kernel '" + kern.name + "' has no reduction");
  const Node& R = g[red];
  NodeId X = R.inputs[0];
  const Shape& S = g[X].type.shape;
  int rank = int(S.size());
  std::vector<bool> reduced(size_t(rank), false);
  for (auto ax : std::get<ReduceAttrs>(R.attrs).axes) reduced[size_t(ax < 0 ? ax + rank : ax)] = true;
  Shape kept_shape, red_shape;
  for (int i = 0; i < rank; ++i) (reduced[size_t(i)] ? red_shape : kept_shape).push_back(S[size_t(i)]);
  int64_t rows = 1, inner = 1;
  for (auto d : kept_shape) rows *= d;
  for (auto d : red_shape) inner *= d;
  // Outputs: one value per row (the reduction and its epilogue), or full-shape
  // prologue values that do not need the reduction, stored as they stream by.
  std::vector<size_t> elem_outputs;
  std::vector<bool> is_elem(g.outputs.size(), false);
  for (size_t o = 0; o < g.outputs.size(); ++o)
    if (g[g.outputs[o].node].type.shape == S && g[g.outputs[o].node].type.numel() != rows &&
        !depends_on(g, g.outputs[o].node, red)) {
      elem_outputs.push_back(o);
      is_elem[o] = true;
    }
  for (size_t oi = 0; oi < g.outputs.size(); ++oi)
    if (auto& o = g.outputs[oi]; !is_elem[oi] && g[o.node].type.numel() != rows)
      throw Error("PTX: reduction kernel '" + kern.name + "' writes '" + o.name + "' of " +
                  shape_string(g[o.node].type.shape) + ", not one value per reduced row");

  const int G = inner <= 1024 ? 32 : 256;
  const int block = 256, rows_per_block = block / G;
  const int U = 4;  // unrolled loads in flight per thread
  VClass acc_cls = vclass(R.type.dtype);

  PtxKernel out;
  out.launch.entry = sanitize_entry(kern.name);
  KernelText k(out.launch.entry);
  ExprEmitter e(k, g, needs_idx64(p, kern));
  auto bound = bind_buffers(k, e, p, kern, out.launch);
  std::string T = e.idx_type();

  // Vector path: trailing reduced axes; full-shape contiguous inputs are read
  // 16 bytes at a time, anything else (a per-row statistic, a broadcast
  // weight) through the generic emitter at each element's coordinates.
  int vec = 0;
  bool trailing = true;
  for (int i = 0; i < rank; ++i)
    if (reduced[size_t(i)] && i < int(kept_shape.size())) trailing = false;
  auto ins = body_inputs(g);
  std::vector<size_t> vin;
  if (opt.allow_vector && trailing && rank > 0) {
    int minb = 8;
    for (size_t i = 0; i < ins.size(); ++i)
      if (g[ins[i]].type.shape == S && vector_ok(p.buffers[size_t(kern.reads[i])].type, S, 1))
        minb = std::min(minb, dtype_bytes(g[ins[i]].type.dtype));
    vec = std::min(8, 16 / minb);
    if (S.back() % vec != 0) vec = 0;
    for (size_t i = 0; vec && i < ins.size(); ++i)
      if (g[ins[i]].type.shape == S && vector_ok(p.buffers[size_t(kern.reads[i])].type, S, vec)) vin.push_back(i);
    if (vin.empty()) vec = 0;
  }
  int step_elems = vec ? vec : 1;
  out.launch.strategy = std::string("reduction/") + (G == 32 ? "warp-row" : "block-row") +
                        (vec ? "/vec" + std::to_string(vec) : "/scalar");

  std::string tid = k.r32(), cta = k.r32(), lane32 = k.r32(), grp = k.r32();
  k.ins("mov.u32 " + tid + ", %tid.x");
  k.ins("mov.u32 " + cta + ", %ctaid.x");
  k.ins("rem.u32 " + lane32 + ", " + tid + ", " + std::to_string(G));
  k.ins("div.u32 " + grp + ", " + tid + ", " + std::to_string(G));
  std::string row = e.new_idx(), lane = e.new_idx();
  if (e.idx64()) {
    std::string a = k.r64(), b = k.r64();
    k.ins("mul.wide.u32 " + a + ", " + cta + ", " + std::to_string(rows_per_block));
    k.ins("cvt.u64.u32 " + b + ", " + grp);
    k.ins("add.u64 " + row + ", " + a + ", " + b);
    k.ins("cvt.u64.u32 " + lane + ", " + lane32);
  } else {
    k.ins("mad.lo.u32 " + row + ", " + cta + ", " + std::to_string(rows_per_block) + ", " + grp);
    k.ins("mov.u32 " + lane + ", " + lane32);
  }
  std::string done = k.label("done"), pexit = k.pred();
  k.ins("setp.ge." + T + " " + pexit + ", " + row + ", " + std::to_string(rows));
  k.ins("@" + pexit + " bra " + done);
  e.zero();
  Index kept = e.delinearize(row, kept_shape);

  std::string acc = new_reg(k, acc_cls);
  k.ins("mov." + std::string(acc_cls == VClass::f32 ? "f32" : acc_cls == VClass::i64 ? "b64" : "b32") + " " + acc +
        ", " + init_value(R.op, acc_cls));
  std::string j = e.new_idx();
  k.ins(std::string(e.idx64() ? "mul.lo.u64 " : "mul.lo.u32 ") + j + ", " + lane + ", " + std::to_string(step_elems));

  auto store_elems = [&](const Index& c) {
    for (size_t o : elem_outputs) {
      const TensorType& t = p.buffers[size_t(kern.writes[o])].type;
      e.store(e.address(bound.writes[o], t, c), t.dtype, e.emit(g.outputs[o].node, c));
    }
  };
  // One evaluation of the prologue at reduced offset `jj`, folded into acc.
  auto element = [&](const std::string& jj) {
    auto state = e.save();
    if (vec) {
      std::string lin = e.new_idx();
      k.ins("mad.lo." + T + " " + lin + ", " + row + ", " + std::to_string(inner) + ", " + jj);
      std::map<NodeId, std::vector<Val>> loaded;
      for (size_t i : vin) {
        const TensorType& t = p.buffers[size_t(kern.reads[i])].type;
        std::string wide = k.r64(), a = k.r64();
        if (e.idx64()) k.ins("mul.lo.u64 " + wide + ", " + lin + ", " + std::to_string(dtype_bytes(t.dtype)));
        else k.ins("mul.wide.u32 " + wide + ", " + lin + ", " + std::to_string(dtype_bytes(t.dtype)));
        k.ins("add.s64 " + a + ", " + bound.reads[i] + ", " + wide);
        if (t.offset) {
          std::string a2 = k.r64();
          k.ins("add.s64 " + a2 + ", " + a + ", " + std::to_string(t.offset * dtype_bytes(t.dtype)));
          a = a2;
        }
        loaded[ins[i]] = vector_load(k, a, t.dtype, vec);
      }
      Index rc = e.delinearize(jj, red_shape);
      Index first(static_cast<size_t>(rank));
      size_t a = 0, b = 0;
      for (int i = 0; i < rank; ++i) first[size_t(i)] = reduced[size_t(i)] ? rc[b++] : kept[a++];
      for (int t = 0; t < vec; ++t) {
        Index c = first;
        if (t) {
          c.back() = e.new_idx();
          k.ins("add." + T + " " + c.back() + ", " + first.back() + ", " + std::to_string(t));
        }
        e.override_fn = [&, t, c](NodeId n, const Index& idx) -> std::optional<Val> {
          auto it = loaded.find(n);
          if (it == loaded.end() || idx != c) return std::nullopt;
          return it->second[size_t(t)];
        };
        Val v = e.convert(e.emit(X, c), acc_cls);
        accumulate(k, R.op, acc_cls, acc, v.reg);
        store_elems(c);
      }
      e.override_fn = nullptr;
    } else {
      Index rc = e.delinearize(jj, red_shape);
      Index full(static_cast<size_t>(rank));
      size_t a = 0, b = 0;
      for (int i = 0; i < rank; ++i) full[size_t(i)] = reduced[size_t(i)] ? rc[b++] : kept[a++];
      Val v = e.convert(e.emit(X, full), acc_cls);
      accumulate(k, R.op, acc_cls, acc, v.reg);
      store_elems(full);
    }
    e.restore(std::move(state));
  };

  const int64_t stride = int64_t(G) * step_elems;
  std::string lmain = k.label("main"), ltail = k.label("tail"), lend = k.label("end");
  k.put_label(lmain);
  {
    std::string last = e.new_idx(), pm = k.pred();
    k.ins("add." + T + " " + last + ", " + j + ", " + std::to_string((U - 1) * stride + step_elems - 1));
    k.ins("setp.ge." + T + " " + pm + ", " + last + ", " + std::to_string(inner));
    k.ins("@" + pm + " bra " + ltail);
    for (int u = 0; u < U; ++u) {
      std::string ju = j;
      if (u) {
        ju = e.new_idx();
        k.ins("add." + T + " " + ju + ", " + j + ", " + std::to_string(u * stride));
      }
      element(ju);
    }
    k.ins("add." + T + " " + j + ", " + j + ", " + std::to_string(U * stride));
    k.ins("bra " + lmain);
  }
  k.put_label(ltail);
  {
    std::string pt = k.pred();
    k.ins("setp.ge." + T + " " + pt + ", " + j + ", " + std::to_string(inner));
    k.ins("@" + pt + " bra " + lend);
    element(j);
    k.ins("add." + T + " " + j + ", " + j + ", " + std::to_string(stride));
    k.ins("bra " + ltail);
  }
  k.put_label(lend);

  std::string extra;
  warp_combine(k, R.op, acc_cls, acc, 32);
  std::string plane = k.pred();
  if (G > 32) {
    // Cross-warp: lane 0 of each warp parks its value in shared memory.
    extra = ".shared .align 8 .b8 egf_red[" + std::to_string(8 * (G / 32)) + "];\n";
    std::string w = k.r32(), l = k.r32(), addr = k.r32(), base = k.r32(), pl0 = k.pred();
    k.ins("div.u32 " + w + ", " + tid + ", 32");
    k.ins("rem.u32 " + l + ", " + tid + ", 32");
    k.ins("mov.u32 " + base + ", egf_red");
    k.ins("mad.lo.u32 " + addr + ", " + w + ", 8, " + base);
    k.ins("setp.eq.u32 " + pl0 + ", " + l + ", 0");
    std::string sty = acc_cls == VClass::i64 ? "b64" : "b32";
    k.ins("@" + pl0 + " st.shared." + sty + " [" + addr + "], " + acc);
    k.ins("bar.sync 0");
    std::string pw0 = k.pred(), skip = k.label("skipw");
    k.ins("setp.ne.u32 " + pw0 + ", " + w + ", 0");
    k.ins("@" + pw0 + " bra " + done);
    k.ins("mov." + std::string(acc_cls == VClass::f32 ? "f32" : acc_cls == VClass::i64 ? "b64" : "b32") + " " + acc +
          ", " + init_value(R.op, acc_cls));
    std::string pin = k.pred(), la = k.r32(), v = new_reg(k, acc_cls);
    k.ins("setp.lt.u32 " + pin + ", " + l + ", " + std::to_string(G / 32));
    k.ins("mad.lo.u32 " + la + ", " + l + ", 8, " + base);
    k.ins("@!" + pin + " bra " + skip);
    k.ins("ld.shared." + sty + " " + v + ", [" + la + "]");
    accumulate(k, R.op, acc_cls, acc, v);
    k.put_label(skip);
    warp_combine(k, R.op, acc_cls, acc, 32);
  }
  k.ins("setp.ne.u32 " + plane + ", " + lane32 + ", 0");
  k.ins("@" + plane + " bra " + done);
  Val result{acc, acc_cls};
  if (R.op == Op::mean) {
    std::string m = k.f32();
    k.ins("div.rn.f32 " + m + ", " + acc + ", " + fimm(float(inner)));
    result = {m, VClass::f32};
  }
  result = e.round_to(e.convert(result, vclass(R.type.dtype)), R.type.dtype);
  e.override_fn = [&](NodeId n, const Index&) -> std::optional<Val> {
    if (n == red) return result;
    return std::nullopt;
  };
  for (size_t o = 0; o < g.outputs.size(); ++o) {
    if (is_elem[o]) continue;
    // Where this output reads the row's result (a permute is not the row's own position).
    Index oc = e.epilogue_index(epilogue_steps(g, g.outputs[o].node, red, "PTX: kernel '" + kern.name + "'"),
                                e.delinearize(row, R.type.shape));
    const TensorType& t = p.buffers[size_t(kern.writes[o])].type;
    Val v = e.emit(g.outputs[o].node, oc);
    e.store(e.address(bound.writes[o], t, oc), t.dtype, v);
  }
  k.put_label(done);
  int64_t grid = (rows + rows_per_block - 1) / rows_per_block;
  out.launch.grid[0] = uint32_t(std::max<int64_t>(grid, 1));
  out.launch.block[0] = block;
  out.ptx = k.finish(opt.target, extra);
  return out;
}

}  // namespace egfuse::ptx
