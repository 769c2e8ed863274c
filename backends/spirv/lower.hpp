// The lowering of one plan kernel to SPIR-V assembly. The body graph is walked
// generically: value(node, index) emits the code computing one element of a
// node at a multi-index (a vector of i32 ids), recursing through pointwise ops
// and views (index arithmetic) down to buffer loads. Reductions and templates
// install an override that supplies their node's value (an accumulator) so
// prologue ops (before) and epilogue ops (after) compose with any kernel kind.
// Internal to backends/spirv; the kernel drivers live in lower_pointwise.cpp,
// lower_reduction.cpp and lower_template.cpp.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "backends/spirv/spirv_module.hpp"
#include "egfuse/plan.hpp"
#include "egfuse/spirv.hpp"
#include "egfuse/templates.hpp"

namespace egfuse::spirv {

using Index = std::vector<std::string>;  // one i32 id per dimension

struct Binding {
  int buffer = -1;
  std::string var;
  std::string elem;  // element type id of the runtime array
  TensorType type;   // buffer type: strides and offset into its storage
};

class Lowering {
 public:
  Lowering(const Plan& p, size_t index, const TemplateRegistry& reg, const SpirvDeviceLimits& lim);
  SpirvKernel run();

  // ---- shared helpers (lower_pointwise.cpp)
  std::string value(NodeId n, const Index& idx);
  std::string load(int binding, const Index& idx);
  void store(int binding, const Index& idx, const std::string& v);
  int binding_of_input(NodeId input_node) const;
  int binding_of_output(size_t output) const { return write_binding_[output]; }
  std::string storage_index(const Binding& b, const Index& idx);
  Index unravel(const std::string& linear, const Shape& shape);
  std::string ravel(const Index& idx, const Shape& shape);
  Index broadcast_index(const Index& idx, const Shape& from, const Shape& to);
  std::string round(DType dt, const std::string& v);
  std::string to_int(const std::string& f);    // f32 -> i32 (truncating)
  std::string imul(const std::string& a, int64_t b);
  std::string iadd(const std::string& a, const std::string& b);
  std::string idiv(const std::string& a, int64_t b);
  std::string imod(const std::string& a, int64_t b);
  std::string global_id_x();
  void push_scope() { memo_.emplace_back(); }
  void pop_scope() { memo_.pop_back(); }
  bool depends_on(NodeId n, NodeId target) const;
  // Epilogues: an override supplies `root`'s value at one index `ri` only (an
  // accumulator). Returns the index of `out` whose element reads root at `ri`,
  // inverting the views and broadcasts between them (reshape, permute, ...);
  // fails when out does not read each element of root exactly once.
  Index index_after(NodeId out, NodeId root, const Index& ri);
  [[noreturn]] void fail(const std::string& why) const;

  // ---- kernel drivers
  void lower_pointwise();   // lower_pointwise.cpp
  bool lower_pointwise_vec4();  // false: the kernel does not qualify (scalar path)
  void lower_reduction();   // lower_reduction.cpp
  void lower_template();    // lower_template.cpp
  // Elementwise grid-stride loop over `numel` elements: body(linear index).
  void grid_stride(int64_t numel, uint32_t wg, const std::function<void(const std::string&)>& body);

  SpvModule m;
  const Plan& p;
  const PlanKernel& k;
  const Graph& g;
  const TemplateRegistry& reg;
  const SpirvDeviceLimits& lim;
  std::vector<Binding> bindings;
  std::map<NodeId, std::function<std::string(const Index&)>> overrides;
  SpirvKernel out;

 private:
  std::string unary(Op op, const std::string& x);
  std::string extern_value(NodeId n, const Index& idx);
  std::string binary(Op op, const std::string& a, const std::string& b);
  int add_binding(int buffer);
  bool vec4_ok(int binding, const Shape& iter) const;
  std::vector<std::string> load_vec4(int binding, const Index& idx);
  void store_vec4(int binding, const Index& idx, const std::vector<std::string>& v);
  std::map<int, std::string> vec_var_;  // binding -> its vec4 view variable
  bool vectorized_ = false;
  std::vector<int> read_binding_, write_binding_;
  std::vector<NodeId> body_inputs_;
  std::vector<std::map<std::string, std::string>> memo_;
};

}  // namespace egfuse::spirv
