// Weight storage of .pt2 archives: each tensor's storage is a raw file
// (data/weights/weight_N, data/constants/tensor_N) of little-endian elements,
// described by a TensorMeta (dtype, sizes, strides, storage offset).
#include <cstring>

#include "pt2_program.hpp"

namespace egfuse::pt2 {

// torch/_export/serde/schema.py: class ScalarType(IntEnum).
namespace {
struct ScalarTypeInfo {
  int code;
  const char* name;
  int bytes;
  std::optional<DType> dtype;
};
const ScalarTypeInfo kScalarTypes[] = {
    {1, "uint8", 1, DType::i32},   {2, "int8", 1, DType::i32},     {3, "int16", 2, DType::i32},
    {4, "int32", 4, DType::i32},   {5, "int64", 8, DType::i64},    {6, "float16", 2, DType::f16},
    {7, "float32", 4, DType::f32}, {8, "float64", 8, std::nullopt}, {9, "complex32", 4, std::nullopt},
    {10, "complex64", 8, std::nullopt}, {11, "complex128", 16, std::nullopt}, {12, "bool", 1, DType::boolean},
    {13, "bfloat16", 2, DType::bf16},
};
const ScalarTypeInfo* find_scalar_type(int code) {
  for (auto& s : kScalarTypes)
    if (s.code == code) return &s;
  return nullptr;
}

// Local decoders (the interpreter has its own; the importer does not depend on it).
float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0) {
    if (mant == 0) bits = sign;
    else {  // subnormal: normalize
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) { mant <<= 1; --exp; }
      bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
float bfloat_to_float(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
}  // namespace

std::optional<DType> dtype_of_scalar_type(int code) {
  auto* s = find_scalar_type(code);
  return s ? s->dtype : std::nullopt;
}
int scalar_type_bytes(int code) {
  auto* s = find_scalar_type(code);
  return s ? s->bytes : 0;
}
std::string scalar_type_name(int code) {
  auto* s = find_scalar_type(code);
  return s ? std::string(s->name) : "scalar type code " + std::to_string(code);
}

Tensor decode_tensor(const std::string& bytes, const TensorMeta& meta, const std::string& what) {
  auto dt = dtype_of_scalar_type(meta.scalar_type);
  int eb = scalar_type_bytes(meta.scalar_type);
  if (!dt || eb == 0)
    throw FormatError("E-pt2-dtype", what + ": unsupported dtype " + scalar_type_name(meta.scalar_type) +
                                         " (supported: float32, float16, bfloat16, int64, int32, int16, int8, "
                                         "uint8, bool)");
  Tensor t;
  t.type.dtype = *dt;
  t.type.shape = meta.sizes;
  int64_t n = 1;
  for (auto d : meta.sizes) n *= d;
  std::vector<int64_t> strides = meta.strides.empty() ? contiguous_strides(meta.sizes) : meta.strides;
  if (strides.size() != meta.sizes.size())
    throw FormatError("E-pt2-weights", what + ": strides do not match sizes");
  // Largest element offset read, to check the file is long enough.
  int64_t last = meta.storage_offset;
  for (size_t i = 0; i < strides.size(); ++i) {
    if (meta.sizes[i] == 0) { last = -1; break; }
    if (strides[i] < 0) throw FormatError("E-pt2-weights", what + ": negative stride");
    last += (meta.sizes[i] - 1) * strides[i];
  }
  if (n > 0 && (last + 1) * eb > int64_t(bytes.size()))
    throw FormatError("E-pt2-weights", what + ": storage has " + std::to_string(bytes.size()) + " bytes, " +
                                           std::to_string((last + 1) * eb) + " needed (truncated?)");
  t.data.resize(size_t(n));
  std::vector<int64_t> idx(meta.sizes.size(), 0);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(bytes.data());
  for (int64_t k = 0; k < n; ++k) {
    int64_t off = meta.storage_offset;
    for (size_t i = 0; i < idx.size(); ++i) off += idx[i] * strides[i];
    const unsigned char* e = p + off * eb;
    double v = 0;
    switch (meta.scalar_type) {  // the archive's byteorder file says little; so is every host we build for
      case 1: v = e[0]; break;
      case 2: v = int8_t(e[0]); break;
      case 3: { int16_t x; std::memcpy(&x, e, 2); v = x; break; }
      case 4: { int32_t x; std::memcpy(&x, e, 4); v = x; break; }
      case 5: { int64_t x; std::memcpy(&x, e, 8); v = double(x); break; }
      case 6: { uint16_t x; std::memcpy(&x, e, 2); v = half_to_float(x); break; }
      case 7: { float x; std::memcpy(&x, e, 4); v = x; break; }
      case 12: v = e[0] ? 1 : 0; break;
      case 13: { uint16_t x; std::memcpy(&x, e, 2); v = bfloat_to_float(x); break; }
      default: break;
    }
    t.data[size_t(k)] = v;
    for (int i = int(idx.size()) - 1; i >= 0; --i) {
      if (++idx[size_t(i)] < meta.sizes[size_t(i)]) break;
      idx[size_t(i)] = 0;
    }
  }
  return t;
}

}  // namespace egfuse::pt2
