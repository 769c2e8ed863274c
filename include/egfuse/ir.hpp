// egfuse IR: a pure SSA graph of tensor values.
//
// Every node is one value with a static type (dtype, shape, layout). Mutation is
// made pure: a template or extern kernel that writes input `x` in place gets one
// MutationOutput node per mutated input; later readers of `x` read that node.
// The node and its input share one storage (see storage_of()).
//
// This header is the contract between the graph front ends (text, .pt2), the
// interpreter, fusion and the backends. It pulls in no heavy library.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "egfuse/diagnostics.hpp"

namespace egfuse {

// ---------------------------------------------------------------- dtypes
enum class DType : uint8_t { f32, f16, bf16, i32, i64, boolean };
inline constexpr int kNumDTypes = 6;
std::string_view dtype_name(DType);                 // "f32", ..., "bool"
std::optional<DType> parse_dtype(std::string_view); // inverse of dtype_name
int dtype_bytes(DType);
bool is_float(DType);

// ---------------------------------------------------------------- types
using Shape = std::vector<int64_t>;
inline constexpr int kMaxRank = 6;

// A tensor type. `strides` empty means contiguous row-major; otherwise it has
// one entry per dimension (in elements). `offset` is the storage offset in
// elements (non-zero for slices that are views of a larger storage).
struct TensorType {
  DType dtype = DType::f32;
  Shape shape;
  std::vector<int64_t> strides;
  int64_t offset = 0;

  int rank() const { return int(shape.size()); }
  int64_t numel() const;
  bool contiguous() const;                 // true for empty strides or row-major strides, offset 0
  std::vector<int64_t> effective_strides() const;
  bool operator==(const TensorType&) const = default;
};
std::string to_string(const TensorType&);  // "f32[4, 8]" or "f32[4, 8] strides [1, 4] offset 2"
std::vector<int64_t> contiguous_strides(const Shape&);
std::string shape_string(const Shape&);    // "[4, 8]"

// ---------------------------------------------------------------- ops
// The op set. Pointwise ops are the unary/binary/ternary groups; `cast` is
// pointwise too. Views change only how storage is indexed.
#define EGFUSE_UNARY_OPS(X)                                                              \
  X(neg) X(abs) X(exp) X(log) X(sqrt) X(rsqrt) X(sin) X(cos) X(tanh) X(sigmoid) X(relu) \
  X(gelu) X(gelu_tanh) X(silu) X(erf) X(reciprocal) X(logical_not)
#define EGFUSE_BINARY_OPS(X)                                                             \
  X(add) X(sub) X(mul) X(div) X(max) X(min) X(pow) X(eq) X(ne) X(lt) X(le) X(gt) X(ge) \
  X(logical_and) X(logical_or)
#define EGFUSE_REDUCE_OPS(X) X(sum) X(mean) X(amax) X(amin) X(prod)
#define EGFUSE_VIEW_OPS(X) X(reshape) X(permute) X(expand) X(slice)

enum class Op : uint8_t {
  input,
  constant,
#define EGFUSE_X(n) n,
  EGFUSE_UNARY_OPS(EGFUSE_X) EGFUSE_BINARY_OPS(EGFUSE_X)
#undef EGFUSE_X
  where,
  cast,
#define EGFUSE_X(n) n,
  EGFUSE_VIEW_OPS(EGFUSE_X) EGFUSE_REDUCE_OPS(EGFUSE_X)
#undef EGFUSE_X
  template_,        // a template buffer (mm, bmm, addmm, rule-declared kinds)
  mutation_output,  // the new version of an input mutated by a template/extern
  extern_,          // an opaque kernel, never fused into
  num_ops
};

enum class OpClass : uint8_t { input, constant, unary, binary, ternary, cast, view, reduce, template_, mutation_output, extern_ };

std::string_view op_name(Op);                 // text name: "add", "template", "mutation_output", ...
std::optional<Op> parse_op(std::string_view); // for the fixed op set (not template kinds)
OpClass op_class(Op);
bool is_pointwise(Op);                        // unary, binary, ternary, cast, constant
bool is_view(Op);
bool is_reduction(Op);

// ---------------------------------------------------------------- attributes
// One plain struct per attribute-carrying op. engine/ir/attrs.cpp reflects them
// with Boost.Hana; printing, parsing, hashing and equality all derive from that
// one reflection (nothing here is written per op by hand).
struct NoAttrs {
  bool operator==(const NoAttrs&) const = default;
};
struct InputAttrs {
  bool is_mutable = false;  // may be written in place by a template/extern
  bool operator==(const InputAttrs&) const = default;
};
struct ConstantAttrs {
  double value = 0;         // a scalar broadcast to the node's shape
  bool operator==(const ConstantAttrs&) const = default;
};
struct CastAttrs {
  DType to = DType::f32;
  bool operator==(const CastAttrs&) const = default;
};
struct ReshapeAttrs {
  std::vector<int64_t> shape;
  bool operator==(const ReshapeAttrs&) const = default;
};
struct PermuteAttrs {
  std::vector<int64_t> perm;
  bool operator==(const PermuteAttrs&) const = default;
};
struct ExpandAttrs {
  std::vector<int64_t> shape;
  bool operator==(const ExpandAttrs&) const = default;
};
struct SliceAttrs {
  int64_t dim = 0, start = 0, end = 0, step = 1;
  bool operator==(const SliceAttrs&) const = default;
};
struct ReduceAttrs {
  std::vector<int64_t> axes;
  bool keepdim = false;
  bool operator==(const ReduceAttrs&) const = default;
};
struct TemplateAttrs {
  std::string kind;         // a name in the TemplateRegistry
  bool operator==(const TemplateAttrs&) const = default;
};
struct MutationOutputAttrs {
  int64_t input = 0;        // index of the mutated input of the producing template/extern
  bool operator==(const MutationOutputAttrs&) const = default;
};
struct ExternAttrs {
  std::string kernel;                // opaque kernel name, e.g. "embedding"
  std::vector<int64_t> mutates;      // indices of inputs written in place
  DType out_dtype = DType::f32;
  std::vector<int64_t> out_shape;
  bool operator==(const ExternAttrs&) const = default;
};

using Attrs = std::variant<NoAttrs, InputAttrs, ConstantAttrs, CastAttrs, ReshapeAttrs, PermuteAttrs,
                           ExpandAttrs, SliceAttrs, ReduceAttrs, TemplateAttrs, MutationOutputAttrs,
                           ExternAttrs>;

// Reflection-driven helpers (engine/ir/attrs.cpp).
// print: "{shape=[4, 8]}" style, "" for NoAttrs. Keys in declaration order.
std::string print_attrs(const Attrs&);
size_t hash_attrs(const Attrs&);
// The attrs type an op carries (index into Attrs), and a default-constructed value of it.
size_t attrs_index_for(Op);
Attrs default_attrs(Op);
// Field names of the attrs struct of `op`, in declaration order (for parsers/docs).
std::vector<std::string> attr_field_names(Op);
// Attribute values as parsed from text: integers, floats, bools, identifiers
// (dtype names), strings and integer lists.
struct AttrValue {
  std::variant<int64_t, double, bool, std::string, std::vector<int64_t>> v;
  SourceSpan span;
};
struct AttrEntry {
  std::string key;
  AttrValue value;
  SourceSpan key_span;
};
// Build the attrs of `op` from parsed entries; unknown keys, wrong kinds and
// missing required keys are reported to `diags` with the entry's span.
Attrs build_attrs(Op op, const std::vector<AttrEntry>& entries, SourceSpan where, Diagnostics& diags);

// ---------------------------------------------------------------- nodes and graphs
using NodeId = uint32_t;
inline constexpr NodeId kNoNode = ~NodeId(0);

struct Node {
  Op op = Op::input;
  std::string name;            // unique within the graph ("" never survives add())
  std::vector<NodeId> inputs;
  Attrs attrs;
  TensorType type;
  SourceSpan span;             // where it was written, if from text
};

struct GraphOutput {
  std::string name;
  NodeId node;
};

class TemplateRegistry;

// An append-only SSA graph: a node's inputs always precede it.
class Graph {
 public:
  std::string name = "main";
  std::vector<Node> nodes;
  std::vector<GraphOutput> outputs;

  const Node& operator[](NodeId id) const { return nodes[id]; }
  Node& operator[](NodeId id) { return nodes[id]; }
  size_t size() const { return nodes.size(); }

  // Append a node; an empty name gets a fresh one ("v12"). Type is not inferred:
  // use infer_type / the Builder for that.
  NodeId add(Node n);
  std::optional<NodeId> find(std::string_view name) const;
  std::string fresh_name(std::string_view stem);
  std::vector<NodeId> inputs() const;  // Op::input nodes, in order

  // Users of each node (computed on demand, ordered by user id).
  std::vector<std::vector<NodeId>> users() const;

 private:
  std::unordered_map<std::string, NodeId> index_;  // name -> node, for find() (never iterated)
  uint32_t fresh_counter_ = 0;
};

// ---------------------------------------------------------------- type inference
// Infers the type of `n` from its inputs' types and attributes. Errors name the
// node and the mismatch. Templates need the registry.
std::optional<TensorType> infer_type(const Graph& g, const Node& n, const TemplateRegistry& reg,
                                     std::string& error);

// Convenience builder used by importers, tests and generators: infers types,
// creates mutation outputs for templates/externs. Throws egfuse::Error on a bad node.
class Builder {
 public:
  Builder(Graph& g, const TemplateRegistry& reg) : g_(g), reg_(reg) {}
  NodeId input(std::string name, TensorType t, bool is_mutable = false);
  NodeId constant(double value, DType dt, Shape shape = {}, std::string name = {});
  NodeId op(Op op, std::vector<NodeId> inputs, Attrs attrs = NoAttrs{}, std::string name = {});
  NodeId unary(Op op, NodeId a) { return this->op(op, {a}); }
  NodeId binary(Op op, NodeId a, NodeId b) { return this->op(op, {a, b}); }
  NodeId cast(NodeId a, DType to) { return op(Op::cast, {a}, CastAttrs{to}); }
  NodeId reshape(NodeId a, Shape s) { return op(Op::reshape, {a}, ReshapeAttrs{std::move(s)}); }
  NodeId permute(NodeId a, std::vector<int64_t> p) { return op(Op::permute, {a}, PermuteAttrs{std::move(p)}); }
  NodeId expand(NodeId a, Shape s) { return op(Op::expand, {a}, ExpandAttrs{std::move(s)}); }
  NodeId slice(NodeId a, int64_t dim, int64_t start, int64_t end, int64_t step = 1) {
    return op(Op::slice, {a}, SliceAttrs{dim, start, end, step});
  }
  NodeId reduce(Op op, NodeId a, std::vector<int64_t> axes, bool keepdim = false) {
    return this->op(op, {a}, ReduceAttrs{std::move(axes), keepdim});
  }
  // A template and one mutation output per mutated input (built here, by the
  // base, never by a kind). Returns the template node; see mutation_outputs().
  NodeId templ(const std::string& kind, std::vector<NodeId> inputs, std::string name = {});
  NodeId extern_kernel(const std::string& kernel, std::vector<NodeId> inputs, TensorType out,
                       std::vector<int64_t> mutates = {}, std::string name = {});
  void output(NodeId n, std::string name = {});
  Graph& graph() { return g_; }

 private:
  Graph& g_;
  const TemplateRegistry& reg_;
};

// ---------------------------------------------------------------- template buffers
// Inductor's TemplateBuffer contract, for both templates and externs:
//   get_outputs()  = the node itself plus its mutation outputs
//   reads          = every input
//   writes         = the output and every mutated input
std::vector<int64_t> mutated_inputs(const Graph& g, NodeId t, const TemplateRegistry& reg);
std::vector<NodeId> mutation_outputs(const Graph& g, NodeId t);  // in input order
std::vector<NodeId> get_outputs(const Graph& g, NodeId t);
std::vector<NodeId> read_deps(const Graph& g, NodeId t);
std::vector<NodeId> write_deps(const Graph& g, NodeId t, const TemplateRegistry& reg);  // t, then mutated input nodes
// Input indices whose producer may be fused into the template's loads; never a mutated one.
std::vector<int64_t> allowed_prologue_inputs(const Graph& g, NodeId t, const TemplateRegistry& reg);

// Storage identity: a mutation output shares storage with its mutated input
// (transitively); a view shares storage with its source.
NodeId storage_root(const Graph& g, NodeId n);

// ---------------------------------------------------------------- verifier
// Checks every node: input ids precede it, arity, attributes, the recorded type
// equals the inferred one, mutation outputs point at a mutable input, no value is
// read after a mutation of its storage (hazard). Each problem is one diagnostic
// naming the node.
bool verify(const Graph& g, const TemplateRegistry& reg, Diagnostics& diags);

}  // namespace egfuse
