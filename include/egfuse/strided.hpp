// Host-side access to buffers in memory: walking a (possibly strided) tensor
// type in row-major logical order, and one element's bytes per dtype. Shared by
// the plan interpreter and the backends' runners (upload and read-back).
#pragma once

#include <cstdint>
#include <vector>

#include "egfuse/ir.hpp"

namespace egfuse {

// Calls f(logical index, storage index) for every element of t, row-major.
template <class F>
void for_each_element(const TensorType& t, F&& f) {
  int64_t n = t.numel();
  if (n == 0) return;
  auto st = t.effective_strides();
  std::vector<int64_t> idx(t.shape.size(), 0);
  int64_t pos = t.offset;
  for (int64_t i = 0; i < n; ++i) {
    f(i, pos);
    for (int d = int(t.shape.size()) - 1; d >= 0; --d) {
      if (++idx[size_t(d)] < t.shape[size_t(d)]) {
        pos += st[size_t(d)];
        break;
      }
      pos -= (t.shape[size_t(d)] - 1) * st[size_t(d)];
      idx[size_t(d)] = 0;
    }
  }
}

// One element in its storage encoding (f16/bf16 round to nearest even,
// integers truncate, bool is one byte 0/1). Defined in engine/interp/tensor.cpp.
void store_element(DType dt, uint8_t* p, double v);
double load_element(DType dt, const uint8_t* p);

}  // namespace egfuse
