// Internal to backends/ptx: the PTX text builder and the generic per-node
// expression emitter shared by every kernel kind.
#pragma once

#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "backends/common/epilogue_index.hpp"
#include "egfuse/ptx.hpp"
#include "egfuse/templates.hpp"

namespace egfuse::ptx {

// One kernel's text: registers are virtual (ptxas allocates), declared at the end.
class KernelText {
 public:
  explicit KernelText(std::string entry) : entry_(std::move(entry)) {}
  std::string pred() { return "%p" + std::to_string(np_++); }
  std::string b16() { return "%h" + std::to_string(nh_++); }
  std::string r32() { return "%r" + std::to_string(nr_++); }
  std::string r64() { return "%rd" + std::to_string(nrd_++); }
  std::string f32() { return "%f" + std::to_string(nf_++); }
  std::string label(const std::string& stem) { return "$L_" + stem + "_" + std::to_string(nl_++); }
  void ins(const std::string& s) { body_ << "\t" << s << ";\n"; }
  void put_label(const std::string& l) { body_ << l << ":\n"; }
  void comment(const std::string& c) { body_ << "\t// " << c << "\n"; }
  // A u64 global pointer parameter; returns the register holding it (cvta'd).
  std::string param_ptr(const std::string& name);
  std::string u32_const(uint32_t v);  // a register holding v (cached)
  // The whole module: header, entry with params, declarations, body.
  std::string finish(PtxTarget t, const std::string& extra_decls = "", int max_threads = 0) const;

 private:
  std::string entry_;
  std::vector<std::string> params_;
  std::ostringstream body_;
  std::map<uint32_t, std::string> consts_;
  int np_ = 0, nh_ = 0, nr_ = 0, nrd_ = 0, nf_ = 0, nl_ = 0;
};

// The register form of a value: floats compute in f32, i32 in s32, i64 in s64,
// bool as u32 0/1.
enum class VClass : uint8_t { f32, i32, i64, b };
VClass vclass(DType dt);
struct Val {
  std::string reg;
  VClass cls = VClass::f32;
};

std::string fimm(float v);  // "0f3F800000"

// A coordinate list (one register per dimension, u32 or u64 by the kernel's
// index width).
using Index = std::vector<std::string>;

// Emits node values at given coordinates, memoised per (node, coordinates).
// Input nodes load from their buffers; views and broadcasts become index
// arithmetic; `overrides` supply values computed elsewhere (accumulators,
// reduction results, pre-loaded vectors).
class ExprEmitter {
 public:
  ExprEmitter(KernelText& k, const Graph& body, bool idx64) : k_(k), g_(body), idx64_(idx64) {}
  // body input node -> (pointer register, buffer type)
  void bind_input(NodeId n, std::string ptr, TensorType storage_type);
  std::function<std::optional<Val>(NodeId, const Index&)> override_fn;

  Val emit(NodeId n, const Index& idx);
  // Element address of `idx` in a buffer of type `t` at `ptr` (u64 register).
  std::string address(const std::string& ptr, const TensorType& t, const Index& idx);
  Val load(const std::string& addr, DType dt);
  void store(const std::string& addr, DType dt, const Val& v, const std::string& guard = "");
  Val convert(const Val& v, VClass to);
  Val round_to(const Val& v, DType dt);  // store rounding (f16/bf16), else v
  // Coordinates of a row-major linear index over `shape`.
  Index delinearize(const std::string& lin, const Shape& shape);
  // Row-major linear index of `idx` over `shape` (inverse of delinearize).
  std::string linearize(const Index& idx, const Shape& shape);
  // The index of an epilogue output whose element reads the root (an
  // accumulator) at `ri`: `steps` from epilogue_steps, as index arithmetic.
  Index epilogue_index(const std::vector<EpilogueStep>& steps, const Index& ri);
  std::string zero();  // index-width zero register
  std::string idx_type() const { return idx64_ ? "u64" : "u32"; }
  std::string new_idx() { return idx64_ ? k_.r64() : k_.r32(); }
  std::string idx_imm(int64_t v);  // index register holding v
  bool idx64() const { return idx64_; }
  void forget_memo() { memo_.clear(); }
  // Values computed inside a loop body must not be reused after it: save the
  // memo (and cached constants) before the body, restore after.
  struct State {
    std::map<std::string, Val> memo;
    std::map<int64_t, std::string> imms;
    std::string zero;
  };
  State save() const { return {memo_, imms_, zero_}; }
  void restore(State s) {
    memo_ = std::move(s.memo);
    imms_ = std::move(s.imms);
    zero_ = std::move(s.zero);
  }
  // Emits a binary op on two values already in registers (used by reductions).
  Val binary(Op op, const Val& a, const Val& b, DType out);
  Val unary_f32(Op op, const std::string& x);

 private:
  Index broadcast_index(const Shape& from, const Shape& to, const Index& idx);
  Index view_index(const Node& n, const Index& idx);

  KernelText& k_;
  const Graph& g_;
  bool idx64_;
  std::map<NodeId, std::pair<std::string, TensorType>> inputs_;
  std::map<std::string, Val> memo_;
  std::string zero_;
  std::map<int64_t, std::string> imms_;
};

// Helpers over bodies.
std::vector<NodeId> body_inputs(const Graph& g);  // Op::input nodes in order
bool depends_on(const Graph& g, NodeId from, NodeId target);
// True when every node reachable from `root` down to inputs is pointwise with
// the same shape as root (constants excepted): element i of root needs element
// i of each input, so vector loads apply.
bool identity_indexed(const Graph& g, NodeId root, std::vector<NodeId>* inputs_seen = nullptr);
int64_t storage_extent(const TensorType& t);  // elements spanned from the storage start
bool needs_idx64(const Plan& p, const PlanKernel& k);

// The per-kind lowerings. Each fills `out` (launch + ptx).
PtxKernel lower_pointwise(const Plan& p, int ki, const PtxEmitOptions& opt);
PtxKernel lower_reduction(const Plan& p, int ki, const PtxEmitOptions& opt);
PtxKernel lower_gemm(const Plan& p, int ki, const TemplateRegistry& reg, const PtxEmitOptions& opt);
PtxKernel lower_index_copy(const Plan& p, int ki, const TemplateRegistry& reg, const PtxEmitOptions& opt);
PtxKernel lower_extern(const Plan& p, int ki, const PtxEmitOptions& opt);

std::string sanitize_entry(const std::string& kernel_name);

// Declares one pointer parameter per read and write buffer (in that order),
// binds body inputs to them, and records them in `launch.buffers`.
// Returns the pointer registers of the read and written buffers.
struct BoundBuffers {
  std::vector<std::string> reads, writes;
};
BoundBuffers bind_buffers(KernelText& k, ExprEmitter& e, const Plan& p, const PlanKernel& kern,
                                      PtxLaunch& launch);
// The global thread id (ctaid.x * ntid.x + tid.x) in the index width.
std::string global_thread_id(KernelText& k, ExprEmitter& e);

// 16-byte-or-smaller vector access of `n` consecutive elements of `dt`.
std::vector<Val> vector_load(KernelText& k, const std::string& addr, DType dt, int n);
void vector_store(KernelText& k, ExprEmitter& e, const std::string& addr, DType dt, const std::vector<Val>& v);
// Whether buffer type t allows vec-element vector access at element multiples of vec.
bool vector_ok(const TensorType& t, const Shape& iter_shape, int vec);

}  // namespace egfuse::ptx
