// Pointwise kernels: one thread per element (scalar path, any views/strides),
// or one thread per 16-byte vector of elements when every access is
// contiguous, same-shaped and aligned (the bandwidth path).
#include "backends/ptx/lower.hpp"

namespace egfuse::ptx {

// Elements per thread for the vector path, 0 when it does not apply.
static int vector_width(const Plan& p, const PlanKernel& kern, const Shape& shape) {
  const Graph& g = kern.body;
  auto ins = body_inputs(g);
  int minb = 8;
  std::vector<NodeId> seen;
  for (auto& o : g.outputs)
    if (!identity_indexed(g, o.node, &seen)) return 0;
  for (NodeId n : seen) minb = std::min(minb, dtype_bytes(g[n].type.dtype));
  for (int w : kern.writes) minb = std::min(minb, dtype_bytes(p.buffers[size_t(w)].type.dtype));
  int vec = std::min(8, 16 / minb);
  int64_t numel = 1;
  for (auto d : shape) numel *= d;
  if (numel % vec != 0) return 0;
  for (NodeId n : seen) {
    size_t i = size_t(std::find(ins.begin(), ins.end(), n) - ins.begin());
    if (!vector_ok(p.buffers[size_t(kern.reads[i])].type, shape, vec)) return 0;
  }
  for (int w : kern.writes)
    if (!vector_ok(p.buffers[size_t(w)].type, shape, vec)) return 0;
  return vec;
}

PtxKernel lower_pointwise(const Plan& p, int ki, const PtxEmitOptions& opt) {
  const PlanKernel& kern = p.kernels[size_t(ki)];
  const Graph& g = kern.body;
  if (g.outputs.empty()) throw Error("PTX: kernel '" + kern.name + "' writes nothing");
  Shape shape = g[g.outputs[0].node].type.shape;
  for (auto& o : g.outputs)
    if (g[o.node].type.shape != shape)
      throw Error("PTX: pointwise kernel '" + kern.name + "' writes outputs of different shapes");
  int64_t numel = 1;
  for (auto d : shape) numel *= d;

  PtxKernel out;
  out.launch.entry = sanitize_entry(kern.name);
  KernelText k(out.launch.entry);
  ExprEmitter e(k, g, needs_idx64(p, kern));
  auto bound = bind_buffers(k, e, p, kern, out.launch);
  auto& wptr = bound.writes;
  int vec = opt.allow_vector ? vector_width(p, kern, shape) : 0;
  const uint32_t block = 256;
  int64_t threads = vec ? numel / vec : numel;
  std::string gid = global_thread_id(k, e);
  std::string done = k.label("done"), pexit = k.pred();
  k.ins("setp.ge." + e.idx_type() + " " + pexit + ", " + gid + ", " + std::to_string(threads));
  k.ins("@" + pexit + " bra " + done);

  if (vec) {
    out.launch.strategy = "pointwise/vec" + std::to_string(vec);
    // Pre-load every input's vector; element j of each then feeds the expression.
    std::map<NodeId, std::vector<Val>> loaded;
    auto ins = body_inputs(g);
    std::vector<NodeId> seen;
    for (auto& o : g.outputs) identity_indexed(g, o.node, &seen);
    auto byte_addr = [&](const std::string& ptr, const TensorType& t) {
      std::string wide = k.r64(), a = k.r64();
      int64_t bytes = int64_t(vec) * dtype_bytes(t.dtype);
      if (e.idx64()) k.ins("mul.lo.u64 " + wide + ", " + gid + ", " + std::to_string(bytes));
      else k.ins("mul.wide.u32 " + wide + ", " + gid + ", " + std::to_string(bytes));
      k.ins("add.s64 " + a + ", " + ptr + ", " + wide);
      if (t.offset) {
        std::string a2 = k.r64();
        k.ins("add.s64 " + a2 + ", " + a + ", " + std::to_string(t.offset * dtype_bytes(t.dtype)));
        return a2;
      }
      return a;
    };
    for (NodeId n : seen) {
      if (loaded.count(n)) continue;
      size_t i = size_t(std::find(ins.begin(), ins.end(), n) - ins.begin());
      const TensorType& t = p.buffers[size_t(kern.reads[i])].type;
      loaded[n] = vector_load(k, byte_addr(bound.reads[i], t), t.dtype, vec);
    }
    std::vector<std::vector<Val>> results(g.outputs.size());
    for (int j = 0; j < vec; ++j) {
      e.override_fn = [&, j](NodeId n, const Index&) -> std::optional<Val> {
        auto it = loaded.find(n);
        if (it == loaded.end()) return std::nullopt;
        return it->second[size_t(j)];
      };
      for (size_t o = 0; o < g.outputs.size(); ++o)
        results[o].push_back(e.emit(g.outputs[o].node, Index{"v" + std::to_string(j)}));
    }
    for (size_t o = 0; o < g.outputs.size(); ++o) {
      const TensorType& t = p.buffers[size_t(kern.writes[o])].type;
      vector_store(k, e, byte_addr(wptr[o], t), t.dtype, results[o]);
    }
  } else {
    out.launch.strategy = "pointwise/scalar";
    Index idx = e.delinearize(gid, shape);
    for (size_t o = 0; o < g.outputs.size(); ++o) {
      const TensorType& t = p.buffers[size_t(kern.writes[o])].type;
      Val v = e.emit(g.outputs[o].node, idx);
      e.store(e.address(wptr[o], t, idx), t.dtype, v);
    }
  }
  k.put_label(done);
  int64_t grid = (threads + block - 1) / block;
  if (grid > 0x7fffffff) throw Error("PTX: kernel '" + kern.name + "' needs too many blocks");
  out.launch.grid[0] = uint32_t(std::max<int64_t>(grid, 1));
  out.launch.block[0] = block;
  out.ptx = k.finish(opt.target);
  return out;
}

}  // namespace egfuse::ptx
