// aten ops -> egfuse IR. One table maps each aten target to a lowering; many
// lowerings are shared and parameterized by table data (unary, binary,
// reduction, view and creator ops). Values that depend on no graph input are
// folded at import time (host tensors below) and enter the graph as constants.
// An op without a lowering becomes an opaque extern kernel.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

#include "egfuse/templates.hpp"
#include "pt2_program.hpp"

namespace egfuse::pt2 {
namespace {

using IRGraph = ::egfuse::Graph;
using IRNode = ::egfuse::Node;

// ================================================================ host tensors
int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

double store(DType dt, double v) {
  switch (dt) {
    case DType::f32: case DType::f16: case DType::bf16: return double(float(v));
    case DType::i32: case DType::i64: return std::isfinite(v) ? std::trunc(v) : 0;
    case DType::boolean: return v != 0 ? 1 : 0;
  }
  return v;
}

Tensor make_tensor(DType dt, Shape s, double fill = 0) {
  Tensor t;
  t.type.dtype = dt;
  t.type.shape = std::move(s);
  t.data.assign(size_t(numel_of(t.type.shape)), store(dt, fill));
  return t;
}

// Gathers a[offset + sum idx*strides] for every index of `shape`.
Tensor strided(const Tensor& a, const Shape& shape, const std::vector<int64_t>& strides, int64_t offset) {
  Tensor t = make_tensor(a.type.dtype, shape);
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t k = 0; k < int64_t(t.data.size()); ++k) {
    int64_t off = offset;
    for (size_t i = 0; i < idx.size(); ++i) off += idx[i] * strides[i];
    t.data[size_t(k)] = a.data[size_t(off)];
    for (int i = int(idx.size()) - 1; i >= 0; --i) {
      if (++idx[size_t(i)] < shape[size_t(i)]) break;
      idx[size_t(i)] = 0;
    }
  }
  return t;
}

Tensor h_reshape(Tensor a, Shape s) {
  a.type.shape = std::move(s);
  return a;
}
Tensor h_permute(const Tensor& a, const std::vector<int64_t>& perm) {
  auto st = contiguous_strides(a.type.shape);
  Shape s;
  std::vector<int64_t> ps;
  for (auto p : perm) s.push_back(a.type.shape[size_t(p)]), ps.push_back(st[size_t(p)]);
  return strided(a, s, ps, 0);
}
Tensor h_expand(const Tensor& a, const Shape& s) {
  auto st = contiguous_strides(a.type.shape);
  std::vector<int64_t> es(s.size(), 0);
  size_t lead = s.size() - a.type.shape.size();
  for (size_t i = lead; i < s.size(); ++i)
    es[i] = a.type.shape[i - lead] == 1 && s[i] != 1 ? 0 : st[i - lead];
  return strided(a, s, es, 0);
}
Tensor h_slice(const Tensor& a, int64_t dim, int64_t start, int64_t end, int64_t step) {
  auto st = contiguous_strides(a.type.shape);
  Shape s = a.type.shape;
  s[size_t(dim)] = std::max<int64_t>(0, (end - start + step - 1) / step);
  auto ss = st;
  ss[size_t(dim)] *= step;
  return strided(a, s, ss, start * st[size_t(dim)]);
}
Tensor h_cast(Tensor a, DType dt) {
  a.type.dtype = dt;
  for (auto& v : a.data) v = store(dt, v);
  return a;
}
std::optional<Shape> bshape(const Shape& a, const Shape& b) {
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1) return std::nullopt;
    out[i] = da == 1 ? db : da;
  }
  return out;
}
template <class F>
Tensor h_binary(const Tensor& a, const Tensor& b, DType out, F f) {
  auto s = bshape(a.type.shape, b.type.shape);
  if (!s) throw FormatError("E-pt2-shape", "shapes " + shape_string(a.type.shape) + " and " +
                                               shape_string(b.type.shape) + " do not broadcast");
  Tensor ea = h_expand(a, *s), eb = h_expand(b, *s);
  Tensor t = make_tensor(out, *s);
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = store(out, f(ea.data[i], eb.data[i]));
  return t;
}
Tensor h_cat(const std::vector<Tensor>& xs, int64_t dim, DType dt) {
  Shape s = xs[0].type.shape;
  int64_t total = 0;
  for (auto& x : xs) total += x.type.shape[size_t(dim)];
  s[size_t(dim)] = total;
  Tensor t = make_tensor(dt, s);
  int64_t outer = numel_of(Shape(s.begin(), s.begin() + dim));
  int64_t inner = numel_of(Shape(s.begin() + dim + 1, s.end()));
  size_t w = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (auto& x : xs) {
      int64_t chunk = x.type.shape[size_t(dim)] * inner;
      for (int64_t k = 0; k < chunk; ++k) t.data[w++] = store(dt, x.data[size_t(o * chunk + k)]);
    }
  return t;
}
Tensor h_cumsum(const Tensor& a, int64_t dim, DType dt) {
  Tensor t = h_cast(a, dt);
  const Shape& s = a.type.shape;
  int64_t n = s[size_t(dim)], inner = numel_of(Shape(s.begin() + dim + 1, s.end()));
  int64_t outer = numel_of(Shape(s.begin(), s.begin() + dim));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i)
      for (int64_t k = 1; k < n; ++k) {
        size_t at = size_t((o * n + k) * inner + i);
        t.data[at] = store(dt, t.data[at] + t.data[at - size_t(inner)]);
      }
  return t;
}

double apply_binary(Op op, double a, double b) {
  switch (op) {
    case Op::add: return a + b;
    case Op::sub: return a - b;
    case Op::mul: return a * b;
    case Op::div: return a / b;
    case Op::max: return std::max(a, b);
    case Op::min: return std::min(a, b);
    case Op::pow: return std::pow(a, b);
    case Op::eq: return a == b;
    case Op::ne: return a != b;
    case Op::lt: return a < b;
    case Op::le: return a <= b;
    case Op::gt: return a > b;
    case Op::ge: return a >= b;
    case Op::logical_and: return (a != 0) && (b != 0);
    case Op::logical_or: return (a != 0) || (b != 0);
    default: return 0;
  }
}
std::optional<double> apply_unary(Op op, double x) {
  switch (op) {
    case Op::neg: return -x;
    case Op::abs: return std::fabs(x);
    case Op::exp: return std::exp(x);
    case Op::log: return std::log(x);
    case Op::sqrt: return std::sqrt(x);
    case Op::rsqrt: return 1 / std::sqrt(x);
    case Op::sin: return std::sin(x);
    case Op::cos: return std::cos(x);
    case Op::tanh: return std::tanh(x);
    case Op::reciprocal: return 1 / x;
    case Op::logical_not: return x == 0;
    case Op::relu: return x > 0 ? x : 0;
    default: return std::nullopt;
  }
}

// ================================================================ lowering state
struct Value {
  NodeId node = kNoNode;
  std::shared_ptr<const Tensor> folded;  // known at import time
  std::string view_of;                   // value this one is a view of (in-place updates of views are refused)
  bool is_input = false;
};

// A binary-op operand: a tensor value or a Python number.
struct Operand {
  bool scalar = false;
  bool scalar_is_float = false;
  double v = 0;
  std::string name;
};

class Lowering;
using Handler = void (*)(Lowering&, const Node&);
const std::map<std::string, Handler>& handlers();

constexpr double kMaskedScore = -3.4028234663852886e38;  // lowest f32: exp() of it is 0, like -inf

class Lowering {
 public:
  Lowering(IRGraph& g, const TemplateRegistry& reg, ImportedProgram& out) : g(g), b(g, reg), reg(reg), out(out) {}

  IRGraph& g;
  Builder b;
  const TemplateRegistry& reg;
  ImportedProgram& out;
  std::map<std::string, Value> vals;
  const pt2::Graph* cur = nullptr;
  const Node* node = nullptr;                               // node being lowered (for messages)
  std::string hint = "v";                                   // torch name of the value being built
  std::string key;                                          // table key of the node (functional form of in-place ops)
  std::map<std::string, std::vector<std::string>> externs;  // target -> values it produced
  std::map<NodeId, std::string> torch_names;                // node -> torch value it stands for
  std::set<std::string> mutable_inputs;

  // ---------------------------------------------------------------- errors
  [[noreturn]] void fail(const std::string& code, const std::string& msg) const {
    std::string where = node ? "node '" + node->name + "' (" + node->target + ")" : std::string("graph");
    if (node && !node->stack_trace.empty()) where += " [" + node->stack_trace + "]";
    throw FormatError(code, where + ": " + msg);
  }

  // ---------------------------------------------------------------- building
  std::string nm() { return g.fresh_name(hint + "_x"); }
  NodeId op(Op o, std::vector<NodeId> in, Attrs a = NoAttrs{}) { return b.op(o, std::move(in), std::move(a), nm()); }
  NodeId un(Op o, NodeId a) { return op(o, {a}); }
  NodeId bin(Op o, NodeId a, NodeId c) { return op(o, {a, c}); }
  NodeId cast(NodeId a, DType dt) { return g[a].type.dtype == dt ? a : op(Op::cast, {a}, CastAttrs{dt}); }
  NodeId constant(double v, DType dt, Shape s = {}) { return b.constant(store(dt, v), dt, std::move(s), nm()); }
  NodeId reshape(NodeId a, Shape s) { return g[a].type.shape == s ? a : op(Op::reshape, {a}, ReshapeAttrs{std::move(s)}); }
  NodeId permute(NodeId a, std::vector<int64_t> p) {
    bool id = true;
    for (size_t i = 0; i < p.size(); ++i) id = id && p[i] == int64_t(i);
    return id ? a : op(Op::permute, {a}, PermuteAttrs{std::move(p)});
  }
  NodeId expand(NodeId a, Shape s) { return g[a].type.shape == s ? a : op(Op::expand, {a}, ExpandAttrs{std::move(s)}); }
  NodeId slice(NodeId a, int64_t dim, int64_t start, int64_t end, int64_t step = 1) {
    if (start == 0 && end == g[a].type.shape[size_t(dim)] && step == 1) return a;
    return op(Op::slice, {a}, SliceAttrs{dim, start, end, step});
  }
  NodeId reduce(Op o, NodeId a, std::vector<int64_t> axes, bool keepdim) {
    return op(o, {a}, ReduceAttrs{std::move(axes), keepdim});
  }
  NodeId templ(const std::string& kind, std::vector<NodeId> in) { return b.templ(kind, std::move(in), nm()); }
  const TensorType& type(NodeId n) const { return g[n].type; }
  const Shape& shape(NodeId n) const { return g[n].type.shape; }

  // A graph input holding import-time data (folded values, pad/selection matrices).
  NodeId data_input(const std::string& name, Tensor t) {
    if (auto id = g.find(name)) return *id;
    NodeId n = b.input(name, TensorType{t.type.dtype, t.type.shape, {}, 0});
    out.weights[name] = std::move(t);
    return n;
  }

  // ---------------------------------------------------------------- arguments
  const Arg* find_arg(const Node& n, const char* name, size_t pos) const {
    for (auto& a : n.inputs)
      if (a.name == name) return a.arg.kind == Arg::Kind::none ? nullptr : &a.arg;
    if (pos < n.inputs.size() && n.inputs[pos].name.empty())
      return n.inputs[pos].arg.kind == Arg::Kind::none ? nullptr : &n.inputs[pos].arg;
    return nullptr;
  }
  const Arg& need_arg(const Node& n, const char* name, size_t pos) const {
    const Arg* a = find_arg(n, name, pos);
    if (!a) fail("E-pt2-arg", std::string("missing argument '") + name + "'");
    return *a;
  }
  [[noreturn]] void bad_arg(const char* name, const Arg& a, const char* expected) const {
    fail("E-pt2-arg", std::string("argument '") + name + "': expected " + expected + ", got " +
                          std::string(arg_kind_name(a.kind)));
  }
  int64_t int_arg(const Node& n, const char* name, size_t pos, std::optional<int64_t> dflt = std::nullopt) const {
    const Arg* a = find_arg(n, name, pos);
    if (!a) {
      if (dflt) return *dflt;
      fail("E-pt2-arg", std::string("missing argument '") + name + "'");
    }
    if (a->kind == Arg::Kind::int_) return a->i;
    if (a->kind == Arg::Kind::bool_) return a->b;
    bad_arg(name, *a, "an int");
  }
  double num_arg(const Node& n, const char* name, size_t pos, std::optional<double> dflt = std::nullopt) const {
    const Arg* a = find_arg(n, name, pos);
    if (!a) {
      if (dflt) return *dflt;
      fail("E-pt2-arg", std::string("missing argument '") + name + "'");
    }
    if (a->kind == Arg::Kind::float_) return a->f;
    if (a->kind == Arg::Kind::int_) return double(a->i);
    if (a->kind == Arg::Kind::bool_) return a->b;
    bad_arg(name, *a, "a number");
  }
  bool bool_arg(const Node& n, const char* name, size_t pos, bool dflt) const {
    const Arg* a = find_arg(n, name, pos);
    if (!a) return dflt;
    if (a->kind == Arg::Kind::bool_) return a->b;
    if (a->kind == Arg::Kind::int_) return a->i != 0;
    bad_arg(name, *a, "a bool");
  }
  std::vector<int64_t> ints_arg(const Node& n, const char* name, size_t pos,
                                std::optional<std::vector<int64_t>> dflt = std::nullopt) const {
    const Arg* a = find_arg(n, name, pos);
    if (!a) {
      if (dflt) return *dflt;
      fail("E-pt2-arg", std::string("missing argument '") + name + "'");
    }
    if (a->kind == Arg::Kind::ints || a->kind == Arg::Kind::bools) return a->ints;
    if (a->kind == Arg::Kind::int_) return {a->i};
    bad_arg(name, *a, "an int list");
  }
  std::string str_arg(const Node& n, const char* name, size_t pos, std::string dflt) const {
    const Arg* a = find_arg(n, name, pos);
    if (!a) return dflt;
    if (a->kind != Arg::Kind::string) bad_arg(name, *a, "a string");
    return a->s;
  }
  std::optional<DType> dtype_arg(const Node& n, const char* name, size_t pos) const {
    const Arg* a = find_arg(n, name, pos);
    if (!a) return std::nullopt;
    if (a->kind != Arg::Kind::scalar_type) bad_arg(name, *a, "a dtype");
    auto dt = dtype_of_scalar_type(int(a->i));
    if (!dt) fail("E-pt2-dtype", std::string("argument '") + name + "': unsupported dtype " + scalar_type_name(int(a->i)));
    return dt;
  }
  std::string tensor_arg(const Node& n, const char* name, size_t pos) const {
    const Arg& a = need_arg(n, name, pos);
    if (a.kind != Arg::Kind::tensor) bad_arg(name, a, "a tensor");
    return a.name;
  }
  std::optional<std::string> opt_tensor_arg(const Node& n, const char* name, size_t pos) const {
    const Arg* a = find_arg(n, name, pos);
    if (!a) return std::nullopt;
    if (a->kind != Arg::Kind::tensor) bad_arg(name, *a, "a tensor or None");
    return a->name;
  }
  std::vector<std::string> tensors_arg(const Node& n, const char* name, size_t pos) const {
    const Arg& a = need_arg(n, name, pos);
    if (a.kind != Arg::Kind::tensors) bad_arg(name, a, "a tensor list");
    return a.names;
  }
  Operand operand(const Node& n, const char* name, size_t pos) const {
    const Arg& a = need_arg(n, name, pos);
    Operand o;
    if (a.kind == Arg::Kind::tensor) o.name = a.name;
    else if (a.kind == Arg::Kind::int_) o.scalar = true, o.v = double(a.i);
    else if (a.kind == Arg::Kind::bool_) o.scalar = true, o.v = a.b;
    else if (a.kind == Arg::Kind::float_) o.scalar = true, o.scalar_is_float = true, o.v = a.f;
    else bad_arg(name, a, "a tensor or a number");
    return o;
  }

  // ---------------------------------------------------------------- values
  const Value& value(const std::string& name) const {
    auto it = vals.find(name);
    if (it == vals.end()) fail("E-pt2-undefined", "reads '" + name + "', which no earlier node or input defines");
    return it->second;
  }
  bool is_folded(const std::string& name) const { return value(name).folded != nullptr; }
  const Tensor& folded(const std::string& name) const { return *value(name).folded; }
  DType dtype_of(const std::string& name) const {
    const Value& v = value(name);
    return v.folded ? v.folded->type.dtype : g[v.node].type.dtype;
  }
  Shape shape_of(const std::string& name) const {
    const Value& v = value(name);
    return v.folded ? v.folded->type.shape : g[v.node].type.shape;
  }
  NodeId node_of(const std::string& name) {
    const Value& v = value(name);
    if (v.node != kNoNode) return v.node;
    const Tensor& t = *v.folded;
    bool uniform = std::all_of(t.data.begin(), t.data.end(), [&](double x) { return x == t.data.front(); });
    NodeId n;
    std::string saved = hint;
    hint = name;
    if (t.data.empty() || uniform) n = constant(t.data.empty() ? 0 : t.data.front(), t.type.dtype, t.type.shape);
    else n = data_input("const_" + name, t);
    hint = saved;
    vals[name].node = n;
    return n;
  }
  // The recorded type of a value of the current graph (tensor_values).
  std::optional<TensorType> meta_type(const std::string& name) const {
    auto it = cur->tensor_values.find(name);
    if (it == cur->tensor_values.end()) return std::nullopt;
    auto dt = dtype_of_scalar_type(it->second.scalar_type);
    if (!dt) fail("E-pt2-dtype", "value '" + name + "' has unsupported dtype " + scalar_type_name(it->second.scalar_type));
    return TensorType{*dt, it->second.sizes, {}, 0};
  }
  TensorType out_type(const Node& n, size_t i = 0) const {
    auto names = out_names(n);
    if (i >= names.size() || names[i].empty()) fail("E-pt2-arg", "expected a tensor output " + std::to_string(i));
    auto t = meta_type(names[i]);
    if (!t) fail("E-pt2-schema", "output '" + names[i] + "' has no entry in tensor_values");
    return *t;
  }
  static std::vector<std::string> out_names(const Node& n) {
    std::vector<std::string> r;
    for (auto& o : n.outputs) {
      if (o.kind == Arg::Kind::tensor) r.push_back(o.name);
      else if (o.kind == Arg::Kind::tensors || o.kind == Arg::Kind::opt_tensors)
        for (auto& s : o.names) r.push_back(s);
      else r.push_back("");
    }
    return r;
  }
  void check_shape(const std::string& name, const Shape& got) const {
    auto t = meta_type(name);
    if (t && t->shape != got)
      fail("E-pt2-shape", "lowering produced shape " + shape_string(got) + " for '" + name + "', the archive records " +
                              shape_string(t->shape));
  }
  void bind(const std::string& name, NodeId n, std::string view_of = {}) {
    if (name.empty()) return;
    check_shape(name, g[n].type.shape);
    Value v;
    v.node = n;
    v.view_of = std::move(view_of);
    vals[name] = v;
    if (!torch_names.count(n)) torch_names[n] = name;
  }
  void bind_folded(const std::string& name, Tensor t) {
    if (name.empty()) return;
    check_shape(name, t.type.shape);
    Value v;
    v.folded = std::make_shared<const Tensor>(std::move(t));
    vals[name] = v;
  }
  void alias(const std::string& name, const std::string& src, bool is_view) {
    if (name.empty()) return;
    Value v = value(src);
    v.is_input = false;
    if (is_view) v.view_of = src;
    vals[name] = v;
  }

  // Operand as a node of dtype dt.
  NodeId operand_node(const Operand& o, DType dt) {
    if (o.scalar) return constant(o.v, dt);
    return cast(node_of(o.name), dt);
  }
  Tensor operand_tensor(const Operand& o, DType dt) const {
    if (o.scalar) return make_tensor(dt, {}, o.v);
    return h_cast(folded(o.name), dt);
  }
  bool operand_folded(const Operand& o) const { return o.scalar || is_folded(o.name); }
  DType operand_dtype(const Operand& o) const {
    if (o.scalar) return o.scalar_is_float ? DType::f32 : DType::i64;
    return dtype_of(o.name);
  }
  // torch's promotion for tensor-scalar pairs: a scalar only lifts the category.
  DType promote_operands(const Operand& x, const Operand& y) const {
    if (!x.scalar && !y.scalar) {
      DType a = dtype_of(x.name), c = dtype_of(y.name);
      if (a == c) return a;
      bool fa = is_float(a), fc = is_float(c);
      if (fa != fc) return fa ? a : c;
      if (fa) return DType::f32;
      if (a == DType::boolean) return c;
      if (c == DType::boolean) return a;
      return DType::i64;
    }
    const Operand& t = x.scalar ? y : x;
    const Operand& s = x.scalar ? x : y;
    if (t.scalar) return s.scalar_is_float || t.scalar_is_float ? DType::f32 : DType::i64;
    DType dt = dtype_of(t.name);
    if (s.scalar_is_float && !is_float(dt)) return DType::f32;
    if (!s.scalar_is_float && dt == DType::boolean && s.v != 0 && s.v != 1) return DType::i64;
    return dt;
  }

  // ---------------------------------------------------------------- fallback
  // An op without a lowering: one opaque extern kernel per tensor output.
  void fallback(const Node& n, std::vector<int64_t> mutates = {}) {
    std::string key = n.target.rfind("torch.ops.", 0) == 0 ? n.target.substr(10) : n.target;
    std::vector<NodeId> ins;
    std::vector<std::string> in_names;
    for (auto& a : n.inputs) {
      if (a.arg.kind == Arg::Kind::tensor) ins.push_back(node_of(a.arg.name)), in_names.push_back(a.arg.name);
      else if (a.arg.kind == Arg::Kind::tensors || a.arg.kind == Arg::Kind::opt_tensors)
        for (auto& s : a.arg.names)
          if (!s.empty()) ins.push_back(node_of(s)), in_names.push_back(s);
    }
    auto names = out_names(n);
    size_t tensor_outs = 0;
    for (auto& s : names) tensor_outs += !s.empty() && meta_type(s).has_value();
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i].empty()) continue;
      auto t = meta_type(names[i]);
      if (!t) continue;  // a non-tensor output: reading it later is an error
      std::string kernel = key + (tensor_outs > 1 ? "#" + std::to_string(i) : "");
      hint = names[i];
      NodeId e = b.extern_kernel(kernel, ins, *t, mutates, nm());
      externs[key].push_back(names[i]);
      bind(names[i], e);
      // the mutated inputs' new versions replace them for later readers
      auto mos = mutation_outputs(g, e);
      for (size_t k = 0; k < mutates.size() && k < mos.size(); ++k) {
        size_t in_idx = size_t(mutates[k]);
        if (in_idx < in_names.size()) vals[in_names[in_idx]].node = mos[k], vals[in_names[in_idx]].folded = nullptr;
      }
      mutates.clear();  // only the first extern writes
    }
  }

  void lower_graph(const pt2::Graph& gr);
  void lower_node(const Node& n);
};

// ================================================================ helpers used by handlers
int64_t norm_dim(int64_t d, int64_t rank) { return d < 0 ? d + rank : d; }

// A [n, m] f32 selection matrix with ones at (j, j + offset).
Tensor selection_matrix(int64_t n, int64_t m, int64_t offset) {
  Tensor t = make_tensor(DType::f32, {n, m});
  for (int64_t j = 0; j < n; ++j)
    if (j + offset >= 0 && j + offset < m) t.data[size_t(j * m + j + offset)] = 1;
  return t;
}

// x (along `dim`) multiplied by a constant matrix M [n, m]: moves dim last,
// flattens to [R, n], runs an mm template and restores the layout. Used to pad,
// concatenate unequal parts and cumsum in pure IR. Works in f32.
NodeId mm_along_dim(Lowering& L, NodeId x, int64_t dim, const std::string& mat_name, Tensor mat) {
  Shape s = L.shape(x);
  int64_t r = int64_t(s.size());
  std::vector<int64_t> perm;
  for (int64_t i = 0; i < r; ++i)
    if (i != dim) perm.push_back(i);
  perm.push_back(dim);
  DType dt = L.type(x).dtype;
  NodeId xf = L.cast(x, DType::f32);
  NodeId p = L.permute(xf, perm);
  Shape ps = L.shape(p);
  int64_t n = s[size_t(dim)], m = mat.type.shape[1];
  NodeId flat = L.reshape(p, {numel_of(ps) / std::max<int64_t>(n, 1), n});
  NodeId mat_node = L.data_input(mat_name, std::move(mat));
  NodeId prod = L.templ("mm", {flat, mat_node});
  ps.back() = m;
  NodeId back = L.reshape(prod, ps);
  std::vector<int64_t> inv(static_cast<size_t>(r));
  for (int64_t i = 0; i < r; ++i) inv[size_t(perm[size_t(i)])] = i;
  NodeId res = L.permute(back, inv);
  return is_float(dt) ? L.cast(res, dt) : res;
}

// Zero padding of one dimension (pure IR: an mm with a selection matrix).
NodeId pad_dim(Lowering& L, NodeId x, int64_t dim, int64_t before, int64_t after) {
  if (before == 0 && after == 0) return x;
  int64_t n = L.shape(x)[size_t(dim)], m = n + before + after;
  std::string name = "const_pad_" + std::to_string(n) + "_" + std::to_string(before) + "_" + std::to_string(after);
  return mm_along_dim(L, x, dim, name, selection_matrix(n, m, before));
}

// Concatenation along `dim` (all parts already of the output dtype).
NodeId concat(Lowering& L, std::vector<NodeId> xs, int64_t dim, DType dt) {
  for (auto& x : xs) x = L.cast(x, dt);
  if (xs.size() == 1) return xs[0];
  Shape s = L.shape(xs[0]);
  bool equal = true, same = true;
  for (auto x : xs) equal = equal && L.shape(x) == s, same = same && x == xs[0];
  int64_t k = int64_t(xs.size()), n = s[size_t(dim)];
  Shape merged = s;
  merged[size_t(dim)] = n * k;
  if (equal) {
    // Stack on a new axis before `dim` (expand + where over one-hot masks), then merge the two axes.
    Shape ins = s;
    ins.insert(ins.begin() + dim, 1);
    Shape big = s;
    big.insert(big.begin() + dim, k);
    if (same) return L.reshape(L.expand(L.reshape(xs[0], ins), big), merged);
    int64_t trailing = int64_t(s.size()) - dim;
    Shape mshape(size_t(trailing + 1), 1);
    mshape[0] = k;
    NodeId acc = L.expand(L.reshape(xs[size_t(k - 1)], ins), big);
    for (int64_t i = k - 2; i >= 0; --i) {
      Tensor onehot = make_tensor(DType::boolean, mshape);
      onehot.data[size_t(i)] = 1;
      NodeId m = L.data_input("const_onehot_" + std::to_string(k) + "_" + std::to_string(i) + "_r" +
                                  std::to_string(trailing + 1),
                              std::move(onehot));
      acc = L.op(Op::where, {m, L.expand(L.reshape(xs[size_t(i)], ins), big), acc});
    }
    return L.reshape(acc, merged);
  }
  // Unequal parts: pad each into place and add (disjoint supports).
  int64_t total = 0;
  for (auto x : xs) total += L.shape(x)[size_t(dim)];
  NodeId acc = kNoNode;
  int64_t off = 0;
  for (auto x : xs) {
    int64_t ni = L.shape(x)[size_t(dim)];
    NodeId p = pad_dim(L, L.cast(x, DType::f32), dim, off, total - off - ni);
    acc = acc == kNoNode ? p : L.bin(Op::add, acc, p);
    off += ni;
  }
  return L.cast(acc, dt);
}

NodeId softmax(Lowering& L, NodeId x, int64_t dim, bool log) {
  NodeId m = L.reduce(Op::amax, x, {dim}, true);
  NodeId d = L.bin(Op::sub, x, m);
  NodeId e = L.un(Op::exp, d);
  NodeId z = L.reduce(Op::sum, e, {dim}, true);
  if (log) return L.bin(Op::sub, d, L.un(Op::log, z));
  return L.bin(Op::div, e, z);
}

// a @ b with torch.matmul's broadcasting; float inputs.
NodeId matmul(Lowering& L, NodeId a, NodeId c) {
  Shape sa = L.shape(a), sc = L.shape(c);
  if (sa.empty() || sc.empty()) L.fail("E-pt2-shape", "matmul of a 0-d tensor");
  bool va = sa.size() == 1, vc = sc.size() == 1;
  if (va) a = L.reshape(a, {1, sa[0]}), sa = L.shape(a);
  if (vc) c = L.reshape(c, {sc[0], 1}), sc = L.shape(c);
  int64_t M = sa[sa.size() - 2], K = sa.back(), N = sc.back();
  Shape batch_a(sa.begin(), sa.end() - 2), batch_c(sc.begin(), sc.end() - 2), batch;
  NodeId r;
  if (batch_c.empty()) {
    NodeId a2 = L.reshape(a, {numel_of(batch_a) * M, K});
    r = L.templ("mm", {a2, c});
    batch = batch_a;
  } else {
    auto bs = bshape(batch_a, batch_c);
    if (!bs) L.fail("E-pt2-shape", "matmul batch shapes do not broadcast");
    batch = *bs;
    int64_t B = numel_of(batch);
    Shape ea = batch, ec = batch;
    ea.insert(ea.end(), {M, K});
    ec.insert(ec.end(), {K, N});
    NodeId a3 = L.reshape(L.expand(a, ea), {B, M, K});
    NodeId c3 = L.reshape(L.expand(c, ec), {B, K, N});
    r = L.templ("bmm", {a3, c3});
  }
  Shape os = batch;
  if (!va) os.push_back(M);
  if (!vc) os.push_back(N);
  return L.reshape(r, os);
}

// Casts integer operands of a matrix product to f32 (templates compute in float).
DType mm_dtype(Lowering& L, NodeId a) { return is_float(L.type(a).dtype) ? L.type(a).dtype : DType::f32; }

// ================================================================ handlers
const std::string& out0(const Node& n) {
  static const std::string none;
  for (auto& o : n.outputs) {
    if (o.kind == Arg::Kind::tensor) return o.name;
    if ((o.kind == Arg::Kind::tensors || o.kind == Arg::Kind::opt_tensors) && !o.names.empty()) return o.names[0];
  }
  return none;
}

void h_identity(Lowering& L, const Node& n) {
  // dropout in eval mode, alias, clone, contiguous, detach, ...: the value itself
  if (L.bool_arg(n, "train", 2, false)) return L.fallback(n);
  std::string src = L.tensor_arg(n, n.inputs.empty() || n.inputs[0].name.empty() ? "self" : n.inputs[0].name.c_str(), 0);
  auto t = L.meta_type(out0(n));
  if (t && t->dtype != L.dtype_of(src)) {
    if (L.is_folded(src)) return L.bind_folded(out0(n), h_cast(L.folded(src), t->dtype));
    return L.bind(out0(n), L.cast(L.node_of(src), t->dtype));
  }
  L.alias(out0(n), src, true);
}

void h_skip(Lowering&, const Node&) {}

void h_to(Lowering& L, const Node& n) {  // to.dtype / to.dtype_layout / to.device / _to_copy / type_as
  std::string src = L.tensor_arg(n, "self", 0);
  DType dt = L.out_type(n).dtype;
  if (dt == L.dtype_of(src)) return L.alias(out0(n), src, false);
  if (L.is_folded(src)) return L.bind_folded(out0(n), h_cast(L.folded(src), dt));
  L.bind(out0(n), L.cast(L.node_of(src), dt));
}

// view, reshape, flatten, unflatten, unsqueeze, squeeze, ...: the recorded output shape.
void h_reshape_like(Lowering& L, const Node& n) {
  std::string src = L.tensor_arg(n, "self", 0);
  Shape s = L.out_type(n).shape;
  if (L.is_folded(src)) return L.bind_folded(out0(n), h_reshape(L.folded(src), s));
  L.bind(out0(n), L.reshape(L.node_of(src), s), src);
}

void do_permute(Lowering& L, const Node& n, std::vector<int64_t> perm) {
  std::string src = L.tensor_arg(n, "self", 0);
  if (L.is_folded(src)) return L.bind_folded(out0(n), h_permute(L.folded(src), perm));
  L.bind(out0(n), L.permute(L.node_of(src), perm), src);
}
void h_permute_op(Lowering& L, const Node& n) {
  int64_t r = int64_t(L.shape_of(L.tensor_arg(n, "self", 0)).size());
  auto p = L.ints_arg(n, "dims", 1);
  for (auto& d : p) d = norm_dim(d, r);
  do_permute(L, n, p);
}
void h_transpose(Lowering& L, const Node& n) {
  int64_t r = int64_t(L.shape_of(L.tensor_arg(n, "self", 0)).size());
  std::vector<int64_t> p(static_cast<size_t>(r));
  std::iota(p.begin(), p.end(), 0);
  if (r >= 2 || n.target.find(".t.") == std::string::npos) {
    int64_t a = r == 0 ? 0 : norm_dim(L.int_arg(n, "dim0", 1, r - 2), r), c = r == 0 ? 0 : norm_dim(L.int_arg(n, "dim1", 2, r - 1), r);
    if (r > 0) std::swap(p[size_t(a)], p[size_t(c)]);
  }
  do_permute(L, n, p);
}
void h_expand(Lowering& L, const Node& n) {
  std::string src = L.tensor_arg(n, "self", 0);
  Shape s = L.out_type(n).shape;
  if (L.is_folded(src)) return L.bind_folded(out0(n), h_expand(L.folded(src), s));
  L.bind(out0(n), L.expand(L.node_of(src), s), src);
}

void h_slice(Lowering& L, const Node& n) {
  std::string src = L.tensor_arg(n, "self", 0);
  Shape s = L.shape_of(src);
  int64_t r = int64_t(s.size());
  int64_t dim = norm_dim(L.int_arg(n, "dim", 1, 0), r);
  if (dim < 0 || dim >= r) L.fail("E-pt2-arg", "slice dim out of range");
  int64_t size = s[size_t(dim)];
  int64_t start = L.int_arg(n, "start", 2, 0), end = L.int_arg(n, "end", 3, std::numeric_limits<int64_t>::max());
  int64_t step = L.int_arg(n, "step", 4, 1);
  if (start < 0) start += size;
  if (end < 0) end += size;
  start = std::clamp<int64_t>(start, 0, size);
  end = std::clamp<int64_t>(end, start, size);
  if (step < 1) L.fail("E-pt2-arg", "slice step must be positive");
  if (L.is_folded(src)) return L.bind_folded(out0(n), h_slice(L.folded(src), dim, start, end, step));
  L.bind(out0(n), L.slice(L.node_of(src), dim, start, end, step), src);
}
void h_select(Lowering& L, const Node& n) {
  std::string src = L.tensor_arg(n, "self", 0);
  Shape s = L.shape_of(src);
  int64_t dim = norm_dim(L.int_arg(n, "dim", 1), int64_t(s.size()));
  int64_t idx = L.int_arg(n, "index", 2);
  if (idx < 0) idx += s[size_t(dim)];
  Shape os = L.out_type(n).shape;
  if (L.is_folded(src)) return L.bind_folded(out0(n), h_reshape(h_slice(L.folded(src), dim, idx, idx + 1, 1), os));
  L.bind(out0(n), L.reshape(L.slice(L.node_of(src), dim, idx, idx + 1), os), src);
}
void h_narrow(Lowering& L, const Node& n) {
  std::string src = L.tensor_arg(n, "self", 0);
  Shape s = L.shape_of(src);
  int64_t dim = norm_dim(L.int_arg(n, "dim", 1), int64_t(s.size()));
  int64_t start = L.int_arg(n, "start", 2), len = L.int_arg(n, "length", 3);
  if (start < 0) start += s[size_t(dim)];
  if (L.is_folded(src)) return L.bind_folded(out0(n), h_slice(L.folded(src), dim, start, start + len, 1));
  L.bind(out0(n), L.slice(L.node_of(src), dim, start, start + len), src);
}
// split / split_with_sizes / chunk / unbind: one slice per output, sizes from the recorded outputs.
void h_split(Lowering& L, const Node& n) {
  std::string src = L.tensor_arg(n, "self", 0);
  Shape s = L.shape_of(src);
  bool unbind = n.target.find(".unbind.") != std::string::npos;
  int64_t dim = norm_dim(L.int_arg(n, "dim", unbind ? 1 : 2, 0), int64_t(s.size()));
  int64_t off = 0;
  for (auto& o : Lowering::out_names(n)) {
    auto t = L.meta_type(o);
    if (!t) continue;
    int64_t len = unbind ? 1 : t->shape[size_t(dim)];
    if (L.is_folded(src)) L.bind_folded(o, h_reshape(h_slice(L.folded(src), dim, off, off + len, 1), t->shape));
    else L.bind(o, L.reshape(L.slice(L.node_of(src), dim, off, off + len), t->shape), src);
    off += len;
  }
}

void h_cat(Lowering& L, const Node& n) {
  auto names = L.tensors_arg(n, "tensors", 0);
  TensorType ot = L.out_type(n);
  std::vector<std::string> parts;
  for (auto& s : names)  // torch skips 1-d empty tensors in cat
    if (!(L.shape_of(s).size() == 1 && L.shape_of(s)[0] == 0)) parts.push_back(s);
  if (parts.empty()) return L.bind_folded(out0(n), make_tensor(ot.dtype, ot.shape));
  int64_t dim = norm_dim(L.int_arg(n, "dim", 1, 0), int64_t(ot.shape.size()));
  bool all_folded = std::all_of(parts.begin(), parts.end(), [&](auto& s) { return L.is_folded(s); });
  if (all_folded) {
    std::vector<Tensor> ts;
    for (auto& s : parts) ts.push_back(L.folded(s));
    return L.bind_folded(out0(n), h_cat(ts, dim, ot.dtype));
  }
  std::vector<NodeId> xs;
  for (auto& s : parts) xs.push_back(L.node_of(s));
  L.bind(out0(n), concat(L, xs, dim, ot.dtype));
}
void h_stack(Lowering& L, const Node& n) {
  auto names = L.tensors_arg(n, "tensors", 0);
  TensorType ot = L.out_type(n);
  int64_t dim = norm_dim(L.int_arg(n, "dim", 1, 0), int64_t(ot.shape.size()));
  std::vector<NodeId> xs;
  for (auto& s : names) {
    Shape us = L.shape_of(s);
    us.insert(us.begin() + dim, 1);
    xs.push_back(L.reshape(L.node_of(s), us));
  }
  L.bind(out0(n), concat(L, xs, dim, ot.dtype));
}

// ---------------------------------------------------------------- creators (folded)
void h_arange(Lowering& L, const Node& n) {
  TensorType ot = L.out_type(n);
  bool has_start = n.target.find(".start") != std::string::npos;
  double start = has_start ? L.num_arg(n, "start", 0) : 0;
  double step = n.target.find("start_step") != std::string::npos ? L.num_arg(n, "step", 2, 1.0) : 1;
  Tensor t = make_tensor(ot.dtype, ot.shape);
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = store(ot.dtype, start + double(i) * step);
  L.bind_folded(out0(n), std::move(t));
}
void h_full(Lowering& L, const Node& n) {  // full, zeros, ones, new_*, *_like, scalar_tensor
  TensorType ot = L.out_type(n);
  const std::string& t = n.target;
  double v = 0;
  if (t.find("ones") != std::string::npos) v = 1;
  else if (t.find("full") != std::string::npos) v = L.num_arg(n, "fill_value", t.find("new_full") != std::string::npos ? 2 : 1);
  else if (t.find("scalar_tensor") != std::string::npos) v = L.num_arg(n, "s", 0);
  L.bind_folded(out0(n), make_tensor(ot.dtype, ot.shape, v));
}

// ---------------------------------------------------------------- pointwise
struct UnarySpec {
  const char* target;
  Op op;
};
const UnarySpec kUnary[] = {
    {"aten.neg.default", Op::neg},         {"aten.abs.default", Op::abs},         {"aten.exp.default", Op::exp},
    {"aten.log.default", Op::log},         {"aten.sqrt.default", Op::sqrt},       {"aten.rsqrt.default", Op::rsqrt},
    {"aten.sin.default", Op::sin},         {"aten.cos.default", Op::cos},         {"aten.tanh.default", Op::tanh},
    {"aten.sigmoid.default", Op::sigmoid}, {"aten.relu.default", Op::relu},       {"aten.silu.default", Op::silu},
    {"aten.erf.default", Op::erf},         {"aten.reciprocal.default", Op::reciprocal},
    {"aten.logical_not.default", Op::logical_not}, {"aten.bitwise_not.default", Op::logical_not},
};
void h_unary(Lowering& L, const Node& n) {
  Op op = Op::neg;
  const std::string& key = L.key;
  for (auto& u : kUnary)
    if (key == u.target) op = u.op;
  if (op == Op::logical_not && key == "aten.bitwise_not.default" && L.dtype_of(L.tensor_arg(n, "self", 0)) != DType::boolean)
    return L.fallback(n);
  std::string src = L.tensor_arg(n, "self", 0);
  TensorType ot = L.out_type(n);
  if (L.is_folded(src)) {
    Tensor x = L.folded(src);
    bool ok = true;
    for (auto& v : x.data) {
      auto r = apply_unary(op, v);
      ok = ok && r.has_value();
      v = r ? store(ot.dtype, *r) : 0;
    }
    if (ok) {
      x.type.dtype = ot.dtype;
      return L.bind_folded(out0(n), std::move(x));
    }
  }
  NodeId x = L.node_of(src);
  if (op == Op::logical_not) x = L.cast(x, DType::boolean);
  else if (op != Op::neg && op != Op::abs && op != Op::relu) x = L.cast(x, ot.dtype);
  L.bind(out0(n), L.cast(L.un(op, x), ot.dtype));
}
void h_gelu(Lowering& L, const Node& n) {
  std::string approx = L.str_arg(n, "approximate", 1, "none");
  if (approx != "none" && approx != "tanh") L.fail("E-pt2-arg", "gelu approximate='" + approx + "' is unknown");
  NodeId x = L.node_of(L.tensor_arg(n, "self", 0));
  L.bind(out0(n), L.un(approx == "tanh" ? Op::gelu_tanh : Op::gelu, x));
}
// hardswish x*relu6(x+3)/6, hardsigmoid relu6(x+3)/6, hardtanh, relu6, clamp
NodeId clamp_node(Lowering& L, NodeId x, std::optional<double> lo, std::optional<double> hi) {
  DType dt = L.type(x).dtype;
  if (lo) x = L.bin(Op::max, x, L.constant(*lo, dt));
  if (hi) x = L.bin(Op::min, x, L.constant(*hi, dt));
  return x;
}
void h_hard(Lowering& L, const Node& n) {
  NodeId x = L.node_of(L.tensor_arg(n, "self", 0));
  DType dt = L.type(x).dtype;
  const std::string& t = n.target;
  NodeId r;
  if (t.find("hardswish") != std::string::npos || t.find("hardsigmoid") != std::string::npos) {
    NodeId h = clamp_node(L, L.bin(Op::add, x, L.constant(3, dt)), 0.0, 6.0);
    h = L.bin(Op::div, h, L.constant(6, dt));
    r = t.find("hardswish") != std::string::npos ? L.bin(Op::mul, x, h) : h;
  } else if (t.find("relu6") != std::string::npos) {
    r = clamp_node(L, x, 0.0, 6.0);
  } else if (t.find("hardtanh") != std::string::npos) {
    r = clamp_node(L, x, L.num_arg(n, "min_val", 1, -1.0), L.num_arg(n, "max_val", 2, 1.0));
  } else {  // clamp / clamp_min / clamp_max with number bounds
    std::optional<double> lo, hi;
    bool is_min = t.find("clamp_min") != std::string::npos, is_max = t.find("clamp_max") != std::string::npos;
    if (is_min) lo = L.num_arg(n, "min", 1);
    else if (is_max) hi = L.num_arg(n, "max", 1);
    else {
      if (L.find_arg(n, "min", 1)) lo = L.num_arg(n, "min", 1);
      if (L.find_arg(n, "max", 2)) hi = L.num_arg(n, "max", 2);
    }
    r = clamp_node(L, x, lo, hi);
  }
  L.bind(out0(n), L.cast(r, L.out_type(n).dtype));
}
void h_leaky_relu(Lowering& L, const Node& n) {
  NodeId x = L.node_of(L.tensor_arg(n, "self", 0));
  DType dt = L.type(x).dtype;
  double slope = L.num_arg(n, "negative_slope", 1, 0.01);
  NodeId pos = L.bin(Op::gt, x, L.constant(0, dt));
  L.bind(out0(n), L.op(Op::where, {pos, x, L.bin(Op::mul, x, L.constant(slope, dt))}));
}

struct BinarySpec {
  const char* target;
  Op op;
  int flavor;  // 0 plain, 1 has alpha, 2 reversed with alpha (rsub)
};
const BinarySpec kBinary[] = {
    {"aten.add.Tensor", Op::add, 1},        {"aten.add.Scalar", Op::add, 1},        {"aten.sub.Tensor", Op::sub, 1},
    {"aten.sub.Scalar", Op::sub, 1},        {"aten.rsub.Tensor", Op::sub, 2},       {"aten.rsub.Scalar", Op::sub, 2},
    {"aten.mul.Tensor", Op::mul, 0},        {"aten.mul.Scalar", Op::mul, 0},        {"aten.div.Tensor", Op::div, 0},
    {"aten.div.Scalar", Op::div, 0},        {"aten.maximum.default", Op::max, 0},   {"aten.minimum.default", Op::min, 0},
    {"aten.pow.Tensor_Scalar", Op::pow, 0}, {"aten.pow.Tensor_Tensor", Op::pow, 0}, {"aten.pow.Scalar", Op::pow, 0},
    {"aten.eq.Tensor", Op::eq, 0},          {"aten.eq.Scalar", Op::eq, 0},          {"aten.ne.Tensor", Op::ne, 0},
    {"aten.ne.Scalar", Op::ne, 0},          {"aten.lt.Tensor", Op::lt, 0},          {"aten.lt.Scalar", Op::lt, 0},
    {"aten.le.Tensor", Op::le, 0},          {"aten.le.Scalar", Op::le, 0},          {"aten.gt.Tensor", Op::gt, 0},
    {"aten.gt.Scalar", Op::gt, 0},          {"aten.ge.Tensor", Op::ge, 0},          {"aten.ge.Scalar", Op::ge, 0},
    {"aten.logical_and.default", Op::logical_and, 0}, {"aten.logical_or.default", Op::logical_or, 0},
    {"aten.__and__.Tensor", Op::logical_and, 0},      {"aten.__or__.Tensor", Op::logical_or, 0},
    {"aten.bitwise_and.Tensor", Op::logical_and, 0},  {"aten.bitwise_or.Tensor", Op::logical_or, 0},
};
bool is_compare(Op op) {
  return op == Op::eq || op == Op::ne || op == Op::lt || op == Op::le || op == Op::gt || op == Op::ge ||
         op == Op::logical_and || op == Op::logical_or;
}
void h_binary(Lowering& L, const Node& n) {
  const std::string& key = L.key;
  const BinarySpec* spec = nullptr;
  for (auto& s : kBinary)
    if (key == s.target) spec = &s;
  if (!spec) return L.fallback(n);
  bool pow_scalar_base = key == "aten.pow.Scalar";
  Operand x = L.operand(n, pow_scalar_base ? "self" : "self", 0);
  Operand y = L.operand(n, pow_scalar_base ? "exponent" : (key.find("pow") != std::string::npos ? "exponent" : "other"), 1);
  double alpha = spec->flavor ? L.num_arg(n, "alpha", 2, 1.0) : 1.0;
  Op op = spec->op;
  TensorType ot = L.out_type(n);
  bool logical = op == Op::logical_and || op == Op::logical_or;
  if (logical && key.find("logical") == std::string::npos &&
      (L.operand_dtype(x) != DType::boolean || L.operand_dtype(y) != DType::boolean))
    return L.fallback(n);  // integer bitwise ops have no IR equivalent
  DType cdt = is_compare(op) ? (logical ? DType::boolean : L.promote_operands(x, y)) : ot.dtype;
  Operand lhs = x, rhs = y;
  if (spec->flavor == 2) lhs = y, rhs = x;  // rsub computes other - alpha * self
  if (L.operand_folded(lhs) && L.operand_folded(rhs)) {
    Tensor a = L.operand_tensor(lhs, cdt), c = L.operand_tensor(rhs, cdt);
    if (alpha != 1) c = h_binary(c, make_tensor(cdt, {}, alpha), cdt, [](double p, double q) { return p * q; });
    return L.bind_folded(out0(n), h_binary(a, c, ot.dtype, [op](double p, double q) { return apply_binary(op, p, q); }));
  }
  NodeId a, c;
  if (op == Op::pow && rhs.scalar && !lhs.scalar) {
    // small integer and half powers as multiplications / roots (exact and backend-friendly)
    a = L.operand_node(lhs, cdt);
    NodeId r = kNoNode;
    if (rhs.v == 1) r = a;
    else if (rhs.v == 2) r = L.bin(Op::mul, a, a);
    else if (rhs.v == 3) r = L.bin(Op::mul, L.bin(Op::mul, a, a), a);
    else if (rhs.v == 0.5) r = L.un(Op::sqrt, a);
    else if (rhs.v == -0.5) r = L.un(Op::rsqrt, a);
    else if (rhs.v == -1) r = L.un(Op::reciprocal, a);
    if (r != kNoNode) return L.bind(out0(n), L.cast(r, ot.dtype));
  }
  a = L.operand_node(lhs, cdt);
  c = L.operand_node(rhs, cdt);
  if (alpha != 1) c = L.bin(Op::mul, c, L.constant(alpha, cdt));
  L.bind(out0(n), L.cast(L.bin(op, a, c), ot.dtype));
}
void h_where(Lowering& L, const Node& n) {
  std::string cond = L.tensor_arg(n, "condition", 0);
  Operand x = L.operand(n, "self", 1), y = L.operand(n, "other", 2);
  TensorType ot = L.out_type(n);
  if (L.is_folded(cond) && L.operand_folded(x) && L.operand_folded(y)) {
    Tensor c = L.folded(cond), a = L.operand_tensor(x, ot.dtype), d = L.operand_tensor(y, ot.dtype);
    Tensor ad = h_binary(a, d, ot.dtype, [](double p, double) { return p; });
    Tensor dd = h_binary(d, a, ot.dtype, [](double p, double) { return p; });
    Tensor cc = h_expand(c, ot.shape), ae = h_expand(ad, ot.shape), de = h_expand(dd, ot.shape);
    Tensor t = make_tensor(ot.dtype, ot.shape);
    for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = cc.data[i] != 0 ? ae.data[i] : de.data[i];
    return L.bind_folded(out0(n), std::move(t));
  }
  NodeId c = L.cast(L.node_of(cond), DType::boolean);
  L.bind(out0(n), L.op(Op::where, {c, L.operand_node(x, ot.dtype), L.operand_node(y, ot.dtype)}));
}
void h_masked_fill(Lowering& L, const Node& n) {
  std::string self = L.tensor_arg(n, "self", 0), mask = L.tensor_arg(n, "mask", 1);
  Operand v = L.operand(n, "value", 2);
  TensorType ot = L.out_type(n);
  NodeId r = L.op(Op::where, {L.cast(L.node_of(mask), DType::boolean), L.operand_node(v, ot.dtype),
                             L.cast(L.node_of(self), ot.dtype)});
  L.bind(out0(n), r);
}

// ---------------------------------------------------------------- reductions
std::vector<int64_t> reduce_axes(Lowering& L, const Node& n, const std::string& src, size_t pos) {
  int64_t r = int64_t(L.shape_of(src).size());
  const Arg* a = L.find_arg(n, "dim", pos);
  std::vector<int64_t> axes;
  if (a && (a->kind == Arg::Kind::ints || a->kind == Arg::Kind::int_)) axes = a->kind == Arg::Kind::int_ ? std::vector<int64_t>{a->i} : a->ints;
  if (axes.empty())
    for (int64_t i = 0; i < r; ++i) axes.push_back(i);
  for (auto& d : axes) d = norm_dim(d, r);
  return axes;
}
void h_reduce(Lowering& L, const Node& n) {
  const std::string& t = n.target;
  Op op = t.find(".mean.") != std::string::npos ? Op::mean
        : t.find(".amax.") != std::string::npos || t.find(".max.") != std::string::npos ? Op::amax
        : t.find(".amin.") != std::string::npos || t.find(".min.") != std::string::npos ? Op::amin
        : t.find(".prod.") != std::string::npos ? Op::prod : Op::sum;
  std::string src = L.tensor_arg(n, "self", 0);
  auto names = Lowering::out_names(n);
  if (names.size() > 1 && !names[1].empty() && t.find(".dim") != std::string::npos &&
      (op == Op::amax || op == Op::amin)) {
    // max.dim / min.dim also return indices: only the values are lowered; indices go to an extern
    // if anything reads them (checked when read: they stay undefined).
  }
  std::vector<int64_t> axes = reduce_axes(L, n, src, 1);
  bool keepdim = L.bool_arg(n, "keepdim", 2, false);
  TensorType ot = L.out_type(n);
  NodeId x = L.node_of(src);
  if (op == Op::mean || (op == Op::sum && is_float(ot.dtype))) x = L.cast(x, ot.dtype);
  L.bind(out0(n), L.cast(L.reduce(op, x, axes, keepdim), ot.dtype));
}
void h_var(Lowering& L, const Node& n) {  // var / std with correction (default 1)
  std::string src = L.tensor_arg(n, "self", 0);
  std::vector<int64_t> axes = reduce_axes(L, n, src, 1);
  bool keepdim = L.bool_arg(n, "keepdim", 3, false);
  double correction = 1;
  if (const Arg* c = L.find_arg(n, "correction", 2)) correction = c->kind == Arg::Kind::float_ ? c->f : double(c->i);
  if (const Arg* u = L.find_arg(n, "unbiased", 2); u && u->kind == Arg::Kind::bool_) correction = u->b ? 1 : 0;
  NodeId x = L.node_of(src);
  Shape s = L.shape(x);
  int64_t cnt = 1;
  for (auto a : axes) cnt *= s[size_t(a)];
  NodeId m = L.reduce(Op::mean, x, axes, true);
  NodeId d = L.bin(Op::sub, x, m);
  NodeId ss = L.reduce(Op::sum, L.bin(Op::mul, d, d), axes, keepdim);
  NodeId v = L.bin(Op::div, ss, L.constant(double(cnt) - correction, L.type(x).dtype));
  if (n.target.find(".std.") != std::string::npos) v = L.un(Op::sqrt, v);
  L.bind(out0(n), v);
}
void h_softmax(Lowering& L, const Node& n) {
  std::string src = L.tensor_arg(n, "self", 0);
  TensorType ot = L.out_type(n);
  int64_t dim = norm_dim(L.int_arg(n, "dim", 1), int64_t(ot.shape.size()));
  bool log = n.target.find("log_softmax") != std::string::npos;
  L.bind(out0(n), softmax(L, L.cast(L.node_of(src), ot.dtype), dim, log));
}
void h_cumsum(Lowering& L, const Node& n) {
  std::string src = L.tensor_arg(n, "self", 0);
  TensorType ot = L.out_type(n);
  int64_t dim = norm_dim(L.int_arg(n, "dim", 1), int64_t(ot.shape.size()));
  if (L.is_folded(src)) return L.bind_folded(out0(n), h_cumsum(L.folded(src), dim, ot.dtype));
  // Pure IR: x @ U with U[j, i] = (j <= i), in f32 (exact for integer counts below 2^24).
  int64_t len = ot.shape[size_t(dim)];
  Tensor u = make_tensor(DType::f32, {len, len});
  for (int64_t j = 0; j < len; ++j)
    for (int64_t i = j; i < len; ++i) u.data[size_t(j * len + i)] = 1;
  NodeId r = mm_along_dim(L, L.node_of(src), dim, "const_cumsum_" + std::to_string(len), std::move(u));
  L.bind(out0(n), L.cast(r, ot.dtype));
}
void h_diff(Lowering& L, const Node& n) {
  std::string src = L.tensor_arg(n, "self", 0);
  TensorType ot = L.out_type(n);
  int64_t times = L.int_arg(n, "n", 1, 1);
  int64_t dim = norm_dim(L.int_arg(n, "dim", 2, -1), int64_t(ot.shape.size()));
  auto pre = L.opt_tensor_arg(n, "prepend", 3), app = L.opt_tensor_arg(n, "append", 4);
  std::vector<std::string> parts;
  if (pre) parts.push_back(*pre);
  parts.push_back(src);
  if (app) parts.push_back(*app);
  bool folded = std::all_of(parts.begin(), parts.end(), [&](auto& s) { return L.is_folded(s); });
  if (folded) {
    std::vector<Tensor> ts;
    for (auto& s : parts) ts.push_back(L.folded(s));
    Tensor x = h_cat(ts, dim, ot.dtype);
    for (int64_t k = 0; k < times; ++k) {
      int64_t len = x.type.shape[size_t(dim)];
      Tensor hi = h_slice(x, dim, 1, len, 1), lo = h_slice(x, dim, 0, len - 1, 1);
      x = h_binary(hi, lo, ot.dtype, [&](double p, double q) { return ot.dtype == DType::boolean ? double(p != q) : p - q; });
    }
    return L.bind_folded(out0(n), std::move(x));
  }
  std::vector<NodeId> xs;
  for (auto& s : parts) xs.push_back(L.node_of(s));
  NodeId x = concat(L, xs, dim, ot.dtype);
  for (int64_t k = 0; k < times; ++k) {
    int64_t len = L.shape(x)[size_t(dim)];
    NodeId hi = L.slice(x, dim, 1, len), lo = L.slice(x, dim, 0, len - 1);
    x = ot.dtype == DType::boolean ? L.bin(Op::ne, hi, lo) : L.bin(Op::sub, hi, lo);
  }
  L.bind(out0(n), x);
}

// ---------------------------------------------------------------- indexing
void h_embedding(Lowering& L, const Node& n) {
  NodeId table = L.node_of(L.tensor_arg(n, "weight", 0));
  NodeId ids = L.node_of(L.tensor_arg(n, "indices", 1));
  TensorType ot = L.out_type(n);
  L.hint = out0(n);
  L.bind(out0(n), L.b.extern_kernel("embedding", {table, ids}, ot, {}, L.nm()));
}
void h_index(Lowering& L, const Node& n) {
  std::string src = L.tensor_arg(n, "self", 0);
  const Arg& ia = L.need_arg(n, "indices", 1);
  if (ia.kind != Arg::Kind::tensors && ia.kind != Arg::Kind::opt_tensors) L.bad_arg("indices", ia, "a tensor list");
  TensorType ot = L.out_type(n);
  Shape s = L.shape_of(src);
  std::vector<std::string> idx = ia.names;
  bool all_folded = L.is_folded(src);
  for (auto& i : idx) all_folded = all_folded && (i.empty() || L.is_folded(i));
  // Advanced indexing with consecutive index tensors (the common form): fold when everything is known.
  size_t first = 0;
  while (first < idx.size() && idx[first].empty()) ++first;
  size_t last = first;
  while (last < idx.size() && !idx[last].empty()) ++last;
  bool consecutive = first < idx.size();
  for (size_t i = last; i < idx.size(); ++i) consecutive = consecutive && idx[i].empty();
  if (all_folded && consecutive) {
    const Tensor& x = L.folded(src);
    Shape bs;
    for (size_t i = first; i < last; ++i) {
      auto r = bshape(bs, L.folded(idx[i]).type.shape);
      if (!r) L.fail("E-pt2-shape", "index tensors do not broadcast");
      bs = *r;
    }
    std::vector<Tensor> ix;
    for (size_t i = first; i < last; ++i) ix.push_back(h_expand(L.folded(idx[i]), bs));
    Shape pre(s.begin(), s.begin() + int64_t(first)), post(s.begin() + int64_t(last), s.end());
    int64_t npre = numel_of(pre), npost = numel_of(post), nb = numel_of(bs);
    auto st = contiguous_strides(s);
    Tensor t = make_tensor(ot.dtype, ot.shape);
    size_t w = 0;
    for (int64_t p = 0; p < npre; ++p)
      for (int64_t k = 0; k < nb; ++k) {
        int64_t off = 0, rem = p;
        for (int64_t d = int64_t(first) - 1; d >= 0; --d) off += (rem % s[size_t(d)]) * st[size_t(d)], rem /= s[size_t(d)];
        for (size_t i = first; i < last; ++i) {
          int64_t v = int64_t(ix[i - first].data[size_t(k)]);
          if (v < 0) v += s[i];
          if (v < 0 || v >= s[i]) L.fail("E-pt2-index", "index " + std::to_string(v) + " out of range");
          off += v * st[i];
        }
        for (int64_t q = 0; q < npost; ++q) t.data[w++] = x.data[size_t(off + q)];
      }
    if (int64_t(w) != numel_of(ot.shape)) L.fail("E-pt2-shape", "index result size differs from the recorded shape");
    return L.bind_folded(out0(n), std::move(t));
  }
  // x[ids] on the first dimension is a row gather: the embedding extern.
  if (first == 0 && last == 1 && s.size() >= 1) {
    NodeId x = L.node_of(src);
    Shape rest(s.begin() + 1, s.end());
    NodeId table = L.reshape(x, {s[0], numel_of(rest)});
    NodeId ids = L.node_of(idx[0]);
    Shape gs = L.shape(ids);
    gs.push_back(numel_of(rest));
    L.hint = out0(n);
    NodeId r = L.b.extern_kernel("embedding", {table, ids}, TensorType{ot.dtype, gs, {}, 0}, {}, L.nm());
    return L.bind(out0(n), L.reshape(r, ot.shape));
  }
  L.fallback(n);
}

// ---------------------------------------------------------------- matrix products
void h_mm(Lowering& L, const Node& n) {  // mm, bmm, matmul
  NodeId a = L.node_of(L.tensor_arg(n, "self", 0)), c = L.node_of(L.tensor_arg(n, n.target.find("bmm") != std::string::npos || n.target.find(".mm.") != std::string::npos ? "mat2" : "other", 1));
  TensorType ot = L.out_type(n);
  DType dt = mm_dtype(L, a);
  L.bind(out0(n), L.cast(matmul(L, L.cast(a, dt), L.cast(c, dt)), ot.dtype));
}
void h_addmm(Lowering& L, const Node& n) {
  NodeId bias = L.node_of(L.tensor_arg(n, "self", 0));
  NodeId a = L.node_of(L.tensor_arg(n, "mat1", 1)), c = L.node_of(L.tensor_arg(n, "mat2", 2));
  double beta = L.num_arg(n, "beta", 3, 1.0), alpha = L.num_arg(n, "alpha", 4, 1.0);
  TensorType ot = L.out_type(n);
  DType dt = mm_dtype(L, a);
  a = L.cast(a, dt), c = L.cast(c, dt), bias = L.cast(bias, dt);
  NodeId r;
  if (beta == 1 && alpha == 1 && L.shape(bias).size() == 1 && L.shape(bias)[0] == L.shape(c)[1]) {
    r = L.templ("addmm", {bias, a, c});
  } else {
    r = L.templ("mm", {a, c});
    if (alpha != 1) r = L.bin(Op::mul, r, L.constant(alpha, dt));
    NodeId bb = beta == 1 ? bias : L.bin(Op::mul, bias, L.constant(beta, dt));
    if (beta != 0) r = L.bin(Op::add, r, bb);
  }
  L.bind(out0(n), L.cast(r, ot.dtype));
}
void h_linear(Lowering& L, const Node& n) {
  NodeId x = L.node_of(L.tensor_arg(n, "input", 0)), w = L.node_of(L.tensor_arg(n, "weight", 1));
  auto bname = L.opt_tensor_arg(n, "bias", 2);
  TensorType ot = L.out_type(n);
  DType dt = mm_dtype(L, x);
  x = L.cast(x, dt), w = L.cast(w, dt);
  Shape xs = L.shape(x);
  int64_t K = xs.back(), N = L.shape(w)[0];
  NodeId x2 = L.reshape(x, {numel_of(xs) / std::max<int64_t>(K, 1), K});
  NodeId wt = L.permute(w, {1, 0});
  NodeId r;
  if (bname && L.shape_of(*bname) == Shape{N}) r = L.templ("addmm", {L.cast(L.node_of(*bname), dt), x2, wt});
  else {
    r = L.templ("mm", {x2, wt});
    if (bname) r = L.bin(Op::add, r, L.cast(L.node_of(*bname), dt));
  }
  L.bind(out0(n), L.cast(L.reshape(r, ot.shape), ot.dtype));
}

// ---------------------------------------------------------------- normalization
void h_layer_norm(Lowering& L, const Node& n) {
  NodeId x = L.node_of(L.tensor_arg(n, "input", 0));
  auto ns = L.ints_arg(n, "normalized_shape", 1);
  auto w = L.opt_tensor_arg(n, "weight", 2), bias = L.opt_tensor_arg(n, "bias", 3);
  double eps = L.num_arg(n, "eps", 4, 1e-5);
  int64_t r = int64_t(L.shape(x).size());
  std::vector<int64_t> axes;
  for (int64_t i = r - int64_t(ns.size()); i < r; ++i) axes.push_back(i);
  DType dt = L.type(x).dtype;
  NodeId mean = L.reduce(Op::mean, x, axes, true);
  NodeId d = L.bin(Op::sub, x, mean);
  NodeId var = L.reduce(Op::mean, L.bin(Op::mul, d, d), axes, true);
  NodeId y = L.bin(Op::mul, d, L.un(Op::rsqrt, L.bin(Op::add, var, L.constant(eps, dt))));
  if (w) y = L.bin(Op::mul, y, L.node_of(*w));
  if (bias) y = L.bin(Op::add, y, L.node_of(*bias));
  L.bind(out0(n), y);  // native_layer_norm's mean/rstd outputs are not lowered (inference)
}
void h_rms_norm(Lowering& L, const Node& n) {
  NodeId x = L.node_of(L.tensor_arg(n, "input", 0));
  auto ns = L.ints_arg(n, "normalized_shape", 1);
  auto w = L.opt_tensor_arg(n, "weight", 2);
  DType dt = L.type(x).dtype;
  double eps = L.num_arg(n, "eps", 3, dt == DType::f32 ? 1.1920928955078125e-07 : 0.0078125);
  int64_t r = int64_t(L.shape(x).size());
  std::vector<int64_t> axes;
  for (int64_t i = r - int64_t(ns.size()); i < r; ++i) axes.push_back(i);
  NodeId ms = L.reduce(Op::mean, L.bin(Op::mul, x, x), axes, true);
  NodeId y = L.bin(Op::mul, x, L.un(Op::rsqrt, L.bin(Op::add, ms, L.constant(eps, dt))));
  if (w) y = L.bin(Op::mul, y, L.node_of(*w));
  L.bind(out0(n), y);
}
void h_batch_norm(Lowering& L, const Node& n) {
  bool legit = n.target.find("_legit_no_training") != std::string::npos;
  bool training = legit ? false : L.bool_arg(n, "training", 5, false);
  if (training) return L.fallback(n);
  NodeId x = L.node_of(L.tensor_arg(n, "input", 0));
  auto w = L.opt_tensor_arg(n, "weight", 1), bias = L.opt_tensor_arg(n, "bias", 2);
  auto rm = L.opt_tensor_arg(n, "running_mean", 3), rv = L.opt_tensor_arg(n, "running_var", 4);
  double eps = L.num_arg(n, "eps", legit ? 6 : 7, 1e-5);
  if (!rm || !rv) return L.fallback(n);
  Shape s = L.shape(x);
  Shape ps(s.size() - 1, 1);
  ps[0] = s[1];
  DType dt = L.type(x).dtype;
  auto per_channel = [&](const std::string& name) { return L.reshape(L.cast(L.node_of(name), dt), ps); };
  NodeId inv = L.un(Op::rsqrt, L.bin(Op::add, per_channel(*rv), L.constant(eps, dt)));
  NodeId y = L.bin(Op::mul, L.bin(Op::sub, x, per_channel(*rm)), inv);
  if (w) y = L.bin(Op::mul, y, per_channel(*w));
  if (bias) y = L.bin(Op::add, y, per_channel(*bias));
  L.bind(out0(n), y);
}

// ---------------------------------------------------------------- attention
void h_sdpa(Lowering& L, const Node& n) {
  NodeId q = L.node_of(L.tensor_arg(n, "query", 0)), k = L.node_of(L.tensor_arg(n, "key", 1)),
         v = L.node_of(L.tensor_arg(n, "value", 2));
  auto mask = L.opt_tensor_arg(n, "attn_mask", 3);
  if (L.num_arg(n, "dropout_p", 4, 0.0) != 0) return L.fallback(n);
  bool causal = L.bool_arg(n, "is_causal", 5, false);
  Shape qs = L.shape(q), ks = L.shape(k), vs = L.shape(v);
  if (qs.size() < 2) L.fail("E-pt2-shape", "attention query needs rank >= 2");
  int64_t Lq = qs[qs.size() - 2], E = qs.back(), S = ks[ks.size() - 2], Ev = vs.back();
  const Arg* sa = L.find_arg(n, "scale", 6);
  double scale = sa ? L.num_arg(n, "scale", 6) : 1.0 / std::sqrt(double(E));
  DType dt = L.type(q).dtype;
  // grouped-query attention: repeat key/value heads
  if (qs.size() >= 3 && ks.size() == qs.size() && ks[ks.size() - 3] != qs[qs.size() - 3]) {
    int64_t hq = qs[qs.size() - 3], hk = ks[ks.size() - 3];
    if (hk == 0 || hq % hk) L.fail("E-pt2-shape", "query heads are not a multiple of key heads");
    auto rep = [&](NodeId t) {
      Shape s = L.shape(t), s5 = s, e5 = s;
      s5.insert(s5.end() - 2, 1);
      e5.insert(e5.end() - 2, hq / hk);
      std::swap(e5[e5.size() - 3], e5[e5.size() - 4]);
      Shape fin = s;
      fin[fin.size() - 3] = hq;
      Shape a = s;
      a.insert(a.end() - 2, 1);  // [.., hk, 1, S, E]
      Shape b = a;
      b[b.size() - 3] = hq / hk;
      return L.reshape(L.expand(L.reshape(t, a), b), fin);
    };
    k = rep(k), v = rep(v);
    ks = L.shape(k), vs = L.shape(v);
  }
  Shape batch(qs.begin(), qs.end() - 2);
  int64_t B = numel_of(batch);
  NodeId q3 = L.reshape(q, {B, Lq, E});
  NodeId kt = L.permute(L.reshape(L.expand(k, [&] { Shape s = batch; s.insert(s.end(), {S, E}); return s; }()), {B, S, E}), {0, 2, 1});
  NodeId v3 = L.reshape(L.expand(v, [&] { Shape s = batch; s.insert(s.end(), {S, Ev}); return s; }()), {B, S, Ev});
  NodeId scores = L.bin(Op::mul, L.templ("bmm", {q3, kt}), L.constant(scale, dt));
  Shape ss = batch;
  ss.insert(ss.end(), {Lq, S});
  scores = L.reshape(scores, ss);
  if (causal) {
    Tensor tril = make_tensor(DType::boolean, {Lq, S});
    for (int64_t i = 0; i < Lq; ++i)
      for (int64_t j = 0; j <= i && j < S; ++j) tril.data[size_t(i * S + j)] = 1;
    NodeId m = L.data_input("const_causal_" + std::to_string(Lq) + "_" + std::to_string(S), std::move(tril));
    scores = L.op(Op::where, {m, scores, L.constant(kMaskedScore, dt)});
  }
  if (mask) {
    NodeId m = L.node_of(*mask);
    if (L.type(m).dtype == DType::boolean) scores = L.op(Op::where, {m, scores, L.constant(kMaskedScore, dt)});
    else scores = L.bin(Op::add, scores, L.cast(m, dt));
  }
  NodeId p = softmax(L, scores, int64_t(ss.size()) - 1, false);
  NodeId o = L.templ("bmm", {L.reshape(p, {B, Lq, S}), v3});
  Shape os = batch;
  os.insert(os.end(), {Lq, Ev});
  L.bind(out0(n), L.reshape(o, os));
}

// ---------------------------------------------------------------- convolution and pooling
std::array<int64_t, 2> pair_arg(Lowering& L, const Node& n, const char* name, size_t pos, int64_t dflt) {
  auto v = L.ints_arg(n, name, pos, std::vector<int64_t>{});
  if (v.empty()) return {dflt, dflt};
  if (v.size() == 1) return {v[0], v[0]};
  return {v[0], v[1]};
}
void h_conv(Lowering& L, const Node& n) {
  std::string xin = L.tensor_arg(n, "input", 0);
  Shape xs0 = L.shape_of(xin);
  bool is_convolution = n.target.find("convolution") != std::string::npos;
  if (is_convolution && L.bool_arg(n, "transposed", 6, false)) return L.fallback(n);
  bool one_d = n.target.find("conv1d") != std::string::npos || (is_convolution && xs0.size() == 3);
  if (!one_d && xs0.size() != 4) return L.fallback(n);
  const Arg* pa = L.find_arg(n, "padding", 4);
  if (pa && pa->kind == Arg::Kind::string && pa->s != "valid") return L.fallback(n);  // padding='same'
  NodeId x = L.node_of(xin), w = L.node_of(L.tensor_arg(n, "weight", 1));
  auto bname = L.opt_tensor_arg(n, "bias", 2);
  auto stride = pair_arg(L, n, "stride", 3, 1);
  std::array<int64_t, 2> pad{0, 0};
  if (pa && pa->kind != Arg::Kind::string) pad = pair_arg(L, n, "padding", 4, 0);
  auto dil = pair_arg(L, n, "dilation", 5, 1);
  int64_t groups = L.int_arg(n, "groups", is_convolution ? 8 : 6, 1);
  TensorType ot = L.out_type(n);
  if (one_d) {  // [N, C, W] as [N, C, 1, W]
    Shape s = L.shape(x), ws = L.shape(w);
    x = L.reshape(x, {s[0], s[1], 1, s[2]});
    w = L.reshape(w, {ws[0], ws[1], 1, ws[2]});
    stride = {1, stride[0]}, pad = {0, pad[0]}, dil = {1, dil[0]};
  }
  Shape s = L.shape(x), ws = L.shape(w);
  int64_t N = s[0], C = s[1], H = s[2], W = s[3], Co = ws[0], kh = ws[2], kw = ws[3];
  if (groups < 1 || C % groups || Co % groups) L.fail("E-pt2-arg", "bad groups");
  int64_t Cg = C / groups, Cog = Co / groups;
  int64_t OH = (H + 2 * pad[0] - dil[0] * (kh - 1) - 1) / stride[0] + 1;
  int64_t OW = (W + 2 * pad[1] - dil[1] * (kw - 1) - 1) / stride[1] + 1;
  NodeId xp = pad_dim(L, pad_dim(L, x, 2, pad[0], pad[0]), 3, pad[1], pad[1]);
  auto tap = [&](NodeId src, int64_t i, int64_t j) {  // [N, c, OH, OW] window of tap (i, j)
    NodeId t = L.slice(src, 2, i * dil[0], i * dil[0] + stride[0] * (OH - 1) + 1, stride[0]);
    return L.slice(t, 3, j * dil[1], j * dil[1] + stride[1] * (OW - 1) + 1, stride[1]);
  };
  NodeId result;
  if (Cg == 1 && Cog == 1) {
    // depthwise: per-tap elementwise products
    NodeId acc = kNoNode;
    for (int64_t i = 0; i < kh; ++i)
      for (int64_t j = 0; j < kw; ++j) {
        NodeId wt = L.reshape(L.slice(L.slice(w, 2, i, i + 1), 3, j, j + 1), {C, 1, 1});
        NodeId p = L.bin(Op::mul, tap(xp, i, j), wt);
        acc = acc == kNoNode ? p : L.bin(Op::add, acc, p);
      }
    if (bname) acc = L.bin(Op::add, acc, L.reshape(L.node_of(*bname), {Co, 1, 1}));
    result = acc;
  } else {
    // sum over taps of [N*OH*OW, Cg] @ [Cg, Cog] (an im2col without materializing the columns)
    std::vector<NodeId> group_out;
    for (int64_t gi = 0; gi < groups; ++gi) {
      NodeId xg = L.slice(xp, 1, gi * Cg, (gi + 1) * Cg);
      NodeId wg = L.slice(w, 0, gi * Cog, (gi + 1) * Cog);
      NodeId acc = kNoNode;
      for (int64_t i = 0; i < kh; ++i)
        for (int64_t j = 0; j < kw; ++j) {
          NodeId t = L.reshape(L.permute(tap(xg, i, j), {0, 2, 3, 1}), {N * OH * OW, Cg});
          NodeId wt = L.permute(L.reshape(L.slice(L.slice(wg, 2, i, i + 1), 3, j, j + 1), {Cog, Cg}), {1, 0});
          NodeId p = L.templ("mm", {t, wt});
          acc = acc == kNoNode ? p : L.bin(Op::add, acc, p);
        }
      group_out.push_back(acc);
    }
    NodeId acc = concat(L, group_out, 1, L.type(group_out[0]).dtype);
    if (bname) acc = L.bin(Op::add, acc, L.node_of(*bname));
    result = L.permute(L.reshape(acc, {N, OH, OW, Co}), {0, 3, 1, 2});
  }
  L.bind(out0(n), L.reshape(result, ot.shape));
}
void h_max_pool(Lowering& L, const Node& n) {
  std::string xin = L.tensor_arg(n, "self", 0);
  auto k = pair_arg(L, n, "kernel_size", 1, 1);
  auto stride = pair_arg(L, n, "stride", 2, 0);
  if (stride[0] == 0) stride = k;
  auto pad = pair_arg(L, n, "padding", 3, 0);
  auto dil = pair_arg(L, n, "dilation", 4, 1);
  auto names = Lowering::out_names(n);
  if (L.bool_arg(n, "ceil_mode", 5, false) || dil[0] != 1 || dil[1] != 1 || L.shape_of(xin).size() != 4)
    return L.fallback(n);
  NodeId x = L.node_of(xin);
  Shape s = L.shape(x);
  int64_t H = s[2], W = s[3];
  int64_t OH = (H + 2 * pad[0] - k[0]) / stride[0] + 1, OW = (W + 2 * pad[1] - k[1]) / stride[1] + 1;
  NodeId xp = x;
  DType dt = L.type(x).dtype;
  if (pad[0] || pad[1]) {
    xp = pad_dim(L, pad_dim(L, x, 2, pad[0], pad[0]), 3, pad[1], pad[1]);
    int64_t Hp = H + 2 * pad[0], Wp = W + 2 * pad[1];
    Tensor inside = make_tensor(DType::boolean, {Hp, Wp});
    for (int64_t i = pad[0]; i < pad[0] + H; ++i)
      for (int64_t j = pad[1]; j < pad[1] + W; ++j) inside.data[size_t(i * Wp + j)] = 1;
    NodeId m = L.data_input("const_inside_" + std::to_string(H) + "x" + std::to_string(W) + "_p" +
                                std::to_string(pad[0]) + "x" + std::to_string(pad[1]),
                            std::move(inside));
    xp = L.op(Op::where, {m, xp, L.constant(kMaskedScore, dt)});
  }
  NodeId acc = kNoNode;
  for (int64_t i = 0; i < k[0]; ++i)
    for (int64_t j = 0; j < k[1]; ++j) {
      NodeId t = L.slice(L.slice(xp, 2, i, i + stride[0] * (OH - 1) + 1, stride[0]), 3, j,
                         j + stride[1] * (OW - 1) + 1, stride[1]);
      acc = acc == kNoNode ? t : L.bin(Op::max, acc, t);
    }
  L.bind(names[0], acc);  // max_pool2d_with_indices: the indices are not lowered
}
void h_avg_pool(Lowering& L, const Node& n) {
  std::string xin = L.tensor_arg(n, "self", 0);
  auto k = pair_arg(L, n, "kernel_size", 1, 1);
  auto stride = pair_arg(L, n, "stride", 2, 0);
  if (stride[0] == 0) stride = k;
  auto pad = pair_arg(L, n, "padding", 3, 0);
  bool count_pad = L.bool_arg(n, "count_include_pad", 5, true);
  if (L.bool_arg(n, "ceil_mode", 4, false) || L.find_arg(n, "divisor_override", 6) ||
      (!count_pad && (pad[0] || pad[1])) || L.shape_of(xin).size() != 4)
    return L.fallback(n);
  NodeId x = L.node_of(xin);
  Shape s = L.shape(x);
  int64_t OH = (s[2] + 2 * pad[0] - k[0]) / stride[0] + 1, OW = (s[3] + 2 * pad[1] - k[1]) / stride[1] + 1;
  NodeId xp = pad_dim(L, pad_dim(L, x, 2, pad[0], pad[0]), 3, pad[1], pad[1]);
  NodeId acc = kNoNode;
  for (int64_t i = 0; i < k[0]; ++i)
    for (int64_t j = 0; j < k[1]; ++j) {
      NodeId t = L.slice(L.slice(xp, 2, i, i + stride[0] * (OH - 1) + 1, stride[0]), 3, j,
                         j + stride[1] * (OW - 1) + 1, stride[1]);
      acc = acc == kNoNode ? t : L.bin(Op::add, acc, t);
    }
  L.bind(out0(n), L.bin(Op::div, acc, L.constant(double(k[0] * k[1]), L.type(x).dtype)));
}
void h_adaptive_avg_pool(Lowering& L, const Node& n) {
  std::string xin = L.tensor_arg(n, "self", 0);
  auto os = L.ints_arg(n, "output_size", 1);
  Shape s = L.shape_of(xin);
  if (s.size() < 3 || os.size() != 2) return L.fallback(n);
  int64_t H = s[s.size() - 2], W = s[s.size() - 1];
  if (os[0] <= 0 || os[1] <= 0 || H % os[0] || W % os[1]) return L.fallback(n);
  Shape lead(s.begin(), s.end() - 2);
  Shape split = lead;
  split.insert(split.end(), {os[0], H / os[0], os[1], W / os[1]});
  int64_t r = int64_t(split.size());
  NodeId x = L.reshape(L.node_of(xin), split);
  NodeId m = L.reduce(Op::mean, x, {r - 3, r - 1}, false);
  L.bind(out0(n), L.reshape(m, L.out_type(n).shape));
}

void h_copy(Lowering& L, const Node& n) {  // copy (functional form of copy_): src broadcast into self's shape/dtype
  std::string self = L.tensor_arg(n, "self", 0), src = L.tensor_arg(n, "src", 1);
  TensorType ot = L.out_type(n);
  L.bind(out0(n), L.expand(L.cast(L.node_of(src), ot.dtype), ot.shape));
}

// ================================================================ the table
const std::map<std::string, Handler>& handlers() {
  static const std::map<std::string, Handler> table = [] {
    std::map<std::string, Handler> t;
    for (auto& u : kUnary) t[u.target] = h_unary;
    for (auto& b : kBinary) t[b.target] = h_binary;
    for (const char* k : {"aten.dropout.default", "aten.alias.default", "aten.clone.default", "aten.contiguous.default",
                          "aten.detach.default", "aten.lift_fresh_copy.default", "aten.feature_dropout.default",
                          "aten.alpha_dropout.default", "aten.view_as.default", "aten.positive.default"})
      t[k] = h_identity;
    for (const char* k : {"aten._assert_tensor_metadata.default", "aten._assert_scalar.default",
                          "aten._assert_async.msg", "aten._assert_async.default", "aten.sym_constrain_range.default",
                          "aten.sym_constrain_range_for_size.default", "aten._check_is_size.default"})
      t[k] = h_skip;
    for (const char* k : {"aten.to.dtype", "aten.to.dtype_layout", "aten.to.device", "aten.to.other",
                          "aten._to_copy.default", "aten.type_as.default"})
      t[k] = h_to;
    for (const char* k : {"aten.view.default", "aten.reshape.default", "aten._unsafe_view.default",
                          "aten.flatten.using_ints", "aten.unflatten.int", "aten.unsqueeze.default",
                          "aten.squeeze.dim", "aten.squeeze.dims", "aten.squeeze.default", "aten.view_copy.default",
                          "aten.reshape_as.default"})
      t[k] = h_reshape_like;
    t["aten.permute.default"] = h_permute_op;
    t["aten.transpose.int"] = h_transpose;
    t["aten.t.default"] = h_transpose;
    t["aten.expand.default"] = h_expand;
    t["aten.expand_as.default"] = h_expand;
    t["aten.slice.Tensor"] = h_slice;
    t["aten.select.int"] = h_select;
    t["aten.narrow.default"] = h_narrow;
    for (const char* k : {"aten.split.Tensor", "aten.split_with_sizes.default", "aten.chunk.default",
                          "aten.unbind.int", "aten.tensor_split.sections"})
      t[k] = h_split;
    t["aten.cat.default"] = h_cat;
    t["aten.concat.default"] = h_cat;
    t["aten.stack.default"] = h_stack;
    for (const char* k : {"aten.arange.default", "aten.arange.start", "aten.arange.start_step"}) t[k] = h_arange;
    for (const char* k : {"aten.full.default", "aten.zeros.default", "aten.ones.default", "aten.new_ones.default",
                          "aten.new_zeros.default", "aten.new_full.default", "aten.zeros_like.default",
                          "aten.ones_like.default", "aten.full_like.default", "aten.scalar_tensor.default",
                          "aten.new_empty.default", "aten.empty.memory_format", "aten.empty_like.default"})
      t[k] = h_full;
    t["aten.gelu.default"] = h_gelu;
    for (const char* k : {"aten.hardswish.default", "aten.hardsigmoid.default", "aten.relu6.default",
                          "aten.hardtanh.default", "aten.clamp.default", "aten.clamp_min.default",
                          "aten.clamp_max.default"})
      t[k] = h_hard;
    t["aten.leaky_relu.default"] = h_leaky_relu;
    t["aten.where.self"] = h_where;
    t["aten.where.ScalarOther"] = h_where;
    t["aten.where.ScalarSelf"] = h_where;
    t["aten.where.Scalar"] = h_where;
    t["aten.masked_fill.Scalar"] = h_masked_fill;
    t["aten.masked_fill.Tensor"] = h_masked_fill;
    for (const char* k : {"aten.sum.dim_IntList", "aten.sum.default", "aten.mean.dim", "aten.mean.default",
                          "aten.amax.default", "aten.amin.default", "aten.prod.dim_int", "aten.prod.default",
                          "aten.max.dim", "aten.min.dim", "aten.max.default", "aten.min.default"})
      t[k] = h_reduce;
    for (const char* k : {"aten.var.correction", "aten.var.dim", "aten.std.correction", "aten.std.dim"}) t[k] = h_var;
    for (const char* k : {"aten.softmax.int", "aten._softmax.default", "aten.log_softmax.int",
                          "aten._log_softmax.default", "aten._safe_softmax.default"})
      t[k] = h_softmax;
    t["aten.cumsum.default"] = h_cumsum;
    t["aten.diff.default"] = h_diff;
    t["aten.embedding.default"] = h_embedding;
    t["aten.index.Tensor"] = h_index;
    t["aten.mm.default"] = h_mm;
    t["aten.bmm.default"] = h_mm;
    t["aten.matmul.default"] = h_mm;
    t["aten.addmm.default"] = h_addmm;
    t["aten.linear.default"] = h_linear;
    t["aten.layer_norm.default"] = h_layer_norm;
    t["aten.native_layer_norm.default"] = h_layer_norm;
    t["aten.rms_norm.default"] = h_rms_norm;
    t["aten.batch_norm.default"] = h_batch_norm;
    t["aten._native_batch_norm_legit_no_training.default"] = h_batch_norm;
    t["aten.scaled_dot_product_attention.default"] = h_sdpa;
    for (const char* k : {"aten.conv2d.default", "aten.conv1d.default", "aten.convolution.default",
                          "aten.conv2d.padding", "aten.conv1d.padding"})
      t[k] = h_conv;
    t["aten.max_pool2d.default"] = h_max_pool;
    t["aten.max_pool2d_with_indices.default"] = h_max_pool;
    t["aten.avg_pool2d.default"] = h_avg_pool;
    t["aten.adaptive_avg_pool2d.default"] = h_adaptive_avg_pool;
    t["aten._adaptive_avg_pool2d.default"] = h_adaptive_avg_pool;
    t["aten.copy.default"] = h_copy;
    return t;
  }();
  return table;
}

// ================================================================ driving
void Lowering::lower_graph(const pt2::Graph& gr) {
  const pt2::Graph* saved = cur;
  cur = &gr;
  for (auto& n : gr.nodes) lower_node(n);
  cur = saved;
}

void Lowering::lower_node(const Node& n) {
  node = &n;
  std::string key = n.target.rfind("torch.ops.", 0) == 0 ? n.target.substr(10) : n.target;
  out.op_counts[key]++;
  auto names = out_names(n);
  hint = !names.empty() && !names[0].empty() ? names[0] : (n.name.empty() ? "v" : n.name);

  // Higher-order ops that only wrap a graph (grad mode, autocast): inline it.
  if (key.rfind("higher_order.wrap_with", 0) == 0 || key == "higher_order.invoke_subgraph") {
    const Arg* ga = nullptr;
    std::vector<std::string> args;
    for (auto& a : n.inputs) {
      if (a.arg.kind == Arg::Kind::graph) ga = &a.arg;
      else if (ga && a.arg.kind == Arg::Kind::tensor) args.push_back(a.arg.name);
    }
    if (!ga) fail("E-pt2-arg", "higher-order op without a graph argument");
    const pt2::Graph& sub = *ga->graph;
    if (sub.inputs.size() != args.size()) fail("E-pt2-arg", "nested graph takes " + std::to_string(sub.inputs.size()) +
                                                                " inputs, the call passes " + std::to_string(args.size()));
    auto saved_vals = vals;
    for (size_t i = 0; i < args.size(); ++i) {
      if (sub.inputs[i].kind != Arg::Kind::tensor) fail("E-pt2-arg", "nested graph input is not a tensor");
      vals[sub.inputs[i].name] = value(args[i]);
    }
    lower_graph(sub);
    node = &n;
    std::vector<Value> results;
    for (auto& o : sub.outputs) {
      if (o.kind != Arg::Kind::tensor) fail("E-pt2-arg", "nested graph output is not a tensor");
      results.push_back(value(o.name));
    }
    vals = std::move(saved_vals);
    if (results.size() != names.size()) fail("E-pt2-arg", "nested graph output count differs from the call's");
    for (size_t i = 0; i < names.size(); ++i)
      if (!names[i].empty()) vals[names[i]] = results[i];
    return;
  }

  // In-place ops (relu_, add_, copy_, index_put_, ...): the functional op, then
  // the name of `self` is rebound to the result; a graph input written in place
  // gets a `copy` extern that mutates it (mutation_output).
  size_t dot1 = key.find('.'), dot2 = key.find('.', dot1 + 1);
  std::string opname = dot1 == std::string::npos ? key : key.substr(dot1 + 1, dot2 - dot1 - 1);
  bool inplace = key.rfind("aten.", 0) == 0 && opname.size() > 1 && opname.back() == '_' &&
                 opname.substr(opname.size() - 2) != "__";
  if (inplace) {
    std::string functional = "aten." + opname.substr(0, opname.size() - 1) + (dot2 == std::string::npos ? "" : key.substr(dot2));
    std::string self = tensor_arg(n, "self", 0);
    const Value selfv = value(self);
    if (!selfv.view_of.empty())
      fail("E-pt2-unsupported", "in-place update of '" + self + "', a view of '" + selfv.view_of +
                                    "': updates through views are not supported");
    auto it = handlers().find(functional);
    if (it == handlers().end()) {
      if (selfv.is_input) {
        // opaque kernel that writes its first input
        std::vector<int64_t> muts{0};
        fallback(n, muts);
      } else {
        fallback(n);
        if (!names.empty() && !names[0].empty() && vals.count(names[0])) vals[self] = vals[names[0]];
      }
      return;
    }
    this->key = functional;
    it->second(*this, n);
    if (names.empty() || names[0].empty()) return;
    Value res = value(names[0]);
    if (selfv.is_input) {
      NodeId src = node_of(names[0]);
      hint = self;
      NodeId e = b.extern_kernel("copy", {selfv.node, src}, g[selfv.node].type, {0}, nm());
      NodeId mo = mutation_outputs(g, e)[0];
      Value nv;
      nv.node = mo;
      vals[self] = nv;
      vals[names[0]] = nv;
      torch_names.emplace(mo, names[0]);
    } else {
      vals[self] = res;
    }
    return;
  }

  this->key = key;
  auto it = handlers().find(key);
  if (it == handlers().end()) {
    if (names.empty() || std::all_of(names.begin(), names.end(), [](auto& s) { return s.empty(); })) {
      if (key.find("._assert") != std::string::npos || key.rfind("aten._", 0) == 0) return;  // checks only
    }
    return fallback(n);
  }
  it->second(*this, n);
}

}  // namespace

void lower_program(const Program& p, const WeightLoader& load, const TemplateRegistry& reg, ImportedProgram& out,
                   Diagnostics& diags) {
  Lowering L(out.graph, reg, out);
  L.cur = &p.graph;
  // Inputs written in place (in-place ops on placeholders, buffer mutations) are mutable.
  std::set<std::string> placeholders;
  for (auto& s : p.input_specs) placeholders.insert(s.arg);
  for (auto& n : p.graph.nodes) {
    std::string key = n.target.rfind("torch.ops.", 0) == 0 ? n.target.substr(10) : n.target;
    size_t d1 = key.find('.'), d2 = key.find('.', d1 + 1);
    if (d1 == std::string::npos) continue;
    std::string opname = key.substr(d1 + 1, d2 - d1 - 1);
    if (opname.size() > 1 && opname.back() == '_' && opname.substr(opname.size() - 2) != "__" && !n.inputs.empty() &&
        n.inputs[0].arg.kind == Arg::Kind::tensor && placeholders.count(n.inputs[0].arg.name))
      L.mutable_inputs.insert(n.inputs[0].arg.name);
  }
  std::map<std::string, std::string> buffer_arg, input_arg;
  for (auto& s : p.input_specs) {
    if (s.kind == InputSpec::Kind::buffer) buffer_arg[s.target] = s.arg;
    if (s.kind == InputSpec::Kind::user_input) input_arg[s.arg] = s.arg;
  }
  for (auto& o : p.output_specs) {
    if (o.kind == OutputSpec::Kind::buffer_mutation && buffer_arg.count(o.target)) L.mutable_inputs.insert(buffer_arg[o.target]);
    if (o.kind == OutputSpec::Kind::user_input_mutation) L.mutable_inputs.insert(o.target);
  }

  // Placeholders in signature order become graph inputs.
  for (auto& s : p.input_specs) {
    if (s.kind == InputSpec::Kind::token || s.kind == InputSpec::Kind::other) continue;
    if (s.kind == InputSpec::Kind::custom_obj)
      throw FormatError("E-pt2-unsupported", "input '" + s.arg + "' is a custom object (script object); not supported");
    auto t = L.meta_type(s.arg);
    if (!t) throw FormatError("E-pt2-schema", "input '" + s.arg + "' has no entry in tensor_values");
    L.hint = s.arg;
    NodeId id = L.b.input(s.arg, *t, L.mutable_inputs.count(s.arg) > 0);
    Value v;
    v.node = id;
    v.is_input = true;
    L.vals[s.arg] = v;
    if (s.kind == InputSpec::Kind::user_input) {
      out.user_inputs.push_back(s.arg);
    } else if (auto data = load(s)) {
      if (data->type.shape != t->shape)
        throw FormatError("E-pt2-weights", "stored data of '" + s.target + "' has shape " +
                                               shape_string(data->type.shape) + ", the graph expects " +
                                               shape_string(t->shape));
      data->type.dtype = t->dtype;
      out.weights[s.arg] = std::move(*data);
    }
  }

  L.lower_graph(p.graph);
  L.node = nullptr;

  // Outputs: user outputs by their value names; buffers written in place stay live as outputs.
  for (auto& o : p.output_specs) {
    if (o.arg.empty()) continue;
    if (o.kind == OutputSpec::Kind::user_output || o.kind == OutputSpec::Kind::loss_output) {
      NodeId n = L.node_of(o.arg);
      L.b.output(n, o.arg);
    } else if (o.kind == OutputSpec::Kind::buffer_mutation || o.kind == OutputSpec::Kind::user_input_mutation) {
      std::string input = o.kind == OutputSpec::Kind::buffer_mutation ? buffer_arg[o.target] : o.target;
      auto in_id = out.graph.find(input);
      if (!in_id) continue;
      NodeId v = L.node_of(o.arg);
      bool written = out.graph[v].op == Op::mutation_output && storage_root(out.graph, v) == *in_id;
      if (!written) {  // a functional result: write it back
        L.hint = input;
        NodeId e = L.b.extern_kernel("copy", {*in_id, v}, out.graph[*in_id].type, {0}, L.nm());
        v = mutation_outputs(out.graph, e)[0];
      }
      L.b.output(v, "mutated_" + input);
    }
  }

  // One warning listing the ops that became extern kernels.
  if (!L.externs.empty()) {
    std::string list;
    for (auto& [k, v] : L.externs) {
      out.extern_ops.push_back(k);
      list += (list.empty() ? "" : ", ") + k + " (" + std::to_string(v.size()) + ")";
    }
    std::string msg = "ops without a lowering became opaque extern kernels (never fused into): " + list;
    out.warnings.push_back(msg);
    diags.warning({}, "W-pt2-extern", msg);
  }

  // Rename nodes after the torch values they stand for (names stay unique).
  IRGraph& g = out.graph;
  std::set<std::string> taken;
  for (auto& n : g.nodes) taken.insert(n.name);
  IRGraph renamed;
  renamed.name = g.name;
  for (NodeId i = 0; i < g.size(); ++i) {
    IRNode n = g.nodes[i];
    auto it = L.torch_names.find(i);
    if (it != L.torch_names.end() && n.op != Op::input && !taken.count(it->second)) {
      taken.erase(n.name);
      n.name = it->second;
      taken.insert(n.name);
    }
    renamed.add(std::move(n));
  }
  renamed.outputs = g.outputs;
  g = std::move(renamed);
}

}  // namespace egfuse::pt2
