// Template kinds: the registry of template buffers (mm, bmm, addmm, and any kind
// a rule file declares). A kind says what it reads, what it writes in place,
// which inputs accept a fused prologue, whether it takes an epilogue, what it
// costs, and which backends implement it. Its computation is named by `impl`,
// a semantic known to the interpreter and backends (gemm, addmm, ...), so a
// new kind with an existing impl needs no engine change.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "egfuse/diagnostics.hpp"
#include "egfuse/ir.hpp"

namespace egfuse {

// Integer expression over shape variables: used in shape patterns and cost formulas.
struct DimExpr {
  enum class Kind : uint8_t { num, var, add, sub, mul, div } kind = Kind::num;
  int64_t num = 0;
  std::string var;
  std::vector<DimExpr> kids;  // two for binary kinds

  static DimExpr number(int64_t v) { DimExpr e; e.kind = Kind::num; e.num = v; return e; }
  static DimExpr variable(std::string v) { DimExpr e; e.kind = Kind::var; e.var = std::move(v); return e; }
  static DimExpr binary(Kind k, DimExpr a, DimExpr b) {
    DimExpr e; e.kind = k; e.kids = {std::move(a), std::move(b)}; return e;
  }
  // Unbound variables are an error (throws egfuse::Error naming the variable).
  int64_t eval(const std::map<std::string, int64_t>& env) const;
  std::string str() const;  // "2*M*N*K"
  bool operator==(const DimExpr&) const = default;
};

struct TemplateInput {
  std::string name;
  std::vector<DimExpr> shape;     // each a number or a variable; unified against the actual shape
  std::optional<DType> dtype;     // nullopt = any (must match the first input's dtype when float)
  bool prologue = false;          // allowed_prologue_inps: producer may be fused into loads
  bool mutated = false;           // mutated_inputs: written in place
};

// The built-in semantics. Declared kinds name one of these.
//   gemm:            out = a @ b (rank 2, or rank 3 batched), f32 accumulate
//   addmm:           out = bias + a @ b (bias broadcast to out)
//   index_copy:      inputs (dst[S,D] mutated, idx[T] i64, src[T,D]); dst[idx[t],:] = src[t,:];
//                    out = src (the rows written)
//   index_copy_pair: inputs (k[S,D] mutated, v[S,D] mutated, idx[T], ks[T,D], vs[T,D]); both caches
//                    written; out = ks
//   gemm_accumulate: inputs (c[M,N] mutated, a, b); c += a @ b; out = new c values
std::vector<std::string> known_template_impls();

struct TemplateKind {
  std::string name;
  std::vector<TemplateInput> inputs;
  std::vector<DimExpr> out_shape;
  std::optional<DType> out_dtype;  // nullopt = dtype of the first input
  bool epilogue = true;            // a pointwise epilogue may be fused after the accumulation
  bool is_extern = false;          // an opaque external kernel: never fused into
  std::string impl = "gemm";
  std::optional<DimExpr> flops;    // cost formula in shape variables
  std::optional<DimExpr> bytes;    // nullopt = sum of input and output sizes
  std::vector<std::string> backends = {"interp", "ptx", "spirv"};
  std::string doc;
  SourceSpan span;                 // where it was declared (empty for built-ins)

  std::vector<int64_t> mutated_inputs() const;
  std::vector<int64_t> prologue_inputs() const;  // never includes a mutated input
  std::optional<int64_t> input_index(const std::string& n) const;
};

// Result of matching a kind's input patterns against actual input types.
struct TemplateBinding {
  std::map<std::string, int64_t> vars;
  TensorType out;
};

class TemplateRegistry {
 public:
  TemplateRegistry();  // with the built-ins: mm, bmm, addmm
  static const TemplateRegistry& builtin();

  // Adds a kind; a kind of the same name is an error (returns false, sets error).
  bool add(TemplateKind k, std::string& error);
  const TemplateKind* find(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted

  // Unify input types with the kind's patterns; on failure, error says which
  // input and dimension disagree.
  std::optional<TemplateBinding> bind(const TemplateKind& k, const std::vector<TensorType>& inputs,
                                      std::string& error) const;

 private:
  std::map<std::string, TemplateKind> kinds_;
};

}  // namespace egfuse
