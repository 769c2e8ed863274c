// The reference interpreter: the numeric oracle for every backend. Evaluates a
// verified graph (or a kernel plan) on the CPU with f32 arithmetic; f16/bf16
// values are stored rounded to nearest even; mutation shares storage.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "egfuse/ir.hpp"

namespace egfuse {

class TemplateRegistry;
struct Plan;

// A dense tensor value. Storage holds every element as double so that i64 and
// f32 survive; each store rounds to the dtype (f32, f16, bf16 RNE, integer trunc).
struct Tensor {
  TensorType type;  // always contiguous here
  std::vector<double> data;

  Tensor() = default;
  explicit Tensor(TensorType t);
  int64_t numel() const { return int64_t(data.size()); }
};

double round_to(DType dt, double v);   // the store rounding of each dtype
uint16_t f32_to_f16_bits(float);       // RNE
float f16_bits_to_f32(uint16_t);
uint16_t f32_to_bf16_bits(float);      // RNE
float bf16_bits_to_f32(uint16_t);

// Deterministic random inputs: floats uniform in [-1, 1), ints in a small range
// (index-like inputs in [0, bound) where bound comes from how they are used), bools 0/1.
std::map<std::string, Tensor> random_inputs(const Graph& g, uint64_t seed, const TemplateRegistry& reg);

// Evaluates the graph; inputs by input-node name. Returns outputs by output
// name. Mutated inputs are updated in `inputs` too (their storage is written).
std::map<std::string, Tensor> evaluate(const Graph& g, std::map<std::string, Tensor>& inputs,
                                       const TemplateRegistry& reg);

// Runs a kernel plan kernel by kernel over its buffers (aliases share storage).
std::map<std::string, Tensor> evaluate_plan(const Plan& p, std::map<std::string, Tensor>& inputs,
                                            const TemplateRegistry& reg);

// Per-dtype tolerances used by every numeric comparison (one place).
struct Tolerance {
  double abs, rel;
};
Tolerance tolerance_for(DType dt);

struct Comparison {
  double max_abs = 0, max_rel = 0;
  bool ok = true;
  int64_t worst_index = -1;
};
// |a-b| <= abs + rel*|b| elementwise, b the reference.
Comparison compare(const Tensor& actual, const Tensor& reference, Tolerance tol);

}  // namespace egfuse
