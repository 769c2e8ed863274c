// Interpreter basics: store rounding per dtype (f16/bf16 round to nearest
// even), deterministic random inputs, tolerances and comparison.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "egfuse/interp.hpp"
#include "egfuse/strided.hpp"
#include "egfuse/templates.hpp"

namespace egfuse {

Tensor::Tensor(TensorType t) : type(std::move(t)) {
  type.strides.clear();
  type.offset = 0;
  data.assign(size_t(type.numel()), 0.0);
}

// ---------------------------------------------------------------- half formats
uint16_t f32_to_f16_bits(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  uint16_t sign = uint16_t((x >> 16) & 0x8000u);
  uint32_t a = x & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00u;            // NaN stays a (quiet) NaN
  if (a >= 0x477ff000u) return sign | 0x7c00u;           // >= 65520 rounds to infinity
  if (a < 0x38800000u) {                                  // below 2^-14: a half subnormal
    float scaled = std::bit_cast<float>(a) * 16777216.0f; // exact: |f| * 2^24
    return uint16_t(sign | uint16_t(std::nearbyint(scaled)));  // nearest even (default mode)
  }
  uint32_t h = (((a >> 23) - 112u) << 10) | ((a >> 13) & 0x3ffu);
  uint32_t rest = a & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry rolls into the exponent
  return uint16_t(sign | h);
}

float f16_bits_to_f32(uint16_t h) {
  float sign = (h & 0x8000u) ? -1.0f : 1.0f;
  int exp = (h >> 10) & 0x1f;
  int mant = h & 0x3ff;
  if (exp == 0) return sign * std::ldexp(float(mant), -24);
  if (exp == 31) return mant ? std::numeric_limits<float>::quiet_NaN() : sign * std::numeric_limits<float>::infinity();
  return sign * std::ldexp(float(1024 + mant), exp - 25);
}

uint16_t f32_to_bf16_bits(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40u);
  x += 0x7fffu + ((x >> 16) & 1u);
  return uint16_t(x >> 16);
}

float bf16_bits_to_f32(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }

// ---------------------------------------------------------------- element bytes
void store_element(DType dt, uint8_t* p, double v) {
  double r = round_to(dt, v);  // integers: truncated and clamped, NaN to 0 (no UB in the casts below)
  switch (dt) {
    case DType::f32: { float f = float(v); std::memcpy(p, &f, 4); break; }
    case DType::f16: { uint16_t h = f32_to_f16_bits(float(v)); std::memcpy(p, &h, 2); break; }
    case DType::bf16: { uint16_t h = f32_to_bf16_bits(float(v)); std::memcpy(p, &h, 2); break; }
    case DType::i32: { int32_t i = int32_t(r); std::memcpy(p, &i, 4); break; }
    case DType::i64: { int64_t i = int64_t(r); std::memcpy(p, &i, 8); break; }
    case DType::boolean: *p = v != 0 ? 1 : 0; break;
  }
}

double load_element(DType dt, const uint8_t* p) {
  switch (dt) {
    case DType::f32: { float f; std::memcpy(&f, p, 4); return f; }
    case DType::f16: { uint16_t h; std::memcpy(&h, p, 2); return f16_bits_to_f32(h); }
    case DType::bf16: { uint16_t h; std::memcpy(&h, p, 2); return bf16_bits_to_f32(h); }
    case DType::i32: { int32_t i; std::memcpy(&i, p, 4); return i; }
    case DType::i64: { int64_t i; std::memcpy(&i, p, 8); return double(i); }
    case DType::boolean: return *p ? 1 : 0;
  }
  return 0;
}

double round_to(DType dt, double v) {
  switch (dt) {
    case DType::f32: return double(float(v));
    case DType::f16: return double(f16_bits_to_f32(f32_to_f16_bits(float(v))));
    case DType::bf16: return double(bf16_bits_to_f32(f32_to_bf16_bits(float(v))));
    case DType::i32: {
      if (std::isnan(v)) return 0;
      double t = std::trunc(v);
      return std::clamp(t, double(std::numeric_limits<int32_t>::min()), double(std::numeric_limits<int32_t>::max()));
    }
    case DType::i64: {
      if (std::isnan(v)) return 0;
      // Doubles hold integers exactly up to 2^53, far beyond any index or count here.
      return std::clamp(std::trunc(v), -9.2e18, 9.2e18);
    }
    case DType::boolean: return v != 0 ? 1 : 0;
  }
  return v;
}

// ---------------------------------------------------------------- random inputs
namespace {
struct SplitMix64 {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }  // [0, 1)
};

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// How an integer input is used: as row indices into a dimension of `bound`
// rows (distinct when written through index_copy, so the result is unambiguous).
struct IndexUse {
  int64_t bound = 0;
  bool distinct = false;
};

IndexUse index_use(const Graph& g, NodeId input, const std::vector<NodeId>& users, const TemplateRegistry& reg) {
  IndexUse use;
  for (NodeId u : users) {
    const Node& n = g[u];
    if (n.op == Op::template_ || (n.op == Op::extern_ && std::get<ExternAttrs>(n.attrs).kernel.rfind("index_copy", 0) == 0)) {
      std::string impl;
      if (n.op == Op::extern_) {
        impl = std::get<ExternAttrs>(n.attrs).kernel;  // the in-place externs of the same name
      } else if (const TemplateKind* k = reg.find(std::get<TemplateAttrs>(n.attrs).kind)) {
        impl = k->impl;
      } else {
        continue;
      }
      size_t idx_at = impl == "index_copy" ? 1 : impl == "index_copy_pair" ? 2 : 0;
      if (idx_at && n.inputs.size() > idx_at && n.inputs[idx_at] == input) {
        int64_t rows = g[n.inputs[0]].type.shape.empty() ? 0 : g[n.inputs[0]].type.shape[0];
        use.bound = use.bound ? std::min(use.bound, rows) : rows;
        use.distinct = true;
      }
    } else if (n.op == Op::extern_ && std::get<ExternAttrs>(n.attrs).kernel == "embedding" && n.inputs.size() == 2) {
      NodeId table = n.inputs[0] == input ? n.inputs[1] : n.inputs[0];
      if (g[table].type.rank() >= 1) {
        int64_t rows = g[table].type.shape[0];
        use.bound = use.bound ? std::min(use.bound, rows) : rows;
      }
    }
  }
  return use;
}
}  // namespace

std::map<std::string, Tensor> random_inputs(const Graph& g, uint64_t seed, const TemplateRegistry& reg) {
  std::map<std::string, Tensor> out;
  auto users = g.users();
  for (NodeId id : g.inputs()) {
    const Node& n = g[id];
    Tensor t(n.type);
    // Seeded per input name: adding an input does not change the others' values.
    SplitMix64 rng{seed ^ fnv1a(n.name)};
    DType dt = n.type.dtype;
    if (is_float(dt)) {
      for (auto& v : t.data) v = round_to(dt, rng.uniform() * 2 - 1);
    } else if (dt == DType::boolean) {
      for (auto& v : t.data) v = double(rng.next() & 1);
    } else {
      IndexUse use = index_use(g, id, users[id], reg);
      if (use.bound > 0 && use.distinct && t.numel() <= use.bound) {
        // A random selection of distinct rows (partial Fisher-Yates).
        std::vector<int64_t> rows(size_t(use.bound));
        for (int64_t i = 0; i < use.bound; ++i) rows[size_t(i)] = i;
        for (size_t i = 0; i < t.data.size(); ++i) {
          size_t j = i + size_t(rng.next() % uint64_t(use.bound - int64_t(i)));
          std::swap(rows[i], rows[j]);
          t.data[i] = double(rows[i]);
        }
      } else if (use.bound > 0) {
        for (auto& v : t.data) v = double(rng.next() % uint64_t(use.bound));
      } else {
        for (auto& v : t.data) v = double(int64_t(rng.next() % 16) - 8);  // [-8, 8)
      }
    }
    out.emplace(n.name, std::move(t));
  }
  return out;
}

// ---------------------------------------------------------------- comparison
Tolerance tolerance_for(DType dt) {
  switch (dt) {
    case DType::f32: return {1e-3, 1e-4};
    case DType::f16: return {1e-2, 1e-2};
    case DType::bf16: return {5e-2, 5e-2};
    default: return {0, 0};  // integers and bools compare exactly
  }
}

Comparison compare(const Tensor& actual, const Tensor& reference, Tolerance tol) {
  Comparison c;
  if (actual.type.shape != reference.type.shape || actual.data.size() != reference.data.size()) {
    c.ok = false;
    c.max_abs = std::numeric_limits<double>::infinity();
    return c;
  }
  double worst = -1;
  for (size_t i = 0; i < actual.data.size(); ++i) {
    double a = actual.data[i], b = reference.data[i];
    double err;
    if (std::isnan(a) || std::isnan(b)) err = (std::isnan(a) && std::isnan(b)) ? 0 : std::numeric_limits<double>::infinity();
    else if (a == b) err = 0;  // also equal infinities
    else err = std::abs(a - b);
    double rel = b != 0 && std::isfinite(err) ? err / std::abs(b) : (err == 0 ? 0 : std::numeric_limits<double>::infinity());
    c.max_abs = std::max(c.max_abs, err);
    c.max_rel = std::max(c.max_rel, rel);
    double allowed = tol.abs + tol.rel * (std::isfinite(b) ? std::abs(b) : 0);
    double excess = std::isfinite(err) ? err - allowed : std::numeric_limits<double>::infinity();
    if (excess > 0) c.ok = false;
    if (excess > worst) {
      worst = excess;
      c.worst_index = int64_t(i);
    }
  }
  return c;
}

}  // namespace egfuse
