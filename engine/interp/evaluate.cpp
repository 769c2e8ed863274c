// The reference interpreter: evaluates a graph node by node on the CPU.
//
// Values are pure: every node gets its own dense tensor, so a reader of a
// mutated input's old version sees the old values whatever its position, and
// a reader of the mutation output sees the new ones. Storage sharing shows at
// the end: every mutation output is written, in node order, through its view
// chain into the storage of its root input, which `inputs` then holds. That
// is exactly what any hazard-free schedule over shared storage computes.
// Arithmetic is f32 (integers in double, exact to 2^53); each store rounds.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include "egfuse/interp.hpp"
#include "egfuse/templates.hpp"

namespace egfuse {
namespace {

TensorType dense(DType dt, Shape s) { return TensorType{dt, std::move(s), {}, 0}; }

[[noreturn]] void fail(const Node& n, const std::string& msg) { throw Error("node '" + n.name + "': " + msg); }

// out[o] = in[offset + sum_d o[d] * strides[d]] for every index o of out_shape.
Tensor gather(const Tensor& in, DType dt, const Shape& out_shape, const std::vector<int64_t>& strides, int64_t offset) {
  Tensor out(dense(dt, out_shape));
  int rank = int(out_shape.size());
  std::vector<int64_t> idx(size_t(rank), 0);
  int64_t pos = offset;
  for (int64_t i = 0; i < out.numel(); ++i) {
    out.data[size_t(i)] = in.data[size_t(pos)];
    for (int d = rank - 1; d >= 0; --d) {
      if (++idx[size_t(d)] < out_shape[size_t(d)]) {
        pos += strides[size_t(d)];
        break;
      }
      pos -= strides[size_t(d)] * (out_shape[size_t(d)] - 1);
      idx[size_t(d)] = 0;
    }
  }
  return out;
}

// Strides that read `in` broadcast to `out_shape` (0 along broadcast dimensions).
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out_shape) {
  std::vector<int64_t> st(out_shape.size(), 0);
  auto c = contiguous_strides(in);
  size_t lead = out_shape.size() - in.size();
  for (size_t d = 0; d < in.size(); ++d)
    if (in[d] != 1) st[lead + d] = c[d];
  return st;
}

Tensor broadcast_to(const Tensor& in, const Shape& out_shape) {
  return gather(in, in.type.dtype, out_shape, broadcast_strides(in.type.shape, out_shape), 0);
}

// ---------------------------------------------------------------- pointwise
float gelu(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }
float gelu_tanh(float x) {
  return 0.5f * x * (1.0f + std::tanh(0.79788456080286536f * (x + 0.044715f * x * x * x)));
}
float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

double unary(Op op, double v, bool as_float) {
  if (!as_float) {  // integer inputs: neg, abs, relu (logical_not below)
    switch (op) {
      case Op::neg: return -v;
      case Op::abs: return std::abs(v);
      case Op::relu: return v > 0 ? v : 0;
      case Op::logical_not: return v == 0;
      default: return v;
    }
  }
  float x = float(v);
  switch (op) {
    case Op::neg: return -x;
    case Op::abs: return std::abs(x);
    case Op::exp: return std::exp(x);
    case Op::log: return std::log(x);
    case Op::sqrt: return std::sqrt(x);
    case Op::rsqrt: return 1.0f / std::sqrt(x);
    case Op::sin: return std::sin(x);
    case Op::cos: return std::cos(x);
    case Op::tanh: return std::tanh(x);
    case Op::sigmoid: return sigmoid(x);
    case Op::relu: return std::isnan(x) ? x : x > 0 ? x : 0.0f;
    case Op::gelu: return gelu(x);
    case Op::gelu_tanh: return gelu_tanh(x);
    case Op::silu: return x * sigmoid(x);
    case Op::erf: return std::erf(x);
    case Op::reciprocal: return 1.0f / x;
    case Op::logical_not: return x == 0;
    default: return x;
  }
}

double binary(Op op, double a, double b, bool as_float) {
  switch (op) {
    case Op::eq: return a == b;
    case Op::ne: return a != b;
    case Op::lt: return a < b;
    case Op::le: return a <= b;
    case Op::gt: return a > b;
    case Op::ge: return a >= b;
    case Op::logical_and: return (a != 0) && (b != 0);
    case Op::logical_or: return (a != 0) || (b != 0);
    default: break;
  }
  if (!as_float) {
    switch (op) {
      case Op::add: return a + b;
      case Op::sub: return a - b;
      case Op::mul: return a * b;
      case Op::div: return b == 0 ? 0 : std::trunc(a / b);  // C semantics; x/0 = 0 (documented)
      case Op::max: return std::max(a, b);
      case Op::min: return std::min(a, b);
      case Op::pow: return std::pow(a, b);
      default: return 0;
    }
  }
  float x = float(a), y = float(b);
  switch (op) {
    case Op::add: return x + y;
    case Op::sub: return x - y;
    case Op::mul: return x * y;
    case Op::div: return x / y;
    case Op::max: return std::isnan(x) || std::isnan(y) ? std::numeric_limits<float>::quiet_NaN() : std::max(x, y);
    case Op::min: return std::isnan(x) || std::isnan(y) ? std::numeric_limits<float>::quiet_NaN() : std::min(x, y);
    case Op::pow: return std::pow(x, y);
    default: return 0;
  }
}

// Applies f to the inputs broadcast to the node's shape; stores rounded to its dtype.
Tensor pointwise(const Node& n, const std::vector<const Tensor*>& in, const std::function<double(const double*)>& f) {
  Tensor out(dense(n.type.dtype, n.type.shape));
  std::vector<Tensor> b;
  for (const Tensor* t : in) b.push_back(t->type.shape == n.type.shape ? *t : broadcast_to(*t, n.type.shape));
  double args[3] = {0, 0, 0};
  for (size_t i = 0; i < out.data.size(); ++i) {
    for (size_t k = 0; k < b.size(); ++k) args[k] = b[k].data[i];
    out.data[i] = round_to(n.type.dtype, f(args));
  }
  return out;
}

// ---------------------------------------------------------------- reductions
Tensor reduce(const Node& n, const Tensor& x) {
  const auto& a = std::get<ReduceAttrs>(n.attrs);
  int rank = x.type.rank();
  std::vector<bool> red(size_t(rank), false);
  for (auto ax : a.axes) red[size_t(ax < 0 ? ax + rank : ax)] = true;
  // Output position of each input element: strides of the kept dimensions.
  Shape kept;
  for (int d = 0; d < rank; ++d)
    if (!red[size_t(d)]) kept.push_back(x.type.shape[size_t(d)]);
  auto kept_strides = contiguous_strides(kept);
  std::vector<int64_t> st(size_t(rank), 0);
  for (int d = 0, k = 0; d < rank; ++d)
    if (!red[size_t(d)]) st[size_t(d)] = kept_strides[size_t(k++)];
  int64_t out_numel = 1;
  for (auto d : kept) out_numel *= d;
  int64_t count = out_numel ? x.numel() / out_numel : 0;

  bool as_float = is_float(n.type.dtype);
  double init = n.op == Op::prod ? 1 : n.op == Op::amax ? -std::numeric_limits<double>::infinity()
                                     : n.op == Op::amin ? std::numeric_limits<double>::infinity() : 0;
  std::vector<float> facc(static_cast<size_t>(out_numel), static_cast<float>(init));  // f32 accumulation, element order
  std::vector<double> iacc(size_t(out_numel), init);
  std::vector<int64_t> idx(size_t(rank), 0);
  int64_t pos = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    double v = x.data[size_t(i)];
    if (as_float) {
      float& acc = facc[size_t(pos)];
      float f = float(v);
      switch (n.op) {
        case Op::sum: case Op::mean: acc += f; break;
        case Op::prod: acc *= f; break;
        case Op::amax: acc = (std::isnan(f) || std::isnan(acc)) ? std::numeric_limits<float>::quiet_NaN() : std::max(acc, f); break;
        case Op::amin: acc = (std::isnan(f) || std::isnan(acc)) ? std::numeric_limits<float>::quiet_NaN() : std::min(acc, f); break;
        default: break;
      }
    } else {
      double& acc = iacc[size_t(pos)];
      switch (n.op) {
        case Op::sum: acc += v; break;
        case Op::prod: acc *= v; break;
        case Op::amax: acc = std::max(acc, v); break;
        case Op::amin: acc = std::min(acc, v); break;
        default: break;
      }
    }
    for (int d = rank - 1; d >= 0; --d) {
      if (++idx[size_t(d)] < x.type.shape[size_t(d)]) {
        pos += st[size_t(d)];
        break;
      }
      pos -= st[size_t(d)] * (x.type.shape[size_t(d)] - 1);
      idx[size_t(d)] = 0;
    }
  }
  Tensor out(dense(n.type.dtype, n.type.shape));
  for (int64_t i = 0; i < out_numel; ++i) {
    double v = as_float ? double(facc[size_t(i)]) : iacc[size_t(i)];
    if (n.op == Op::mean) v = double(float(v) / float(count));
    out.data[size_t(i)] = round_to(n.type.dtype, v);
  }
  return out;
}

// ---------------------------------------------------------------- views
Tensor view(const Node& n, const Tensor& x) {
  DType dt = x.type.dtype;
  auto xs = contiguous_strides(x.type.shape);
  switch (n.op) {
    case Op::reshape: {
      Tensor out = x;
      out.type.shape = n.type.shape;
      return out;
    }
    case Op::permute: {
      const auto& p = std::get<PermuteAttrs>(n.attrs).perm;
      std::vector<int64_t> st;
      for (auto d : p) st.push_back(xs[size_t(d)]);
      return gather(x, dt, n.type.shape, st, 0);
    }
    case Op::expand: return broadcast_to(x, n.type.shape);
    case Op::slice: {
      auto a = std::get<SliceAttrs>(n.attrs);
      if (a.dim < 0) a.dim += x.type.rank();
      auto st = xs;
      st[size_t(a.dim)] *= a.step;
      return gather(x, dt, n.type.shape, st, a.start * xs[size_t(a.dim)]);
    }
    default: fail(n, "not a view");
  }
}

// ---------------------------------------------------------------- templates and externs
// What a template or extern computes: its output and the new values of each
// input it writes in place (by input index).
struct KernelResult {
  Tensor out;
  std::map<int64_t, Tensor> written;
};

Tensor rounded(Tensor t, DType dt) {
  t.type.dtype = dt;
  for (auto& v : t.data) v = round_to(dt, v);
  return t;
}

// acc[b, m, n] = sum_k a[b, m, k] * b[b, k, n] in f32, k ascending.
std::vector<float> matmul(const Node& node, const Tensor& a, const Tensor& b) {
  bool batched = a.type.rank() == 3;
  if (a.type.rank() != b.type.rank() || (a.type.rank() != 2 && !batched)) fail(node, "gemm needs rank-2 or rank-3 operands");
  int64_t B = batched ? a.type.shape[0] : 1;
  int64_t M = a.type.shape[size_t(batched)], K = a.type.shape[size_t(batched) + 1], N = b.type.shape[size_t(batched) + 1];
  std::vector<float> acc(size_t(B * M * N), 0.0f);
  for (int64_t bi = 0; bi < B; ++bi)
    for (int64_t m = 0; m < M; ++m) {
      float* row = &acc[size_t((bi * M + m) * N)];
      for (int64_t k = 0; k < K; ++k) {
        float av = float(a.data[size_t((bi * M + m) * K + k)]);
        const double* brow = &b.data[size_t((bi * K + k) * N)];
        for (int64_t j = 0; j < N; ++j) row[j] += av * float(brow[j]);
      }
    }
  return acc;
}

// Rows dst[idx[t], :] = src[t, :]; later t wins for repeated indices.
Tensor index_copy(const Node& node, const Tensor& dst, const Tensor& idx, const Tensor& src) {
  Tensor out = dst;
  int64_t S = dst.type.shape.empty() ? 0 : dst.type.shape[0];
  int64_t D = S ? dst.numel() / S : 0;
  if (src.numel() != idx.numel() * D) fail(node, "index_copy: src has " + std::to_string(src.numel()) + " elements, expected " +
                                                     std::to_string(idx.numel() * D));
  for (int64_t t = 0; t < idx.numel(); ++t) {
    int64_t row = int64_t(idx.data[size_t(t)]);
    if (row < 0 || row >= S) fail(node, "index " + std::to_string(row) + " out of range [0, " + std::to_string(S) + ")");
    for (int64_t d = 0; d < D; ++d) out.data[size_t(row * D + d)] = round_to(dst.type.dtype, src.data[size_t(t * D + d)]);
  }
  return out;
}

KernelResult run_template(const Node& n, const std::vector<const Tensor*>& in, const TemplateRegistry& reg) {
  const std::string& kind = std::get<TemplateAttrs>(n.attrs).kind;
  const TemplateKind* k = reg.find(kind);
  if (!k) fail(n, "unknown template kind '" + kind + "'");
  KernelResult r;
  DType dt = n.type.dtype;
  auto need = [&](size_t count) {
    if (in.size() != count)
      fail(n, "template impl '" + k->impl + "' takes " + std::to_string(count) + " inputs, got " + std::to_string(in.size()));
  };
  if (k->impl == "gemm") {
    need(2);
    auto acc = matmul(n, *in[0], *in[1]);
    r.out = Tensor(dense(dt, n.type.shape));
    for (size_t i = 0; i < acc.size(); ++i) r.out.data[i] = round_to(dt, acc[i]);
  } else if (k->impl == "addmm") {  // (bias, a, b)
    need(3);
    auto acc = matmul(n, *in[1], *in[2]);
    Tensor bias = broadcast_to(*in[0], n.type.shape);
    r.out = Tensor(dense(dt, n.type.shape));
    for (size_t i = 0; i < acc.size(); ++i) r.out.data[i] = round_to(dt, float(bias.data[i]) + acc[i]);
  } else if (k->impl == "gemm_accumulate") {  // (c mutated, a, b): c += a @ b
    need(3);
    auto acc = matmul(n, *in[1], *in[2]);
    const Tensor& c = *in[0];
    Tensor sum(dense(c.type.dtype, c.type.shape));
    for (size_t i = 0; i < acc.size(); ++i) sum.data[i] = round_to(c.type.dtype, float(c.data[i]) + acc[i]);
    r.out = rounded(sum, dt);
    r.written[0] = std::move(sum);
  } else if (k->impl == "index_copy") {  // (dst mutated, idx, src): out = src
    need(3);
    r.written[0] = index_copy(n, *in[0], *in[1], *in[2]);
    r.out = rounded(*in[2], dt);
  } else if (k->impl == "index_copy_pair") {  // (k mutated, v mutated, idx, ks, vs): out = ks
    need(5);
    r.written[0] = index_copy(n, *in[0], *in[2], *in[3]);
    r.written[1] = index_copy(n, *in[1], *in[2], *in[4]);
    r.out = rounded(*in[3], dt);
  } else {
    fail(n, "template impl '" + k->impl + "' has no interpreter implementation");
  }
  r.out.type.shape = n.type.shape;
  return r;
}

// ---- extern kernels known to the interpreter
using ExternFn = std::function<KernelResult(const Node&, const std::vector<const Tensor*>&)>;

KernelResult extern_embedding(const Node& n, const std::vector<const Tensor*>& in) {
  // (ids, table) or (table, ids): the integer input holds row numbers.
  if (in.size() != 2) fail(n, "extern 'embedding' takes (ids, table)");
  bool ids_first = !is_float(in[0]->type.dtype);
  const Tensor& ids = *in[ids_first ? 0 : 1];
  const Tensor& table = *in[ids_first ? 1 : 0];
  if (is_float(ids.type.dtype) || table.type.rank() != 2) fail(n, "extern 'embedding' needs integer ids and a rank-2 table");
  int64_t V = table.type.shape[0], D = table.type.shape[1];
  Shape want = ids.type.shape;
  want.push_back(D);
  if (want != n.type.shape) fail(n, "extern 'embedding' gives " + shape_string(want) + ", annotated " + shape_string(n.type.shape));
  KernelResult r;
  r.out = Tensor(dense(n.type.dtype, n.type.shape));
  for (int64_t t = 0; t < ids.numel(); ++t) {
    int64_t row = int64_t(ids.data[size_t(t)]);
    if (row < 0 || row >= V) fail(n, "embedding id " + std::to_string(row) + " out of range [0, " + std::to_string(V) + ")");
    for (int64_t d = 0; d < D; ++d)
      r.out.data[size_t(t * D + d)] = round_to(n.type.dtype, table.data[size_t(row * D + d)]);
  }
  return r;
}

KernelResult extern_copy(const Node& n, const std::vector<const Tensor*>& in) {
  // copy(src): out = src's values in the out type (same element count).
  // copy(dst, src) {mutates=[0]}: dst = src broadcast to dst; out = new dst.
  KernelResult r;
  if (in.size() == 1) {
    if (in[0]->numel() != n.type.numel()) fail(n, "extern 'copy' of " + std::to_string(in[0]->numel()) + " elements into " +
                                                   to_string(n.type));
    r.out = rounded(*in[0], n.type.dtype);
  } else if (in.size() == 2) {
    Tensor dst = rounded(broadcast_to(*in[1], in[0]->type.shape), in[0]->type.dtype);
    if (dst.numel() != n.type.numel()) fail(n, "extern 'copy' output must have " + std::to_string(dst.numel()) + " elements");
    r.out = rounded(dst, n.type.dtype);
    r.written[0] = std::move(dst);
  } else {
    fail(n, "extern 'copy' takes (src) or (dst, src)");
  }
  r.out.type.shape = n.type.shape;
  return r;
}

// The in-place externs torch exports (index_copy_, addmm_), as written by the
// template kinds the mutation rules turn them into (kv_cache_update,
// kv_cache_update_pair, mm_accumulate): same reads, same in-place writes.
KernelResult with_out_shape(const Node& n, KernelResult r, const char* kernel) {
  if (r.out.numel() != n.type.numel())
    fail(n, std::string("extern '") + kernel + "' gives " + shape_string(r.out.type.shape) + ", annotated " + to_string(n.type));
  r.out = rounded(r.out, n.type.dtype);
  r.out.type.shape = n.type.shape;
  return r;
}
KernelResult extern_index_copy(const Node& n, const std::vector<const Tensor*>& in) {
  if (in.size() != 3) fail(n, "extern 'index_copy' takes (dst, idx, src) {mutates=[0]}");
  KernelResult r;
  r.written[0] = index_copy(n, *in[0], *in[1], *in[2]);
  r.out = *in[2];
  return with_out_shape(n, std::move(r), "index_copy");
}
KernelResult extern_index_copy_pair(const Node& n, const std::vector<const Tensor*>& in) {
  if (in.size() != 5) fail(n, "extern 'index_copy_pair' takes (k, v, idx, ks, vs) {mutates=[0, 1]}");
  KernelResult r;
  r.written[0] = index_copy(n, *in[0], *in[2], *in[3]);
  r.written[1] = index_copy(n, *in[1], *in[2], *in[4]);
  r.out = *in[3];
  return with_out_shape(n, std::move(r), "index_copy_pair");
}
KernelResult extern_addmm_inplace(const Node& n, const std::vector<const Tensor*>& in) {
  if (in.size() != 3) fail(n, "extern 'addmm_' takes (c, a, b) {mutates=[0]}");
  auto acc = matmul(n, *in[1], *in[2]);
  const Tensor& c = *in[0];
  if (acc.size() != size_t(c.numel())) fail(n, "extern 'addmm_': c and a @ b differ in size");
  Tensor sum(dense(c.type.dtype, c.type.shape));
  for (size_t i = 0; i < acc.size(); ++i) sum.data[i] = round_to(c.type.dtype, float(c.data[i]) + acc[i]);
  KernelResult r;
  r.out = sum;
  r.written[0] = std::move(sum);
  return with_out_shape(n, std::move(r), "addmm_");
}

const std::map<std::string, ExternFn>& extern_table() {
  static const std::map<std::string, ExternFn> table = {
      {"addmm_", extern_addmm_inplace},
      {"copy", extern_copy},
      {"embedding", extern_embedding},
      {"index_copy", extern_index_copy},
      {"index_copy_pair", extern_index_copy_pair},
  };
  return table;
}

KernelResult run_extern(const Node& n, const std::vector<const Tensor*>& in) {
  const auto& a = std::get<ExternAttrs>(n.attrs);
  auto it = extern_table().find(a.kernel);
  if (it == extern_table().end()) {
    std::string known;
    for (auto& [name, fn] : extern_table()) known += (known.empty() ? "" : ", ") + name;
    fail(n, "extern kernel '" + a.kernel + "' is unknown to the interpreter (known: " + known + ")");
  }
  KernelResult r = it->second(n, in);
  for (int64_t m : a.mutates)
    if (!r.written.count(m))
      fail(n, "extern kernel '" + a.kernel + "' does not write input " + std::to_string(m) + " in place");
  for (auto& [m, t] : r.written)
    if (std::find(a.mutates.begin(), a.mutates.end(), m) == a.mutates.end())
      fail(n, "extern kernel '" + a.kernel + "' writes input " + std::to_string(m) + " in place: declare {mutates=[" +
                  std::to_string(m) + "]}");
  return r;
}

// For each element of node `id`, its element index in the storage of
// storage_root(g, id): the view chain applied to an iota of the root.
Tensor storage_index(const Graph& g, NodeId id) {
  const Node& n = g[id];
  if (is_view(n.op)) {
    Tensor src = storage_index(g, n.inputs[0]);
    return view(n, src);
  }
  if (n.op == Op::mutation_output) {
    const Node& t = g[n.inputs[0]];
    return storage_index(g, t.inputs[size_t(std::get<MutationOutputAttrs>(n.attrs).input)]);
  }
  Tensor iota(dense(DType::i64, n.type.shape));
  std::iota(iota.data.begin(), iota.data.end(), 0.0);
  return iota;
}

}  // namespace

std::map<std::string, Tensor> evaluate(const Graph& g, std::map<std::string, Tensor>& inputs, const TemplateRegistry& reg) {
  std::vector<Tensor> values(g.size());
  std::map<std::pair<NodeId, int64_t>, Tensor> written;  // (template, input index) -> new values
  for (NodeId id = 0; id < g.size(); ++id) {
    const Node& n = g[id];
    std::vector<const Tensor*> in;
    for (NodeId i : n.inputs) in.push_back(&values[i]);
    switch (op_class(n.op)) {
      case OpClass::input: {
        auto it = inputs.find(n.name);
        if (it == inputs.end()) fail(n, "no value given for this input");
        if (it->second.type.shape != n.type.shape)
          fail(n, "input value has shape " + shape_string(it->second.type.shape) + ", expected " + shape_string(n.type.shape));
        if (it->second.data.size() != size_t(n.type.numel())) fail(n, "input value has the wrong number of elements");
        values[id] = rounded(it->second, n.type.dtype);
        values[id].type.strides.clear();
        values[id].type.offset = 0;
        break;
      }
      case OpClass::constant: {
        values[id] = Tensor(dense(n.type.dtype, n.type.shape));
        std::fill(values[id].data.begin(), values[id].data.end(),
                  round_to(n.type.dtype, std::get<ConstantAttrs>(n.attrs).value));
        break;
      }
      case OpClass::unary: {
        bool as_float = is_float(in[0]->type.dtype);
        values[id] = pointwise(n, in, [&](const double* a) { return unary(n.op, a[0], as_float); });
        break;
      }
      case OpClass::binary: {
        bool as_float = is_float(in[0]->type.dtype) || is_float(in[1]->type.dtype);
        values[id] = pointwise(n, in, [&](const double* a) { return binary(n.op, a[0], a[1], as_float); });
        break;
      }
      case OpClass::ternary:
        values[id] = pointwise(n, in, [](const double* a) { return a[0] != 0 ? a[1] : a[2]; });
        break;
      case OpClass::cast: values[id] = rounded(*in[0], n.type.dtype); break;
      case OpClass::view: values[id] = view(n, *in[0]); break;
      case OpClass::reduce: values[id] = reduce(n, *in[0]); break;
      case OpClass::template_:
      case OpClass::extern_: {
        KernelResult r = n.op == Op::template_ ? run_template(n, in, reg) : run_extern(n, in);
        values[id] = std::move(r.out);
        for (auto& [m, t] : r.written) written[{id, m}] = std::move(t);
        break;
      }
      case OpClass::mutation_output: {
        auto it = written.find({n.inputs[0], std::get<MutationOutputAttrs>(n.attrs).input});
        if (it == written.end()) fail(n, "its template did not write that input");
        values[id] = it->second;
        break;
      }
    }
  }

  // Shared storage: write every new version back into its root input, in order.
  for (NodeId id = 0; id < g.size(); ++id) {
    if (g[id].op != Op::mutation_output) continue;
    const Node& root = g[storage_root(g, id)];
    if (root.op != Op::input) fail(g[id], "mutates storage that is not a graph input");
    Tensor& storage = inputs.at(root.name);
    Tensor where = storage_index(g, id);
    for (size_t e = 0; e < where.data.size(); ++e)
      storage.data[size_t(where.data[e])] = round_to(storage.type.dtype, values[id].data[e]);
  }

  std::map<std::string, Tensor> out;
  for (const GraphOutput& o : g.outputs) out[o.name] = values[o.node];
  return out;
}

}  // namespace egfuse
