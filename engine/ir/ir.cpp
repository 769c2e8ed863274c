// IR: dtypes, types, the op table, graphs, type inference, the builder and the
// template-buffer contract (mutation outputs, read/write dependencies).
#include "egfuse/ir.hpp"

#include <algorithm>
#include <array>
#include <numeric>
#include <set>
#include <sstream>

#include "egfuse/templates.hpp"

namespace egfuse {

// ---------------------------------------------------------------- dtypes
namespace {
struct DTypeInfo {
  std::string_view name;
  int bytes;
  bool is_float;
};
constexpr std::array<DTypeInfo, kNumDTypes> kDTypes = {{
    {"f32", 4, true}, {"f16", 2, true}, {"bf16", 2, true}, {"i32", 4, false}, {"i64", 8, false}, {"bool", 1, false},
}};
}  // namespace

std::string_view dtype_name(DType d) { return kDTypes[size_t(d)].name; }
int dtype_bytes(DType d) { return kDTypes[size_t(d)].bytes; }
bool is_float(DType d) { return kDTypes[size_t(d)].is_float; }
std::optional<DType> parse_dtype(std::string_view s) {
  for (size_t i = 0; i < kDTypes.size(); ++i)
    if (kDTypes[i].name == s) return DType(i);
  return std::nullopt;
}

// ---------------------------------------------------------------- types
int64_t TensorType::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}
std::vector<int64_t> contiguous_strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int i = int(s.size()) - 2; i >= 0; --i) st[i] = st[i + 1] * std::max<int64_t>(s[i + 1], 1);
  return st;
}
bool TensorType::contiguous() const {
  if (offset != 0) return false;
  if (strides.empty()) return true;
  auto c = contiguous_strides(shape);
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] != 1 && strides[i] != c[i]) return false;
  return true;
}
std::vector<int64_t> TensorType::effective_strides() const {
  return strides.empty() ? contiguous_strides(shape) : strides;
}
std::string shape_string(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}
std::string to_string(const TensorType& t) {
  std::string out = std::string(dtype_name(t.dtype)) + shape_string(t.shape);
  if (!t.strides.empty()) out += " strides " + shape_string(t.strides);
  if (t.offset != 0) out += " offset " + std::to_string(t.offset);
  return out;
}

// ---------------------------------------------------------------- op table
namespace {
struct OpInfo {
  std::string_view name;
  OpClass cls;
};
constexpr OpInfo kOps[] = {
    {"input", OpClass::input},
    {"constant", OpClass::constant},
#define EGFUSE_X(n) {#n, OpClass::unary},
    EGFUSE_UNARY_OPS(EGFUSE_X)
#undef EGFUSE_X
#define EGFUSE_X(n) {#n, OpClass::binary},
        EGFUSE_BINARY_OPS(EGFUSE_X)
#undef EGFUSE_X
            {"where", OpClass::ternary},
    {"cast", OpClass::cast},
#define EGFUSE_X(n) {#n, OpClass::view},
    EGFUSE_VIEW_OPS(EGFUSE_X)
#undef EGFUSE_X
#define EGFUSE_X(n) {#n, OpClass::reduce},
        EGFUSE_REDUCE_OPS(EGFUSE_X)
#undef EGFUSE_X
            {"template", OpClass::template_},
    {"mutation_output", OpClass::mutation_output},
    {"extern", OpClass::extern_},
};
static_assert(sizeof(kOps) / sizeof(kOps[0]) == size_t(Op::num_ops), "op table out of sync with enum Op");
}  // namespace

std::string_view op_name(Op op) { return kOps[size_t(op)].name; }
OpClass op_class(Op op) { return kOps[size_t(op)].cls; }
std::optional<Op> parse_op(std::string_view s) {
  for (size_t i = 0; i < size_t(Op::num_ops); ++i)
    if (kOps[i].name == s) return Op(i);
  return std::nullopt;
}
bool is_pointwise(Op op) {
  auto c = op_class(op);
  return c == OpClass::unary || c == OpClass::binary || c == OpClass::ternary || c == OpClass::cast ||
         c == OpClass::constant;
}
bool is_view(Op op) { return op_class(op) == OpClass::view; }
bool is_reduction(Op op) { return op_class(op) == OpClass::reduce; }

// ---------------------------------------------------------------- graph
NodeId Graph::add(Node n) {
  if (n.name.empty()) n.name = fresh_name("v");
  NodeId id = NodeId(nodes.size());
  if (!index_.emplace(n.name, id).second) throw Error("duplicate node name '" + n.name + "'");
  nodes.push_back(std::move(n));
  return id;
}

std::optional<NodeId> Graph::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  if (it != index_.end()) return it->second;
  return std::nullopt;
}

std::string Graph::fresh_name(std::string_view stem) {
  for (;;) {
    std::string n = std::string(stem) + std::to_string(fresh_counter_++);
    if (!find(n)) return n;
  }
}

std::vector<NodeId> Graph::inputs() const {
  std::vector<NodeId> out;
  for (NodeId i = 0; i < nodes.size(); ++i)
    if (nodes[i].op == Op::input) out.push_back(i);
  return out;
}

std::vector<std::vector<NodeId>> Graph::users() const {
  std::vector<std::vector<NodeId>> u(nodes.size());
  for (NodeId i = 0; i < nodes.size(); ++i)
    for (NodeId in : nodes[i].inputs)
      if (in < nodes.size() && (u[in].empty() || u[in].back() != i)) u[in].push_back(i);
  return u;
}

// ---------------------------------------------------------------- type inference
namespace {

DType promote(DType a, DType b) {
  if (a == b) return a;
  bool fa = is_float(a), fb = is_float(b);
  if (fa && !fb) return a;
  if (fb && !fa) return b;
  if (fa && fb) return DType::f32;  // f16 with bf16 or f32
  if (a == DType::boolean) return b;
  if (b == DType::boolean) return a;
  return DType::i64;  // i32 with i64
}

std::optional<Shape> broadcast(const Shape& a, const Shape& b) {
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

bool is_comparison(Op op) {
  return op == Op::eq || op == Op::ne || op == Op::lt || op == Op::le || op == Op::gt || op == Op::ge ||
         op == Op::logical_and || op == Op::logical_or;
}

}  // namespace

std::optional<TensorType> infer_type(const Graph& g, const Node& n, const TemplateRegistry& reg, std::string& err) {
  auto in = [&](size_t i) -> const TensorType& { return g.nodes[n.inputs[i]].type; };
  auto arity = [&](size_t k) {
    if (n.inputs.size() != k) {
      err = std::string(op_name(n.op)) + " takes " + std::to_string(k) + " input" + (k == 1 ? "" : "s") + ", got " +
            std::to_string(n.inputs.size());
      return false;
    }
    return true;
  };
  for (NodeId i : n.inputs)
    if (i >= g.nodes.size()) {
      err = "input id " + std::to_string(i) + " does not name an earlier node";
      return std::nullopt;
    }
  switch (op_class(n.op)) {
    case OpClass::input:
      if (!arity(0)) return std::nullopt;
      if (int(n.type.shape.size()) > kMaxRank) {
        err = "rank " + std::to_string(n.type.shape.size()) + " exceeds the maximum of 6";
        return std::nullopt;
      }
      for (auto d : n.type.shape)
        if (d < 0) {
          err = "negative dimension in " + to_string(n.type);
          return std::nullopt;
        }
      if (!n.type.strides.empty() && n.type.strides.size() != n.type.shape.size()) {
        err = "strides rank differs from shape rank in " + to_string(n.type);
        return std::nullopt;
      }
      return n.type;
    case OpClass::constant:
      if (!arity(0)) return std::nullopt;
      return TensorType{n.type.dtype, n.type.shape, {}, 0};
    case OpClass::unary: {
      if (!arity(1)) return std::nullopt;
      TensorType t{in(0).dtype, in(0).shape, {}, 0};
      if (n.op == Op::logical_not) t.dtype = DType::boolean;
      else if (!is_float(t.dtype) && n.op != Op::neg && n.op != Op::abs && n.op != Op::relu) {
        err = std::string(op_name(n.op)) + " needs a floating-point input, got " + std::string(dtype_name(t.dtype));
        return std::nullopt;
      }
      return t;
    }
    case OpClass::binary: {
      if (!arity(2)) return std::nullopt;
      auto s = broadcast(in(0).shape, in(1).shape);
      if (!s) {
        err = "shapes " + shape_string(in(0).shape) + " and " + shape_string(in(1).shape) + " do not broadcast";
        return std::nullopt;
      }
      DType dt = is_comparison(n.op) ? DType::boolean : promote(in(0).dtype, in(1).dtype);
      return TensorType{dt, *s, {}, 0};
    }
    case OpClass::ternary: {
      if (!arity(3)) return std::nullopt;
      if (in(0).dtype != DType::boolean) {
        err = "where's condition must be bool, got " + std::string(dtype_name(in(0).dtype));
        return std::nullopt;
      }
      auto s = broadcast(in(0).shape, in(1).shape);
      if (s) s = broadcast(*s, in(2).shape);
      if (!s) {
        err = "shapes " + shape_string(in(0).shape) + ", " + shape_string(in(1).shape) + " and " +
              shape_string(in(2).shape) + " do not broadcast";
        return std::nullopt;
      }
      return TensorType{promote(in(1).dtype, in(2).dtype), *s, {}, 0};
    }
    case OpClass::cast: {
      if (!arity(1)) return std::nullopt;
      return TensorType{std::get<CastAttrs>(n.attrs).to, in(0).shape, {}, 0};
    }
    case OpClass::view: {
      if (!arity(1)) return std::nullopt;
      const TensorType& x = in(0);
      TensorType t{x.dtype, {}, {}, 0};
      if (n.op == Op::reshape) {
        Shape s = std::get<ReshapeAttrs>(n.attrs).shape;
        int64_t known = 1, infer_at = -1;
        for (size_t i = 0; i < s.size(); ++i) {
          if (s[i] == -1) {
            if (infer_at >= 0) { err = "reshape has more than one -1"; return std::nullopt; }
            infer_at = int64_t(i);
          } else if (s[i] < 0) {
            err = "reshape to a negative dimension";
            return std::nullopt;
          } else {
            known *= s[i];
          }
        }
        if (infer_at >= 0 && known != 0) s[size_t(infer_at)] = x.numel() / known;
        int64_t numel = 1;
        for (auto d : s) numel *= d;
        if (numel != x.numel()) {
          err = "reshape of " + shape_string(x.shape) + " (" + std::to_string(x.numel()) + " elements) to " +
                shape_string(s) + " (" + std::to_string(numel) + " elements)";
          return std::nullopt;
        }
        t.shape = s;
      } else if (n.op == Op::permute) {
        auto& p = std::get<PermuteAttrs>(n.attrs).perm;
        std::vector<int64_t> sorted = p;
        std::sort(sorted.begin(), sorted.end());
        bool ok = int(p.size()) == x.rank();
        for (size_t i = 0; ok && i < sorted.size(); ++i) ok = sorted[i] == int64_t(i);
        if (!ok) {
          err = "permute " + shape_string(p) + " is not a permutation of " + std::to_string(x.rank()) + " dimensions";
          return std::nullopt;
        }
        for (auto d : p) t.shape.push_back(x.shape[size_t(d)]);
      } else if (n.op == Op::expand) {
        Shape s = std::get<ExpandAttrs>(n.attrs).shape;
        if (s.size() < x.shape.size()) {
          err = "expand to rank " + std::to_string(s.size()) + " from rank " + std::to_string(x.rank());
          return std::nullopt;
        }
        size_t lead = s.size() - x.shape.size();
        for (size_t i = 0; i < s.size(); ++i) {
          if (i >= lead) {
            int64_t xd = x.shape[i - lead];
            if (s[i] == -1) s[i] = xd;
            if (xd != 1 && xd != s[i]) {
              err = "cannot expand " + shape_string(x.shape) + " to " + shape_string(std::get<ExpandAttrs>(n.attrs).shape);
              return std::nullopt;
            }
          } else if (s[i] < 0) {
            err = "expand: new leading dimension must be given";
            return std::nullopt;
          }
        }
        t.shape = s;
      } else {  // slice
        auto a = std::get<SliceAttrs>(n.attrs);
        if (a.dim < 0) a.dim += x.rank();
        if (a.dim < 0 || a.dim >= x.rank()) {
          err = "slice dim " + std::to_string(std::get<SliceAttrs>(n.attrs).dim) + " out of range for rank " +
                std::to_string(x.rank());
          return std::nullopt;
        }
        int64_t size = x.shape[size_t(a.dim)];
        if (a.step < 1 || a.start < 0 || a.end < a.start || a.end > size) {
          err = "slice [" + std::to_string(a.start) + ":" + std::to_string(a.end) + ":" + std::to_string(a.step) +
                "] out of range for dimension of size " + std::to_string(size);
          return std::nullopt;
        }
        t.shape = x.shape;
        t.shape[size_t(a.dim)] = (a.end - a.start + a.step - 1) / a.step;
      }
      return t;
    }
    case OpClass::reduce: {
      if (!arity(1)) return std::nullopt;
      const TensorType& x = in(0);
      auto& a = std::get<ReduceAttrs>(n.attrs);
      std::vector<bool> red(size_t(x.rank()), false);
      for (auto ax : a.axes) {
        int64_t k = ax < 0 ? ax + x.rank() : ax;
        if (k < 0 || k >= x.rank() || red[size_t(k)]) {
          err = "reduction axis " + std::to_string(ax) + " is out of range or repeated for rank " +
                std::to_string(x.rank());
          return std::nullopt;
        }
        red[size_t(k)] = true;
      }
      TensorType t{x.dtype, {}, {}, 0};
      if (x.dtype == DType::boolean && n.op == Op::sum) t.dtype = DType::i64;
      if (n.op == Op::mean && !is_float(x.dtype)) {
        err = "mean needs a floating-point input";
        return std::nullopt;
      }
      for (int i = 0; i < x.rank(); ++i) {
        if (!red[size_t(i)]) t.shape.push_back(x.shape[size_t(i)]);
        else if (a.keepdim) t.shape.push_back(1);
      }
      return t;
    }
    case OpClass::template_: {
      auto& kind = std::get<TemplateAttrs>(n.attrs).kind;
      const TemplateKind* k = reg.find(kind);
      if (!k) {
        err = "unknown template kind '" + kind + "'";
        return std::nullopt;
      }
      if (!arity(k->inputs.size())) return std::nullopt;
      std::vector<TensorType> ts;
      for (size_t i = 0; i < n.inputs.size(); ++i) ts.push_back(in(i));
      auto b = reg.bind(*k, ts, err);
      if (!b) {
        err = kind + ": " + err;
        return std::nullopt;
      }
      return b->out;
    }
    case OpClass::mutation_output: {
      if (!arity(1)) return std::nullopt;
      const Node& t = g.nodes[n.inputs[0]];
      if (t.op != Op::template_ && t.op != Op::extern_) {
        err = "mutation_output must name a template or extern kernel, '" + t.name + "' is " +
              std::string(op_name(t.op));
        return std::nullopt;
      }
      int64_t idx = std::get<MutationOutputAttrs>(n.attrs).input;
      auto muts = mutated_inputs(g, n.inputs[0], reg);
      if (std::find(muts.begin(), muts.end(), idx) == muts.end()) {
        err = "input " + std::to_string(idx) + " of '" + t.name + "' is not a mutated input";
        return std::nullopt;
      }
      const TensorType& x = g.nodes[t.inputs[size_t(idx)]].type;
      return TensorType{x.dtype, x.shape, {}, 0};
    }
    case OpClass::extern_: {
      auto& a = std::get<ExternAttrs>(n.attrs);
      for (auto m : a.mutates)
        if (m < 0 || m >= int64_t(n.inputs.size())) {
          err = "extern mutates input " + std::to_string(m) + " but has " + std::to_string(n.inputs.size()) + " inputs";
          return std::nullopt;
        }
      return TensorType{a.out_dtype, a.out_shape, {}, 0};
    }
  }
  err = "unknown op";
  return std::nullopt;
}

// ---------------------------------------------------------------- builder
static NodeId add_typed(Graph& g, const TemplateRegistry& reg, Node n) {
  std::string err;
  auto t = infer_type(g, n, reg, err);
  if (!t) throw Error((n.name.empty() ? std::string(op_name(n.op)) : n.name) + ": " + err);
  n.type = *t;
  return g.add(std::move(n));
}

NodeId Builder::input(std::string name, TensorType t, bool is_mutable) {
  Node n;
  n.op = Op::input;
  n.name = std::move(name);
  n.type = std::move(t);
  n.attrs = InputAttrs{is_mutable};
  return add_typed(g_, reg_, std::move(n));
}

NodeId Builder::constant(double value, DType dt, Shape shape, std::string name) {
  Node n;
  n.op = Op::constant;
  n.name = std::move(name);
  n.type = TensorType{dt, std::move(shape), {}, 0};
  n.attrs = ConstantAttrs{value};
  return add_typed(g_, reg_, std::move(n));
}

NodeId Builder::op(Op op, std::vector<NodeId> inputs, Attrs attrs, std::string name) {
  Node n;
  n.op = op;
  n.name = std::move(name);
  n.inputs = std::move(inputs);
  if (attrs.index() == 0 && attrs_index_for(op) != 0) attrs = default_attrs(op);
  n.attrs = std::move(attrs);
  if (n.attrs.index() != attrs_index_for(op))
    throw Error(std::string(op_name(op)) + ": wrong attribute kind");
  return add_typed(g_, reg_, std::move(n));
}

NodeId Builder::templ(const std::string& kind, std::vector<NodeId> inputs, std::string name) {
  NodeId t = op(Op::template_, std::move(inputs), TemplateAttrs{kind}, std::move(name));
  const TemplateKind* k = reg_.find(kind);
  for (int64_t i : k->mutated_inputs()) {
    Node m;
    m.op = Op::mutation_output;
    m.name = g_.fresh_name(g_[t].name + "_" + k->inputs[size_t(i)].name + "_");
    m.inputs = {t};
    m.attrs = MutationOutputAttrs{i};
    add_typed(g_, reg_, std::move(m));
  }
  return t;
}

NodeId Builder::extern_kernel(const std::string& kernel, std::vector<NodeId> inputs, TensorType out,
                              std::vector<int64_t> mutates, std::string name) {
  ExternAttrs a{kernel, mutates, out.dtype, out.shape};
  NodeId e = op(Op::extern_, std::move(inputs), a, std::move(name));
  for (int64_t i : mutates) {
    Node m;
    m.op = Op::mutation_output;
    m.name = g_.fresh_name(g_[e].name + "_" + g_[g_[e].inputs[size_t(i)]].name + "_");
    m.inputs = {e};
    m.attrs = MutationOutputAttrs{i};
    add_typed(g_, reg_, std::move(m));
  }
  return e;
}

void Builder::output(NodeId n, std::string name) {
  g_.outputs.push_back({name.empty() ? g_[n].name : std::move(name), n});
}

// ---------------------------------------------------------------- template buffers
std::vector<int64_t> mutated_inputs(const Graph& g, NodeId t, const TemplateRegistry& reg) {
  const Node& n = g[t];
  if (n.op == Op::extern_) return std::get<ExternAttrs>(n.attrs).mutates;
  if (n.op == Op::template_) {
    if (const TemplateKind* k = reg.find(std::get<TemplateAttrs>(n.attrs).kind)) return k->mutated_inputs();
  }
  return {};
}

std::vector<NodeId> mutation_outputs(const Graph& g, NodeId t) {
  std::vector<std::pair<int64_t, NodeId>> found;
  for (NodeId i = t + 1; i < g.size(); ++i)
    if (g[i].op == Op::mutation_output && !g[i].inputs.empty() && g[i].inputs[0] == t)
      found.push_back({std::get<MutationOutputAttrs>(g[i].attrs).input, i});
  std::sort(found.begin(), found.end());
  std::vector<NodeId> out;
  for (auto& f : found) out.push_back(f.second);
  return out;
}

std::vector<NodeId> get_outputs(const Graph& g, NodeId t) {
  std::vector<NodeId> out{t};
  for (NodeId m : mutation_outputs(g, t)) out.push_back(m);
  return out;
}

std::vector<NodeId> read_deps(const Graph& g, NodeId t) { return g[t].inputs; }

std::vector<NodeId> write_deps(const Graph& g, NodeId t, const TemplateRegistry& reg) {
  std::vector<NodeId> out{t};
  for (int64_t i : mutated_inputs(g, t, reg)) out.push_back(g[t].inputs[size_t(i)]);
  return out;
}

std::vector<int64_t> allowed_prologue_inputs(const Graph& g, NodeId t, const TemplateRegistry& reg) {
  const Node& n = g[t];
  if (n.op != Op::template_) return {};
  const TemplateKind* k = reg.find(std::get<TemplateAttrs>(n.attrs).kind);
  return k ? k->prologue_inputs() : std::vector<int64_t>{};
}

NodeId storage_root(const Graph& g, NodeId n) {
  for (;;) {
    const Node& x = g[n];
    if (is_view(x.op)) {
      n = x.inputs[0];
    } else if (x.op == Op::mutation_output) {
      const Node& t = g[x.inputs[0]];
      n = t.inputs[size_t(std::get<MutationOutputAttrs>(x.attrs).input)];
    } else {
      return n;
    }
  }
}

}  // namespace egfuse
