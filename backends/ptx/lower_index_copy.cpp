// index_copy / index_copy_pair templates: one thread per source element
// (t, d); row idx[t] of each mutated cache receives it. The template's own
// output (the rows written) and any epilogue are stored at (t, d).
#include <algorithm>

#include "backends/ptx/lower.hpp"

namespace egfuse::ptx {

PtxKernel lower_index_copy(const Plan& p, int ki, const TemplateRegistry& reg, const PtxEmitOptions& opt) {
  const PlanKernel& kern = p.kernels[size_t(ki)];
  const Graph& g = kern.body;
  NodeId tn = kNoNode;
  for (NodeId i = 0; i < g.size(); ++i)
    if (g[i].op == Op::template_) tn = i;
  const Node& T = g[tn];
  const TemplateKind* kind = reg.find(std::get<TemplateAttrs>(T.attrs).kind);
  bool pair = kind->impl == "index_copy_pair";
  // (dst, src) pairs by input index, and the index input.
  std::vector<std::pair<int64_t, int64_t>> copies = pair ? std::vector<std::pair<int64_t, int64_t>>{{0, 3}, {1, 4}}
                                                         : std::vector<std::pair<int64_t, int64_t>>{{0, 2}};
  NodeId idx_node = T.inputs.at(pair ? 2 : 1);
  NodeId src0 = T.inputs.at(size_t(copies[0].second));
  const Shape& shape = g[src0].type.shape;  // [T, D]
  for (auto& o : g.outputs) {
    const Node& on = g[o.node];
    bool mut = on.op == Op::mutation_output && on.inputs[0] == tn;
    if (!mut && on.type.shape != shape)
      throw Error("PTX: kernel '" + kern.name + "' writes '" + o.name + "' whose shape is not the template's");
  }

  PtxKernel out;
  out.launch.entry = sanitize_entry(kern.name);
  out.launch.strategy = std::string("template/") + kind->impl;
  KernelText k(out.launch.entry);
  ExprEmitter e(k, g, needs_idx64(p, kern));
  auto bound = bind_buffers(k, e, p, kern, out.launch);
  auto ins = body_inputs(g);
  int64_t numel = 1;
  for (auto d : shape) numel *= d;
  std::string gid = global_thread_id(k, e);
  std::string done = k.label("done"), pexit = k.pred();
  k.ins("setp.ge." + e.idx_type() + " " + pexit + ", " + gid + ", " + std::to_string(numel));
  k.ins("@" + pexit + " bra " + done);
  e.zero();
  Index td = e.delinearize(gid, shape);
  Val row = e.emit(idx_node, Index{td[0]});
  Val row_idx = e.convert(row, e.idx64() ? VClass::i64 : VClass::i32);
  for (auto [dst, src] : copies) {
    Val v = e.emit(T.inputs[size_t(src)], td);
    // Where the mutation output is written: its output buffer, else the dst input's storage.
    std::string ptr;
    TensorType t;
    for (size_t o = 0; o < g.outputs.size(); ++o) {
      const Node& on = g[g.outputs[o].node];
      if (on.op == Op::mutation_output && on.inputs[0] == tn && std::get<MutationOutputAttrs>(on.attrs).input == dst) {
        ptr = bound.writes[o];
        t = p.buffers[size_t(kern.writes[o])].type;
      }
    }
    if (ptr.empty()) {
      size_t i = size_t(std::find(ins.begin(), ins.end(), T.inputs[size_t(dst)]) - ins.begin());
      if (i >= ins.size()) throw Error("PTX: kernel '" + kern.name + "': the mutated input is not a buffer");
      ptr = bound.reads[i];
      t = p.buffers[size_t(kern.reads[i])].type;
    }
    e.store(e.address(ptr, t, Index{row_idx.reg, td[1]}), t.dtype, v);
  }
  Val tv = e.emit(src0, td);
  e.override_fn = [&](NodeId n, const Index&) -> std::optional<Val> {
    if (n == tn) return tv;
    return std::nullopt;
  };
  for (size_t o = 0; o < g.outputs.size(); ++o) {
    const Node& on = g[g.outputs[o].node];
    if (on.op == Op::mutation_output) continue;
    const TensorType& t = p.buffers[size_t(kern.writes[o])].type;
    e.store(e.address(bound.writes[o], t, td), t.dtype, e.emit(g.outputs[o].node, td));
  }
  k.put_label(done);
  out.launch.grid[0] = uint32_t(std::max<int64_t>((numel + 255) / 256, 1));
  out.launch.block[0] = 256;
  out.ptx = k.finish(opt.target);
  return out;
}

}  // namespace egfuse::ptx
