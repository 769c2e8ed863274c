// Reduction kernels: a group of threads per output row (a warp for rows up to
// 1024 elements, a 256-thread block beyond). One or more reductions over the
// same rows (softmax: max, then sum of exp(x - max); layernorm: mean, then
// variance) are phases, as in the SPIR-V backend: each phase walks the row,
// evaluating its prologue at each element (which may read earlier phases'
// results, broadcast back over the row), and its lanes are combined with warp
// shuffles (and shared memory across warps) so that every thread of the group
// holds the result. Full-row values that need the last result are stored in a
// final pass over the row; per-row values once per row. Rows whose reduced
// axes are trailing, contiguous and aligned are read with 16-byte vector loads.
#include <algorithm>
#include <numeric>

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
  std::vector<NodeId> all(g.size());
  std::iota(all.begin(), all.end(), NodeId(0));
  ReductionSpace sp;
  std::string why = analyse_reduction_kernel(g, all, [&](NodeId n) { return g[n].op != Op::input; }, &sp);
  if (!why.empty()) throw Error("PTX: reduction kernel '" + kern.name + "': " + why);
  const std::vector<NodeId>& reds = sp.reductions;
  const size_t P = reds.size();
  const Shape& S = sp.input_shape;
  int rank = int(S.size());
  const std::vector<bool>& reduced = sp.reduced;
  Shape kept_shape, red_shape;
  for (int i = 0; i < rank; ++i) (reduced[size_t(i)] ? red_shape : kept_shape).push_back(S[size_t(i)]);
  const int64_t rows = sp.rows, inner = sp.row_len;
  // When each output is stored: values needing no reduction as phase 0 streams
  // by; full-row values in the first pass after their last reduction (P: a
  // final pass); per-row values once per row at the end.
  std::vector<std::vector<size_t>> pass_outputs(P + 1);
  std::vector<bool> per_row(g.outputs.size(), false);
  for (size_t o = 0; o < g.outputs.size(); ++o) {
    NodeId n = g.outputs[o].node;
    auto l = sp.level[n];
    if (l == ReductionSpace::per_row) {
      per_row[o] = true;
      continue;
    }
    if (g[n].type.shape != S)
      throw Error("PTX: reduction kernel '" + kern.name + "' writes '" + g.outputs[o].name + "' of " +
                  shape_string(g[n].type.shape) + ", neither one value per reduced row nor the reduced input's shape");
    size_t pass = 0;
    for (size_t q = 0; q < P; ++q)
      if (l == ReductionSpace::row && depends_on(g, n, reds[q])) pass = q + 1;
    pass_outputs[pass].push_back(o);
  }

  const int G = inner <= 1024 ? 32 : 256;
  const int block = 256, rows_per_block = block / G;
  const int U = 4;  // unrolled loads in flight per thread

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
                        (vec ? "/vec" + std::to_string(vec) : "/scalar") + (P > 1 ? "/phases" + std::to_string(P) : "");

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

  // Results of finished phases, seen by every later evaluation.
  std::map<NodeId, Val> results;
  auto base_override = [&](NodeId n) -> std::optional<Val> {
    auto it = results.find(n);
    if (it == results.end()) return std::nullopt;
    return it->second;
  };
  e.override_fn = [&](NodeId n, const Index&) { return base_override(n); };

  auto store_outputs = [&](size_t pass, const Index& c) {
    for (size_t o : pass_outputs[pass]) {
      const TensorType& t = p.buffers[size_t(kern.writes[o])].type;
      e.store(e.address(bound.writes[o], t, c), t.dtype, e.emit(g.outputs[o].node, c));
    }
  };
  auto mov_init = [&](VClass cls, const std::string& acc, Op rop) {
    k.ins("mov." + std::string(cls == VClass::f32 ? "f32" : cls == VClass::i64 ? "b64" : "b32") + " " + acc + ", " +
          init_value(rop, cls));
  };
  std::string extra;
  if (G > 32) extra = ".shared .align 8 .b8 egf_red[" + std::to_string(8 * (G / 32)) + "];\n";

  for (size_t pass = 0; pass <= P; ++pass) {
    if (pass == P && pass_outputs[P].empty()) break;
    const bool reducing = pass < P;
    NodeId red = reducing ? reds[pass] : kNoNode;
    NodeId X = reducing ? g[red].inputs[0] : kNoNode;
    Op rop = reducing ? g[red].op : Op::sum;
    VClass acc_cls = reducing ? vclass(g[red].type.dtype) : VClass::f32;
    std::string acc;
    if (reducing) {
      acc = new_reg(k, acc_cls);
      mov_init(acc_cls, acc, rop);
    }
    if (P > 1) k.comment(reducing ? "phase " + std::to_string(pass) + ": " + g[red].name : "final pass: full-row outputs");
    std::string j = e.new_idx();
    k.ins(std::string(e.idx64() ? "mul.lo.u64 " : "mul.lo.u32 ") + j + ", " + lane + ", " + std::to_string(step_elems));

    // One element of the row at reduced offset `jj`: X folded into acc, this pass's stores.
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
            if (auto r = base_override(n)) return r;
            auto it = loaded.find(n);
            if (it == loaded.end() || idx != c) return std::nullopt;
            return it->second[size_t(t)];
          };
          if (reducing) {
            Val v = e.convert(e.emit(X, c), acc_cls);
            accumulate(k, rop, acc_cls, acc, v.reg);
          }
          store_outputs(pass, c);
        }
        e.override_fn = [&](NodeId n, const Index&) { return base_override(n); };
      } else {
        Index rc = e.delinearize(jj, red_shape);
        Index full(static_cast<size_t>(rank));
        size_t a = 0, b = 0;
        for (int i = 0; i < rank; ++i) full[size_t(i)] = reduced[size_t(i)] ? rc[b++] : kept[a++];
        if (reducing) {
          Val v = e.convert(e.emit(X, full), acc_cls);
          accumulate(k, rop, acc_cls, acc, v.reg);
        }
        store_outputs(pass, full);
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
    if (!reducing) break;

    // Every thread of the row's group ends with the combined value.
    warp_combine(k, rop, acc_cls, acc, 32);
    if (G > 32) {
      // Cross-warp: lane 0 of each warp parks its value in shared memory; every
      // warp combines all of them; a second barrier before the next phase reuses it.
      std::string w = k.r32(), l = k.r32(), addr = k.r32(), base = k.r32(), pl0 = k.pred();
      k.ins("div.u32 " + w + ", " + tid + ", 32");
      k.ins("rem.u32 " + l + ", " + tid + ", 32");
      k.ins("mov.u32 " + base + ", egf_red");
      k.ins("mad.lo.u32 " + addr + ", " + w + ", 8, " + base);
      k.ins("setp.eq.u32 " + pl0 + ", " + l + ", 0");
      std::string sty = acc_cls == VClass::i64 ? "b64" : "b32";
      k.ins("@" + pl0 + " st.shared." + sty + " [" + addr + "], " + acc);
      k.ins("bar.sync 0");
      std::string skip = k.label("skipw");
      mov_init(acc_cls, acc, rop);
      std::string pin = k.pred(), la = k.r32(), v = new_reg(k, acc_cls);
      k.ins("setp.lt.u32 " + pin + ", " + l + ", " + std::to_string(G / 32));
      k.ins("mad.lo.u32 " + la + ", " + l + ", 8, " + base);
      k.ins("@!" + pin + " bra " + skip);
      k.ins("ld.shared." + sty + " " + v + ", [" + la + "]");
      accumulate(k, rop, acc_cls, acc, v);
      k.put_label(skip);
      warp_combine(k, rop, acc_cls, acc, 32);
      k.ins("bar.sync 0");
    }
    Val result{acc, acc_cls};
    if (rop == Op::mean) {
      std::string m = k.f32();
      k.ins("div.rn.f32 " + m + ", " + acc + ", " + fimm(float(inner)));
      result = {m, VClass::f32};
    }
    results[red] = e.round_to(e.convert(result, vclass(g[red].type.dtype)), g[red].type.dtype);
  }

  std::string plane = k.pred();
  k.ins("setp.ne.u32 " + plane + ", " + lane32 + ", 0");
  k.ins("@" + plane + " bra " + done);
  for (size_t o = 0; o < g.outputs.size(); ++o) {
    if (!per_row[o]) continue;
    const Shape& os = g[g.outputs[o].node].type.shape;
    Index oc = e.delinearize(row, os);
    const TensorType& t = p.buffers[size_t(kern.writes[o])].type;
    Val v = e.emit(g.outputs[o].node, oc);
    e.store(e.address(bound.writes[o], t, oc), t.dtype, v);
  }
  k.put_label(done);
  e.override_fn = nullptr;
  int64_t grid = (rows + rows_per_block - 1) / rows_per_block;
  out.launch.grid[0] = uint32_t(std::max<int64_t>(grid, 1));
  out.launch.block[0] = block;
  out.ptx = k.finish(opt.target, extra);
  return out;
}

}  // namespace egfuse::ptx
