// The generic part of the lowering (buffers, loads and stores per dtype, the
// recursive element walk over pointwise ops and views) and the pointwise
// kernel driver. See lower.hpp.
#include <algorithm>
#include <cmath>
#include <set>

#include "backends/common/epilogue_index.hpp"
#include "backends/spirv/lower.hpp"

namespace egfuse::spirv {

Lowering::Lowering(const Plan& plan, size_t index, const TemplateRegistry& r, const SpirvDeviceLimits& l)
    : p(plan), k(plan.kernels.at(index)), g(plan.kernels.at(index).body), reg(r), lim(l) {
  m.t_void();
  out.name = k.name;
  body_inputs_ = g.inputs();
  if (body_inputs_.size() != k.reads.size()) fail("body inputs and reads differ in number");
  if (g.outputs.size() != k.writes.size()) fail("body outputs and writes differ in number");
  for (int b : k.reads) read_binding_.push_back(add_binding(b));
  for (int b : k.writes) write_binding_.push_back(add_binding(b));
  for (int b : k.reads) out.reads_storage_of.push_back(b);
  for (int b : k.writes) out.writes_storage_of.push_back(b);
  memo_.emplace_back();
}

void Lowering::fail(const std::string& why) const {
  throw Error("spirv: kernel " + k.name + ": " + why);
}

int Lowering::add_binding(int buffer) {
  for (size_t i = 0; i < bindings.size(); ++i)
    if (bindings[i].buffer == buffer) return int(i);
  const PlanBuffer& pb = p.buffers.at(size_t(buffer));
  Binding b;
  b.buffer = buffer;
  b.type = pb.type;
  int stride = 4;
  switch (pb.type.dtype) {
    case DType::f32: b.elem = m.t_float(); break;
    case DType::i32: b.elem = m.t_int(); break;
    case DType::i64: b.elem = m.t_uint(); break;  // two words, low word first
    case DType::f16:
    case DType::bf16:
      if (!lim.storage16)
        fail("buffer '" + pb.name + "' is " + std::string(dtype_name(pb.type.dtype)) + " but device '" + lim.device +
             "' lacks storageBuffer16BitAccess");
      m.capability("StorageBuffer16BitAccess");
      b.elem = pb.type.dtype == DType::f16 ? m.t_half() : m.t_u16();
      stride = 2;
      break;
    case DType::boolean:
      if (!lim.storage8)
        fail("buffer '" + pb.name + "' is bool but device '" + lim.device + "' lacks storageBuffer8BitAccess");
      m.capability("StorageBuffer8BitAccess");
      b.elem = m.t_u8();
      stride = 1;
      break;
  }
  b.var = m.storage_buffer(int(bindings.size()), b.elem, stride);
  bindings.push_back(b);
  out.bindings.push_back(buffer);
  return int(bindings.size() - 1);
}

int Lowering::binding_of_input(NodeId input_node) const {
  auto it = std::find(body_inputs_.begin(), body_inputs_.end(), input_node);
  return read_binding_[size_t(it - body_inputs_.begin())];
}

// ---------------------------------------------------------------- integer index arithmetic
static bool is_const_zero(SpvModule& m, const std::string& id) { return id == m.c_int(0); }

std::string Lowering::imul(const std::string& a, int64_t b) {
  if (b == 0 || is_const_zero(m, a)) return m.c_int(0);
  if (b == 1) return a;
  return m.ins(m.t_int(), "OpIMul " + a + " " + m.c_int(b));
}
std::string Lowering::iadd(const std::string& a, const std::string& b) {
  if (is_const_zero(m, a)) return b;
  if (is_const_zero(m, b)) return a;
  return m.ins(m.t_int(), "OpIAdd " + a + " " + b);
}
std::string Lowering::idiv(const std::string& a, int64_t b) {
  if (b == 1 || is_const_zero(m, a)) return a;
  return m.ins(m.t_int(), "OpSDiv " + a + " " + m.c_int(b));
}
std::string Lowering::imod(const std::string& a, int64_t b) {
  if (b == 1) return m.c_int(0);
  return m.ins(m.t_int(), "OpSMod " + a + " " + m.c_int(b));
}

Index Lowering::unravel(const std::string& linear, const Shape& shape) {
  Index idx(shape.size());
  std::string rest = linear;
  for (int d = int(shape.size()) - 1; d >= 0; --d) {
    int64_t s = shape[size_t(d)];
    if (d == 0) idx[0] = s == 1 ? m.c_int(0) : rest;
    else {
      idx[size_t(d)] = imod(rest, s);
      rest = idiv(rest, s);
    }
  }
  return idx;
}

std::string Lowering::ravel(const Index& idx, const Shape& shape) {
  std::string lin = m.c_int(0);
  for (size_t d = 0; d < shape.size(); ++d) lin = iadd(imul(lin, shape[d]), idx[d]);
  return lin;
}

// Numpy broadcasting: `idx` indexes shape `from`; returns the index into `to`.
Index Lowering::broadcast_index(const Index& idx, const Shape& from, const Shape& to) {
  Index r(to.size());
  size_t lead = from.size() - to.size();
  for (size_t d = 0; d < to.size(); ++d) r[d] = to[d] == 1 ? m.c_int(0) : idx[d + lead];
  return r;
}

std::string Lowering::storage_index(const Binding& b, const Index& idx) {
  auto st = b.type.effective_strides();
  std::string e = m.c_int(b.type.offset);
  for (size_t d = 0; d < idx.size(); ++d)
    if (b.type.shape[d] != 1) e = iadd(e, imul(idx[d], st[d]));
  if (b.type.dtype == DType::i64) e = imul(e, 2);
  return e;
}

std::string Lowering::global_id_x() {
  std::string gid = m.builtin("GlobalInvocationId", m.t_uvec3());
  return m.ins(m.t_int(), "OpBitcast " + m.ins(m.t_uint(), "OpCompositeExtract " + gid + " 0"));
}

// ---------------------------------------------------------------- loads and stores
std::string Lowering::load(int bi, const Index& idx) {
  const Binding& b = bindings[size_t(bi)];
  std::string e = storage_index(b, idx);
  std::string ptr = m.ins(m.ptr("StorageBuffer", b.elem), "OpAccessChain " + b.var + " " + m.c_int(0) + " " + e);
  std::string v = m.load(b.elem, ptr);
  std::string f = m.t_float(), u = m.t_uint();
  switch (b.type.dtype) {
    case DType::f32: return v;
    case DType::f16: return m.ins(f, "OpFConvert " + v);
    case DType::bf16: {
      std::string w = m.ins(u, "OpUConvert " + v);
      return m.ins(f, "OpBitcast " + m.ins(u, "OpShiftLeftLogical " + w + " " + m.c_uint(16)));
    }
    case DType::i32: return m.ins(f, "OpConvertSToF " + v);
    case DType::i64: return m.ins(f, "OpConvertSToF " + m.ins(m.t_int(), "OpBitcast " + v));
    case DType::boolean: return m.ins(f, "OpConvertUToF " + m.ins(u, "OpUConvert " + v));
  }
  return v;
}

void Lowering::store(int bi, const Index& idx, const std::string& v) {
  const Binding& b = bindings[size_t(bi)];
  std::string e = storage_index(b, idx);
  auto ptr_at = [&](const std::string& i) {
    return m.ins(m.ptr("StorageBuffer", b.elem), "OpAccessChain " + b.var + " " + m.c_int(0) + " " + i);
  };
  std::string u = m.t_uint();
  std::string w;
  switch (b.type.dtype) {
    case DType::f32: w = v; break;
    case DType::f16:
      w = m.ins(b.elem, "OpFConvert " + v);
      m.decorate("OpDecorate " + w + " FPRoundingMode RTE");
      break;
    case DType::bf16: {
      // Round to nearest even on the f32 bits, keep the high half.
      std::string bits = m.ins(u, "OpBitcast " + v);
      std::string lsb = m.ins(u, "OpBitwiseAnd " + m.ins(u, "OpShiftRightLogical " + bits + " " + m.c_uint(16)) + " " +
                                     m.c_uint(1));
      std::string r = m.ins(u, "OpIAdd " + bits + " " + m.ins(u, "OpIAdd " + lsb + " " + m.c_uint(0x7fff)));
      w = m.ins(b.elem, "OpUConvert " + m.ins(u, "OpShiftRightLogical " + r + " " + m.c_uint(16)));
      break;
    }
    case DType::i32: w = to_int(v); break;
    case DType::i64: {
      std::string i = to_int(v);
      std::string hi = m.ins(m.t_int(), "OpShiftRightArithmetic " + i + " " + m.c_int(31));
      m.store(ptr_at(m.ins(m.t_int(), "OpIAdd " + e + " " + m.c_int(1))), m.ins(u, "OpBitcast " + hi));
      w = m.ins(u, "OpBitcast " + i);
      break;
    }
    case DType::boolean: {
      std::string nz = m.ins(m.t_bool(), "OpFUnordNotEqual " + v + " " + m.c_float(0));
      w = m.ins(b.elem, "OpUConvert " + m.ins(u, "OpSelect " + nz + " " + m.c_uint(1) + " " + m.c_uint(0)));
      break;
    }
  }
  m.store(ptr_at(e), w);
}

std::string Lowering::to_int(const std::string& f) { return m.ins(m.t_int(), "OpConvertFToS " + f); }

std::string Lowering::round(DType dt, const std::string& v) {
  std::string f = m.t_float(), u = m.t_uint();
  switch (dt) {
    case DType::f32: return v;
    case DType::f16: return m.ins(f, "OpQuantizeToF16 " + v);
    case DType::bf16: {
      std::string bits = m.ins(u, "OpBitcast " + v);
      std::string lsb = m.ins(u, "OpBitwiseAnd " + m.ins(u, "OpShiftRightLogical " + bits + " " + m.c_uint(16)) + " " +
                                     m.c_uint(1));
      std::string r = m.ins(u, "OpIAdd " + bits + " " + m.ins(u, "OpIAdd " + lsb + " " + m.c_uint(0x7fff)));
      return m.ins(f, "OpBitcast " + m.ins(u, "OpBitwiseAnd " + r + " " + m.c_uint(0xffff0000u)));
    }
    case DType::i32:
    case DType::i64: return m.ext(f, "Trunc", v);
    case DType::boolean: {
      std::string nz = m.ins(m.t_bool(), "OpFUnordNotEqual " + v + " " + m.c_float(0));
      return m.ins(f, "OpSelect " + nz + " " + m.c_float(1) + " " + m.c_float(0));
    }
  }
  return v;
}

// ---------------------------------------------------------------- pointwise ops (f32 arithmetic)
std::string Lowering::unary(Op op, const std::string& x) {
  std::string f = m.t_float(), b = m.t_bool();
  auto sigmoid = [&](const std::string& a) {
    std::string e = m.ext(f, "Exp", m.ins(f, "OpFNegate " + a));
    return m.ins(f, "OpFDiv " + m.c_float(1) + " " + m.ins(f, "OpFAdd " + m.c_float(1) + " " + e));
  };
  auto tanh = [&](const std::string& a) {  // clamped: some drivers' tanh overflows through exp
    return m.ext(f, "Tanh", m.ext(f, "FClamp", a + " " + m.c_float(-15) + " " + m.c_float(15)));
  };
  auto erf = [&](const std::string& a) {
    // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): GLSL.std.450 has no erf.
    std::string s = m.ext(f, "FSign", a), ax = m.ext(f, "FAbs", a);
    std::string t = m.ins(f, "OpFDiv " + m.c_float(1) + " " +
                                 m.ext(f, "Fma", m.c_float(0.3275911) + " " + ax + " " + m.c_float(1)));
    const double c[] = {1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592};
    std::string poly = m.c_float(c[0]);
    for (int i = 1; i < 5; ++i) poly = m.ext(f, "Fma", poly + " " + t + " " + m.c_float(c[i]));
    poly = m.ins(f, "OpFMul " + poly + " " + t);
    std::string e = m.ext(f, "Exp", m.ins(f, "OpFNegate " + m.ins(f, "OpFMul " + ax + " " + ax)));
    std::string y = m.ins(f, "OpFSub " + m.c_float(1) + " " + m.ins(f, "OpFMul " + poly + " " + e));
    return m.ins(f, "OpFMul " + s + " " + y);
  };
  switch (op) {
    case Op::neg: return m.ins(f, "OpFNegate " + x);
    case Op::abs: return m.ext(f, "FAbs", x);
    case Op::exp: return m.ext(f, "Exp", x);
    case Op::log: return m.ext(f, "Log", x);
    case Op::sqrt: return m.ext(f, "Sqrt", x);
    case Op::rsqrt: return m.ext(f, "InverseSqrt", x);
    case Op::sin: return m.ext(f, "Sin", x);
    case Op::cos: return m.ext(f, "Cos", x);
    case Op::tanh: return tanh(x);
    case Op::sigmoid: return sigmoid(x);
    case Op::relu: return m.ext(f, "FMax", x + " " + m.c_float(0));
    case Op::gelu: {
      std::string e = erf(m.ins(f, "OpFMul " + x + " " + m.c_float(0.70710678118654752)));
      return m.ins(f, "OpFMul " + m.ins(f, "OpFMul " + x + " " + m.c_float(0.5)) + " " +
                          m.ins(f, "OpFAdd " + m.c_float(1) + " " + e));
    }
    case Op::gelu_tanh: {
      std::string x3 = m.ins(f, "OpFMul " + x + " " + m.ins(f, "OpFMul " + x + " " + x));
      std::string in = m.ext(f, "Fma", x3 + " " + m.c_float(0.044715) + " " + x);
      std::string t = tanh(m.ins(f, "OpFMul " + in + " " + m.c_float(0.79788456080286536)));
      return m.ins(f, "OpFMul " + m.ins(f, "OpFMul " + x + " " + m.c_float(0.5)) + " " +
                          m.ins(f, "OpFAdd " + m.c_float(1) + " " + t));
    }
    case Op::silu: return m.ins(f, "OpFMul " + x + " " + sigmoid(x));
    case Op::erf: return erf(x);
    case Op::reciprocal: return m.ins(f, "OpFDiv " + m.c_float(1) + " " + x);
    case Op::logical_not: {
      std::string z = m.ins(b, "OpFOrdEqual " + x + " " + m.c_float(0));
      return m.ins(f, "OpSelect " + z + " " + m.c_float(1) + " " + m.c_float(0));
    }
    default: break;
  }
  fail("unary op " + std::string(op_name(op)) + " has no SPIR-V lowering");
}

std::string Lowering::binary(Op op, const std::string& a, const std::string& b) {
  std::string f = m.t_float(), bt = m.t_bool();
  auto sel = [&](const std::string& c) { return m.ins(f, "OpSelect " + c + " " + m.c_float(1) + " " + m.c_float(0)); };
  auto cmp = [&](const char* opc) { return sel(m.ins(bt, std::string(opc) + " " + a + " " + b)); };
  auto truthy = [&](const std::string& v) { return m.ins(bt, "OpFUnordNotEqual " + v + " " + m.c_float(0)); };
  switch (op) {
    case Op::add: return m.ins(f, "OpFAdd " + a + " " + b);
    case Op::sub: return m.ins(f, "OpFSub " + a + " " + b);
    case Op::mul: return m.ins(f, "OpFMul " + a + " " + b);
    case Op::div: return m.ins(f, "OpFDiv " + a + " " + b);
    case Op::max: return m.ext(f, "FMax", a + " " + b);
    case Op::min: return m.ext(f, "FMin", a + " " + b);
    case Op::pow: {
      // GLSL Pow is undefined for a < 0: use |a| and restore the sign for odd integer exponents.
      std::string r = m.ext(f, "Pow", m.ext(f, "FAbs", a) + " " + b);
      std::string neg = m.ins(bt, "OpFOrdLessThan " + a + " " + m.c_float(0));
      std::string half = m.ins(f, "OpFMul " + b + " " + m.c_float(0.5));
      std::string odd = m.ins(bt, "OpFOrdNotEqual " + m.ext(f, "Floor", half) + " " + half);
      std::string flip = m.ins(bt, "OpLogicalAnd " + neg + " " + odd);
      return m.ins(f, "OpSelect " + flip + " " + m.ins(f, "OpFNegate " + r) + " " + r);
    }
    case Op::eq: return cmp("OpFOrdEqual");
    case Op::ne: return cmp("OpFUnordNotEqual");
    case Op::lt: return cmp("OpFOrdLessThan");
    case Op::le: return cmp("OpFOrdLessThanEqual");
    case Op::gt: return cmp("OpFOrdGreaterThan");
    case Op::ge: return cmp("OpFOrdGreaterThanEqual");
    case Op::logical_and: return sel(m.ins(bt, "OpLogicalAnd " + truthy(a) + " " + truthy(b)));
    case Op::logical_or: return sel(m.ins(bt, "OpLogicalOr " + truthy(a) + " " + truthy(b)));
    default: break;
  }
  fail("binary op " + std::string(op_name(op)) + " has no SPIR-V lowering");
}

bool Lowering::depends_on(NodeId n, NodeId target) const {
  if (n == target) return true;
  for (NodeId i : g[n].inputs)
    if (depends_on(i, target)) return true;
  return false;
}

// ---------------------------------------------------------------- epilogue indices
// A reduction or template kernel knows its root's value (the accumulator) at
// one index only, and an override returns it whatever index is asked for. An
// output computed after the root is stored at the index whose element reads
// the root at exactly that index: epilogue_steps (backends/common, shared with
// PTX) says how to invert each step between them and refuses outputs that do
// not read each root element once; here the steps become SPIR-V arithmetic.
Index Lowering::index_after(NodeId out, NodeId root, const Index& ri) {
  Index idx = ri;
  for (const EpilogueStep& s : epilogue_steps(g, out, root, "spirv: kernel " + k.name)) {
    switch (s.kind) {
      case EpilogueStep::Kind::same: break;
      case EpilogueStep::Kind::reshape: idx = unravel(ravel(idx, s.from), s.to); break;
      case EpilogueStep::Kind::permute: {
        Index r(s.perm.size());
        for (size_t d = 0; d < s.perm.size(); ++d) r[d] = idx[size_t(s.perm[d])];
        idx = std::move(r);
        break;
      }
      case EpilogueStep::Kind::unbroadcast: {
        Index r(s.to.size() - s.from.size(), m.c_int(0));
        r.insert(r.end(), idx.begin(), idx.end());
        idx = std::move(r);
        break;
      }
    }
  }
  return idx;
}

// ---------------------------------------------------------------- the element walk
std::string Lowering::value(NodeId n, const Index& idx) {
  std::string key = std::to_string(n);
  for (auto& i : idx) key += "," + i;
  for (auto it = memo_.rbegin(); it != memo_.rend(); ++it) {
    auto f = it->find(key);
    if (f != it->end()) return f->second;
  }
  const Node& node = g[n];
  auto in_idx = [&](size_t i) { return broadcast_index(idx, node.type.shape, g[node.inputs[i]].type.shape); };
  std::string r;
  auto ov = overrides.find(n);
  if (ov != overrides.end()) {
    r = ov->second(idx);
  } else {
    switch (op_class(node.op)) {
      case OpClass::input: r = load(binding_of_input(n), idx); break;
      case OpClass::constant:
        r = m.c_float(std::get<ConstantAttrs>(node.attrs).value);
        r = round(node.type.dtype, r);
        break;
      case OpClass::unary: r = round(node.type.dtype, unary(node.op, value(node.inputs[0], in_idx(0)))); break;
      case OpClass::binary:
        r = round(node.type.dtype, binary(node.op, value(node.inputs[0], in_idx(0)), value(node.inputs[1], in_idx(1))));
        break;
      case OpClass::ternary: {
        std::string c = value(node.inputs[0], in_idx(0));
        std::string a = value(node.inputs[1], in_idx(1)), b = value(node.inputs[2], in_idx(2));
        std::string t = m.ins(m.t_bool(), "OpFUnordNotEqual " + c + " " + m.c_float(0));
        r = round(node.type.dtype, m.ins(m.t_float(), "OpSelect " + t + " " + a + " " + b));
        break;
      }
      case OpClass::cast: r = round(node.type.dtype, value(node.inputs[0], idx)); break;
      case OpClass::view: {
        const Shape& xs = g[node.inputs[0]].type.shape;
        Index xi(xs.size());
        if (node.op == Op::reshape) {
          xi = unravel(ravel(idx, node.type.shape), xs);
        } else if (node.op == Op::permute) {
          auto& perm = std::get<PermuteAttrs>(node.attrs).perm;
          for (size_t d = 0; d < perm.size(); ++d) xi[size_t(perm[d])] = idx[d];
        } else if (node.op == Op::expand) {
          xi = broadcast_index(idx, node.type.shape, xs);
        } else {  // slice
          auto a = std::get<SliceAttrs>(node.attrs);
          if (a.dim < 0) a.dim += int64_t(xs.size());
          xi = idx;
          xi[size_t(a.dim)] = iadd(imul(idx[size_t(a.dim)], a.step), m.c_int(a.start));
        }
        r = value(node.inputs[0], xi);
        break;
      }
      case OpClass::extern_: r = extern_value(n, idx); break;
      case OpClass::mutation_output:
        if (g[node.inputs[0]].op == Op::extern_) {  // copy(dst, src): the new dst is the extern's result
          r = value(node.inputs[0], unravel(ravel(idx, node.type.shape), g[node.inputs[0]].type.shape));
          break;
        }
        [[fallthrough]];
      default:
        fail("node '" + node.name + "' (" + std::string(op_name(node.op)) +
             ") is used where this kernel kind cannot compute it");
    }
  }
  memo_.back()[key] = r;
  return r;
}

// Extern kernels known to the interpreter, lowered as gathers:
//   embedding(ids, table) (either order): out[..., d] = table[ids[...], d]
//   copy(src): src's elements in out's shape; copy(dst, src): src broadcast to dst.
std::string Lowering::extern_value(NodeId n, const Index& idx) {
  const Node& node = g[n];
  const std::string& kernel = std::get<ExternAttrs>(node.attrs).kernel;
  if (kernel == "embedding" && node.inputs.size() == 2) {
    bool ids_first = !is_float(g[node.inputs[0]].type.dtype);
    NodeId ids = node.inputs[ids_first ? 0 : 1], table = node.inputs[ids_first ? 1 : 0];
    int64_t V = g[table].type.shape[0];
    Index ii(idx.begin(), idx.end() - 1);
    std::string row = to_int(value(ids, ii));
    row = m.ext(m.t_int(), "SClamp", row + " " + m.c_int(0) + " " + m.c_int(V - 1));
    return round(node.type.dtype, value(table, {row, idx.back()}));
  }
  if (kernel == "copy" && node.inputs.size() == 1) {
    NodeId src = node.inputs[0];
    return round(node.type.dtype, value(src, unravel(ravel(idx, node.type.shape), g[src].type.shape)));
  }
  if (kernel == "copy" && node.inputs.size() == 2) {
    const Shape& ds = g[node.inputs[0]].type.shape;
    Index di = unravel(ravel(idx, node.type.shape), ds);
    NodeId src = node.inputs[1];
    return round(node.type.dtype, value(src, broadcast_index(di, ds, g[src].type.shape)));
  }
  fail("extern kernel '" + kernel + "' has no SPIR-V lowering (known: copy, embedding)");
}

// ---------------------------------------------------------------- pointwise kernels
void Lowering::grid_stride(int64_t numel, uint32_t wg, const std::function<void(const std::string&)>& body) {
  int64_t groups = std::max<int64_t>(1, (numel + wg - 1) / wg);
  groups = std::min<int64_t>(groups, std::min<uint32_t>(lim.max_group_count_x, 65535));
  out.local = {wg, 1, 1};
  out.groups = {uint32_t(groups), 1, 1};
  std::string gid = global_id_x();
  m.for_range(gid, m.c_int(numel), m.c_int(groups * wg), [&](const std::string& i) {
    push_scope();
    body(i);
    pop_scope();
  });
}

// ---------------------------------------------------------------- vectorized pointwise kernels
// A kernel of pointwise ops only (no views: every input is read at the
// broadcast of the output index) whose outputs share one shape with a
// multiple of 4 elements per row: each invocation computes 4 contiguous
// elements of a row. A buffer contiguous in the innermost dimension whose
// element at the start of each group of 4 sits at a multiple of 4 (offset and
// outer strides multiples of 4) is loaded / stored as one vec4 (f32, f16,
// bf16, i32, bool); an input broadcast along the row is loaded once; any other
// input is loaded per element. Arithmetic stays per element in f32.

// Binding bi read or written at the broadcast of an index of shape `iter`
// moves as a vec4 for each group of 4 along the row.
bool Lowering::vec4_ok(int bi, const Shape& iter) const {
  const TensorType& t = bindings[size_t(bi)].type;
  if (t.dtype == DType::i64 || t.shape.empty() || t.shape.back() != iter.back()) return false;
  auto st = t.effective_strides();
  if (st.back() != 1 || t.offset % 4 != 0) return false;
  for (size_t d = 0; d + 1 < t.shape.size(); ++d)
    if (t.shape[d] != 1 && st[d] % 4 != 0) return false;
  return true;
}

static int elem_bytes(DType d) { return d == DType::f32 || d == DType::i32 ? 4 : d == DType::boolean ? 1 : 2; }

std::vector<std::string> Lowering::load_vec4(int bi, const Index& idx) {
  const Binding& b = bindings[size_t(bi)];
  std::string& var = vec_var_[bi];
  std::string v4 = m.t_vec(b.elem, 4);
  if (var.empty()) var = m.storage_buffer(bi, v4, 4 * elem_bytes(b.type.dtype));
  std::string e = idiv(storage_index(b, idx), 4);
  std::string raw = m.load(v4, m.ins(m.ptr("StorageBuffer", v4), "OpAccessChain " + var + " " + m.c_int(0) + " " + e));
  std::string f = m.t_float(), u = m.t_uint();
  std::string wide;  // a vector of 32-bit elements
  switch (b.type.dtype) {
    case DType::f16: wide = m.ins(m.t_vec(f, 4), "OpFConvert " + raw); break;
    case DType::bf16:
    case DType::boolean: wide = m.ins(m.t_vec(u, 4), "OpUConvert " + raw); break;
    default: wide = raw; break;
  }
  std::vector<std::string> lanes;
  for (int l = 0; l < 4; ++l) {
    std::string x = m.ins(b.type.dtype == DType::f16 ? f : b.type.dtype == DType::f32 ? f
                          : b.type.dtype == DType::i32 ? m.t_int() : u,
                          "OpCompositeExtract " + wide + " " + std::to_string(l));
    switch (b.type.dtype) {
      case DType::bf16: x = m.ins(f, "OpBitcast " + m.ins(u, "OpShiftLeftLogical " + x + " " + m.c_uint(16))); break;
      case DType::i32: x = m.ins(f, "OpConvertSToF " + x); break;
      case DType::boolean: x = m.ins(f, "OpConvertUToF " + x); break;
      default: break;
    }
    lanes.push_back(x);
  }
  return lanes;
}

void Lowering::store_vec4(int bi, const Index& idx, const std::vector<std::string>& v) {
  const Binding& b = bindings[size_t(bi)];
  std::string& var = vec_var_[bi];
  std::string v4 = m.t_vec(b.elem, 4);
  if (var.empty()) var = m.storage_buffer(bi, v4, 4 * elem_bytes(b.type.dtype));
  std::string f = m.t_float(), u = m.t_uint();
  std::vector<std::string> w;
  for (auto& x : v) {
    switch (b.type.dtype) {
      case DType::bf16: {  // round to nearest even on the f32 bits, keep the high half
        std::string bits = m.ins(u, "OpBitcast " + x);
        std::string lsb = m.ins(u, "OpBitwiseAnd " + m.ins(u, "OpShiftRightLogical " + bits + " " + m.c_uint(16)) +
                                       " " + m.c_uint(1));
        std::string r = m.ins(u, "OpIAdd " + bits + " " + m.ins(u, "OpIAdd " + lsb + " " + m.c_uint(0x7fff)));
        w.push_back(m.ins(u, "OpShiftRightLogical " + r + " " + m.c_uint(16)));
        break;
      }
      case DType::i32: w.push_back(to_int(x)); break;
      case DType::boolean: {
        std::string nz = m.ins(m.t_bool(), "OpFUnordNotEqual " + x + " " + m.c_float(0));
        w.push_back(m.ins(u, "OpSelect " + nz + " " + m.c_uint(1) + " " + m.c_uint(0)));
        break;
      }
      default: w.push_back(x); break;
    }
  }
  std::string lane_t = b.type.dtype == DType::f32 || b.type.dtype == DType::f16 ? f
                       : b.type.dtype == DType::i32                             ? m.t_int()
                                                                                : u;
  std::string wide = m.ins(m.t_vec(lane_t, 4), "OpCompositeConstruct " + w[0] + " " + w[1] + " " + w[2] + " " + w[3]);
  std::string raw = wide;
  if (b.type.dtype == DType::f16) {
    raw = m.ins(v4, "OpFConvert " + wide);
    m.decorate("OpDecorate " + raw + " FPRoundingMode RTE");
  } else if (b.type.dtype == DType::bf16 || b.type.dtype == DType::boolean) {
    raw = m.ins(v4, "OpUConvert " + wide);
  }
  std::string e = idiv(storage_index(b, idx), 4);
  m.store(m.ins(m.ptr("StorageBuffer", v4), "OpAccessChain " + var + " " + m.c_int(0) + " " + e), raw);
}

bool Lowering::lower_pointwise_vec4() {
  for (auto& n : g.nodes) {
    OpClass c = op_class(n.op);
    if (c != OpClass::input && c != OpClass::constant && c != OpClass::unary && c != OpClass::binary &&
        c != OpClass::ternary && c != OpClass::cast)
      return false;
  }
  const Shape& S = g[g.outputs[0].node].type.shape;
  if (S.empty() || S.back() % 4 != 0 || g[g.outputs[0].node].type.numel() < 4) return false;
  for (size_t j = 0; j < g.outputs.size(); ++j)
    if (g[g.outputs[j].node].type.shape != S || !vec4_ok(binding_of_output(j), S)) return false;
  // Inputs moved as vec4 (lanes supplied by an override); the others are
  // loaded per element (broadcast along the row: once, by the memo).
  std::vector<std::pair<NodeId, int>> vec_inputs;
  for (NodeId n : body_inputs_) {
    int bi = binding_of_input(n);
    if (vec4_ok(bi, S)) vec_inputs.push_back({n, bi});
  }
  vectorized_ = true;
  uint32_t wg = std::min<uint32_t>(256, lim.max_invocations);
  grid_stride(g[g.outputs[0].node].type.numel() / 4, wg, [&](const std::string& q) {
    Index idx0 = unravel(imul(q, 4), S);
    std::map<int, std::vector<std::string>> loaded;
    int lane = 0;
    for (const auto& vi : vec_inputs) {
      int bi = vi.second;
      overrides[vi.first] = [this, bi, &loaded, &lane, &idx0, &S](const Index&) {
        auto& v = loaded[bi];
        if (v.empty()) v = load_vec4(bi, broadcast_index(idx0, S, bindings[size_t(bi)].type.shape));
        return v[size_t(lane)];
      };
    }
    std::vector<std::vector<std::string>> vals(g.outputs.size());
    for (lane = 0; lane < 4; ++lane) {
      Index idx = idx0;
      idx.back() = iadd(idx0.back(), m.c_int(lane));
      for (size_t j = 0; j < g.outputs.size(); ++j) vals[j].push_back(value(g.outputs[j].node, idx));
    }
    for (const auto& vi : vec_inputs) overrides.erase(vi.first);
    for (size_t j = 0; j < g.outputs.size(); ++j) store_vec4(binding_of_output(j), idx0, vals[j]);
  });
  return true;
}

void Lowering::lower_pointwise() {
  if (g.outputs.empty()) fail("kernel writes nothing");
  if (lower_pointwise_vec4()) return;
  // Outputs of different sizes (horizontal fusion) share one grid over the
  // largest; the smaller ones are guarded.
  int64_t numel = 0;
  for (auto& o : g.outputs) numel = std::max(numel, g[o.node].type.numel());
  uint32_t wg = std::min<uint32_t>(256, lim.max_invocations);
  grid_stride(numel, wg, [&](const std::string& i) {
    for (size_t j = 0; j < g.outputs.size(); ++j) {
      const Shape& s = g[g.outputs[j].node].type.shape;
      auto write = [&] {
        Index idx = unravel(i, s);
        store(binding_of_output(j), idx, value(g.outputs[j].node, idx));
      };
      int64_t n = g[g.outputs[j].node].type.numel();
      if (n == numel) {
        write();
      } else {
        m.if_then(m.ins(m.t_bool(), "OpSLessThan " + i + " " + m.c_int(n)), [&] {
          push_scope();
          write();
          pop_scope();
        });
      }
    }
  });
}

// ---------------------------------------------------------------- entry
SpirvKernel Lowering::run() {
  bool has_template = false, has_reduce = false;
  for (auto& n : g.nodes) {
    has_template = has_template || n.op == Op::template_;
    has_reduce = has_reduce || is_reduction(n.op);
  }
  auto bytes = [&](int b) { return double(p.buffers[size_t(b)].type.numel() * dtype_bytes(p.buffers[size_t(b)].type.dtype)); };
  for (int b : k.reads) out.bytes += bytes(b);
  for (int b : k.writes) out.bytes += bytes(b);
  if (has_template) lower_template();
  else if (has_reduce) lower_reduction();
  else lower_pointwise();
  out.assembly = m.finish(out.local);
  if (vectorized_) out.assembly = "; egfuse: pointwise, 4 elements per invocation (vec4 loads and stores)\n" + out.assembly;
  out.binary = assemble_spirv(out.assembly, k.name);
  return out;
}

}  // namespace egfuse::spirv

namespace egfuse {

SpirvDeviceLimits generic_spirv_limits() { return SpirvDeviceLimits{}; }

SpirvKernel lower_spirv_kernel(const Plan& p, size_t index, const TemplateRegistry& reg,
                               const SpirvDeviceLimits& lim) {
  spirv::Lowering l(p, index, reg, lim);
  return l.run();
}

}  // namespace egfuse
