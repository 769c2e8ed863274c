// PTX text helpers and the generic expression emitter: every pointwise op,
// cast and view of a kernel body becomes PTX here, so any fused combination of
// them lowers the same way inside pointwise, reduction and template kernels.
#include <bit>
#include <cstring>

#include "backends/ptx/lower.hpp"

namespace egfuse::ptx {

std::string KernelText::param_ptr(const std::string& name) {
  params_.push_back(name);
  std::string raw = r64(), g = r64();
  ins("ld.param.u64 " + raw + ", [" + name + "]");
  ins("cvta.to.global.u64 " + g + ", " + raw);
  return g;
}

std::string KernelText::u32_const(uint32_t v) {
  auto it = consts_.find(v);
  if (it != consts_.end()) return it->second;
  std::string r = r32();
  ins("mov.u32 " + r + ", " + std::to_string(v));
  return consts_[v] = r;
}

std::string KernelText::finish(PtxTarget t, const std::string& extra_decls, int max_threads) const {
  std::ostringstream m;
  m << "// egfuse PTX backend\n.version " << (t == PtxTarget::sm_90a ? "8.0" : "7.8") << "\n.target "
    << ptx_target_name(t) << "\n.address_size 64\n\n";
  m << extra_decls;
  m << ".visible .entry " << entry_ << "(";
  for (size_t i = 0; i < params_.size(); ++i) m << (i ? ",\n\t" : "\n\t") << ".param .u64 " << params_[i];
  m << "\n)";
  if (max_threads > 0) m << "\n.maxntid " << max_threads << ", 1, 1";
  m << "\n{\n";
  auto decl = [&](const char* ty, const char* stem, int n) {
    if (n > 0) m << "\t.reg " << ty << " " << stem << "<" << n << ">;\n";
  };
  decl(".pred", "%p", np_);
  decl(".b16", "%h", nh_);
  decl(".b32", "%r", nr_);
  decl(".b64", "%rd", nrd_);
  decl(".f32", "%f", nf_);
  m << body_.str() << "\tret;\n}\n";
  return m.str();
}

VClass vclass(DType dt) {
  switch (dt) {
    case DType::f32:
    case DType::f16:
    case DType::bf16: return VClass::f32;
    case DType::i32: return VClass::i32;
    case DType::i64: return VClass::i64;
    case DType::boolean: return VClass::b;
  }
  return VClass::f32;
}

std::string fimm(float v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0f%08X", std::bit_cast<uint32_t>(v));
  return buf;
}

std::string sanitize_entry(const std::string& name) {
  std::string out;
  for (char c : name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "k_" + out;
  return out;
}

std::vector<NodeId> body_inputs(const Graph& g) {
  std::vector<NodeId> out;
  for (NodeId i = 0; i < g.size(); ++i)
    if (g[i].op == Op::input) out.push_back(i);
  return out;
}

bool depends_on(const Graph& g, NodeId from, NodeId target) {
  if (from == target) return true;
  for (NodeId i : g[from].inputs)
    if (depends_on(g, i, target)) return true;
  return false;
}

bool identity_indexed(const Graph& g, NodeId root, std::vector<NodeId>* inputs_seen) {
  const Node& n = g[root];
  if (n.op == Op::input) {
    if (inputs_seen) inputs_seen->push_back(root);
    return true;
  }
  if (n.op == Op::constant) return true;
  if (!is_pointwise(n.op)) return false;
  for (NodeId i : n.inputs) {
    const Node& in = g[i];
    if (in.op != Op::constant && in.type.shape != n.type.shape) return false;
    if (!identity_indexed(g, i, inputs_seen)) return false;
  }
  return true;
}

int64_t storage_extent(const TensorType& t) {
  int64_t e = t.offset + 1;
  auto st = t.effective_strides();
  for (size_t i = 0; i < t.shape.size(); ++i) {
    if (t.shape[i] == 0) return 0;
    e += (t.shape[i] - 1) * st[i];
  }
  return e;
}

bool needs_idx64(const Plan& p, const PlanKernel& k) {
  const int64_t lim = int64_t(1) << 31;
  for (int b : k.reads)
    if (storage_extent(p.buffers[size_t(b)].type) >= lim) return true;
  for (int b : k.writes)
    if (storage_extent(p.buffers[size_t(b)].type) >= lim) return true;
  for (auto& n : k.body.nodes)
    if (n.type.numel() >= lim) return true;
  return false;
}

// ---------------------------------------------------------------- ExprEmitter

void ExprEmitter::bind_input(NodeId n, std::string ptr, TensorType storage_type) {
  inputs_[n] = {std::move(ptr), std::move(storage_type)};
}

std::string ExprEmitter::zero() {
  if (zero_.empty()) zero_ = idx_imm(0);
  return zero_;
}

std::string ExprEmitter::idx_imm(int64_t v) {
  auto it = imms_.find(v);
  if (it != imms_.end()) return it->second;
  std::string r = new_idx();
  k_.ins("mov." + idx_type() + " " + r + ", " + std::to_string(v));
  return imms_[v] = r;
}

Index ExprEmitter::delinearize(const std::string& lin, const Shape& shape) {
  Index out(shape.size());
  std::string t = idx_type();
  int64_t inner = 1;
  for (int i = int(shape.size()) - 1; i >= 0; --i) {
    int64_t d = shape[size_t(i)];
    if (d == 1) {
      out[size_t(i)] = zero();
    } else {
      std::string q = lin;
      if (inner != 1) {
        q = new_idx();
        k_.ins("div." + t + " " + q + ", " + lin + ", " + std::to_string(inner));
      }
      bool outermost = true;
      for (int j = 0; j < i; ++j) outermost = outermost && shape[size_t(j)] == 1;
      if (outermost) {
        out[size_t(i)] = q;
      } else {
        std::string r = new_idx();
        k_.ins("rem." + t + " " + r + ", " + q + ", " + std::to_string(d));
        out[size_t(i)] = r;
      }
    }
    inner *= d;
  }
  return out;
}

std::string ExprEmitter::address(const std::string& ptr, const TensorType& t, const Index& idx) {
  auto st = t.effective_strides();
  std::string ty = idx_type();
  std::string off;
  for (size_t i = 0; i < idx.size(); ++i) {
    if (t.shape[i] == 1 || st[i] == 0 || idx[i] == zero_) continue;
    std::string nx = new_idx();
    if (off.empty()) {
      if (st[i] == 1) {
        off = idx[i];
        continue;
      }
      k_.ins("mul.lo." + ty + " " + nx + ", " + idx[i] + ", " + std::to_string(st[i]));
    } else {
      k_.ins("mad.lo." + ty + " " + nx + ", " + idx[i] + ", " + std::to_string(st[i]) + ", " + off);
    }
    off = nx;
  }
  int bytes = dtype_bytes(t.dtype);
  std::string addr = k_.r64();
  if (off.empty()) {
    k_.ins("add.s64 " + addr + ", " + ptr + ", " + std::to_string(t.offset * bytes));
    return addr;
  }
  std::string wide = k_.r64();
  if (idx64_) k_.ins("mul.lo.u64 " + wide + ", " + off + ", " + std::to_string(bytes));
  else k_.ins("mul.wide.u32 " + wide + ", " + off + ", " + std::to_string(bytes));
  k_.ins("add.s64 " + addr + ", " + ptr + ", " + wide);
  if (t.offset != 0) {
    std::string a2 = k_.r64();
    k_.ins("add.s64 " + a2 + ", " + addr + ", " + std::to_string(t.offset * bytes));
    addr = a2;
  }
  return addr;
}

Val ExprEmitter::load(const std::string& addr, DType dt) {
  switch (dt) {
    case DType::f32: {
      std::string f = k_.f32();
      k_.ins("ld.global.f32 " + f + ", [" + addr + "]");
      return {f, VClass::f32};
    }
    case DType::f16: {
      std::string h = k_.b16(), f = k_.f32();
      k_.ins("ld.global.b16 " + h + ", [" + addr + "]");
      k_.ins("cvt.f32.f16 " + f + ", " + h);
      return {f, VClass::f32};
    }
    case DType::bf16: {
      std::string r = k_.r32(), s = k_.r32(), f = k_.f32();
      k_.ins("ld.global.u16 " + r + ", [" + addr + "]");
      k_.ins("shl.b32 " + s + ", " + r + ", 16");
      k_.ins("mov.b32 " + f + ", " + s);
      return {f, VClass::f32};
    }
    case DType::i32: {
      std::string r = k_.r32();
      k_.ins("ld.global.s32 " + r + ", [" + addr + "]");
      return {r, VClass::i32};
    }
    case DType::i64: {
      std::string r = k_.r64();
      k_.ins("ld.global.s64 " + r + ", [" + addr + "]");
      return {r, VClass::i64};
    }
    case DType::boolean: {
      std::string r = k_.r32();
      k_.ins("ld.global.u8 " + r + ", [" + addr + "]");
      return {r, VClass::b};
    }
  }
  return {};
}

void ExprEmitter::store(const std::string& addr, DType dt, const Val& v0, const std::string& guard) {
  std::string g = guard.empty() ? "" : "@" + guard + " ";
  Val v = convert(v0, vclass(dt));
  switch (dt) {
    case DType::f32: k_.ins(g + "st.global.f32 [" + addr + "], " + v.reg); break;
    case DType::f16:
    case DType::bf16: {
      std::string h = k_.b16();
      k_.ins(std::string("cvt.rn.") + (dt == DType::f16 ? "f16" : "bf16") + ".f32 " + h + ", " + v.reg);
      k_.ins(g + "st.global.b16 [" + addr + "], " + h);
      break;
    }
    case DType::i32: k_.ins(g + "st.global.s32 [" + addr + "], " + v.reg); break;
    case DType::i64: k_.ins(g + "st.global.s64 [" + addr + "], " + v.reg); break;
    case DType::boolean: k_.ins(g + "st.global.u8 [" + addr + "], " + v.reg); break;
  }
}

Val ExprEmitter::convert(const Val& v, VClass to) {
  if (v.cls == to) return v;
  std::string d;
  switch (to) {
    case VClass::f32:
      d = k_.f32();
      if (v.cls == VClass::i64) k_.ins("cvt.rn.f32.s64 " + d + ", " + v.reg);
      else if (v.cls == VClass::i32) k_.ins("cvt.rn.f32.s32 " + d + ", " + v.reg);
      else k_.ins("cvt.rn.f32.u32 " + d + ", " + v.reg);
      break;
    case VClass::i32:
      d = k_.r32();
      if (v.cls == VClass::f32) k_.ins("cvt.rzi.s32.f32 " + d + ", " + v.reg);
      else if (v.cls == VClass::i64) k_.ins("cvt.u32.u64 " + d + ", " + v.reg);
      else k_.ins("mov.b32 " + d + ", " + v.reg);
      break;
    case VClass::i64:
      d = k_.r64();
      if (v.cls == VClass::f32) k_.ins("cvt.rzi.s64.f32 " + d + ", " + v.reg);
      else if (v.cls == VClass::i32) k_.ins("cvt.s64.s32 " + d + ", " + v.reg);
      else k_.ins("cvt.u64.u32 " + d + ", " + v.reg);
      break;
    case VClass::b: {
      std::string p = k_.pred();
      d = k_.r32();
      if (v.cls == VClass::f32) k_.ins("setp.neu.f32 " + p + ", " + v.reg + ", 0f00000000");
      else if (v.cls == VClass::i64) k_.ins("setp.ne.s64 " + p + ", " + v.reg + ", 0");
      else k_.ins("setp.ne.s32 " + p + ", " + v.reg + ", 0");
      k_.ins("selp.u32 " + d + ", 1, 0, " + p);
      break;
    }
  }
  return {d, to};
}

Val ExprEmitter::round_to(const Val& v, DType dt) {
  if (v.cls != VClass::f32 || (dt != DType::f16 && dt != DType::bf16)) return v;
  std::string h = k_.b16(), f = k_.f32();
  if (dt == DType::f16) {
    k_.ins("cvt.rn.f16.f32 " + h + ", " + v.reg);
    k_.ins("cvt.f32.f16 " + f + ", " + h);
  } else {
    std::string r = k_.r32(), s = k_.r32();
    k_.ins("cvt.rn.bf16.f32 " + h + ", " + v.reg);
    k_.ins("cvt.u32.u16 " + r + ", " + h);
    k_.ins("shl.b32 " + s + ", " + r + ", 16");
    k_.ins("mov.b32 " + f + ", " + s);
  }
  return {f, VClass::f32};
}

Val ExprEmitter::unary_f32(Op op, const std::string& x) {
  auto F = [&] { return k_.f32(); };
  auto ex2 = [&](const std::string& a) {  // 2^a
    std::string r = F();
    k_.ins("ex2.approx.ftz.f32 " + r + ", " + a);
    return r;
  };
  auto expf = [&](const std::string& a) {
    std::string t = F();
    k_.ins("mul.rn.f32 " + t + ", " + a + ", " + fimm(1.44269504088896341f));
    return ex2(t);
  };
  auto rcp = [&](const std::string& a) {
    std::string r = F();
    k_.ins("rcp.rn.f32 " + r + ", " + a);
    return r;
  };
  auto sigmoid = [&](const std::string& a) {
    std::string n = F(), d = F();
    k_.ins("neg.f32 " + n + ", " + a);
    std::string e = expf(n);
    k_.ins("add.rn.f32 " + d + ", " + e + ", " + fimm(1.0f));
    return rcp(d);
  };
  // tanh(a) = sign(a) * (1 - 2 / (exp(2|a|) + 1)): no overflow, f32-accurate
  // where tanh.approx (2^-11) is not.
  auto tanhf = [&](const std::string& a) {
    std::string ab = F(), two = F(), d = F(), q = F(), m = F(), r = F();
    k_.ins("abs.f32 " + ab + ", " + a);
    k_.ins("add.rn.f32 " + two + ", " + ab + ", " + ab);
    std::string e = expf(two);
    k_.ins("add.rn.f32 " + d + ", " + e + ", " + fimm(1.0f));
    k_.ins("div.rn.f32 " + q + ", " + fimm(2.0f) + ", " + d);
    k_.ins("sub.rn.f32 " + m + ", " + fimm(1.0f) + ", " + q);
    k_.ins("copysign.f32 " + r + ", " + a + ", " + m);
    return r;
  };
  // erf: Abramowitz-Stegun 7.1.26 refined (max abs error 1.5e-7).
  auto erff = [&](const std::string& a) {
    std::string ab = F(), t0 = F(), t = F(), x2 = F(), nx2 = F(), poly = F(), y = F(), r = F();
    k_.ins("abs.f32 " + ab + ", " + a);
    k_.ins("fma.rn.f32 " + t0 + ", " + ab + ", " + fimm(0.3275911f) + ", " + fimm(1.0f));
    k_.ins("rcp.rn.f32 " + t + ", " + t0);
    k_.ins("mov.f32 " + poly + ", " + fimm(1.061405429f));
    const float c[] = {-1.453152027f, 1.421413741f, -0.284496736f, 0.254829592f};
    for (float ci : c) {
      std::string np = F();
      k_.ins("fma.rn.f32 " + np + ", " + poly + ", " + t + ", " + fimm(ci));
      poly = np;
    }
    std::string pt = F();
    k_.ins("mul.rn.f32 " + pt + ", " + poly + ", " + t);
    k_.ins("mul.rn.f32 " + x2 + ", " + ab + ", " + ab);
    k_.ins("neg.f32 " + nx2 + ", " + x2);
    std::string e = expf(nx2);
    k_.ins("mul.rn.f32 " + y + ", " + pt + ", " + e);
    std::string o = F();
    k_.ins("sub.rn.f32 " + o + ", " + fimm(1.0f) + ", " + y);
    k_.ins("copysign.f32 " + r + ", " + a + ", " + o);
    return r;
  };
  std::string r;
  switch (op) {
    case Op::neg: r = F(); k_.ins("neg.f32 " + r + ", " + x); break;
    case Op::abs: r = F(); k_.ins("abs.f32 " + r + ", " + x); break;
    case Op::exp: r = expf(x); break;
    case Op::log: {
      std::string l = F();
      k_.ins("lg2.approx.f32 " + l + ", " + x);
      r = F();
      k_.ins("mul.rn.f32 " + r + ", " + l + ", " + fimm(0.693147180559945309f));
      break;
    }
    case Op::sqrt: r = F(); k_.ins("sqrt.rn.f32 " + r + ", " + x); break;
    case Op::rsqrt: {
      std::string s = F();
      k_.ins("sqrt.rn.f32 " + s + ", " + x);
      r = rcp(s);
      break;
    }
    case Op::sin: r = F(); k_.ins("sin.approx.f32 " + r + ", " + x); break;
    case Op::cos: r = F(); k_.ins("cos.approx.f32 " + r + ", " + x); break;
    case Op::tanh: r = tanhf(x); break;
    case Op::sigmoid: r = sigmoid(x); break;
    case Op::relu: {
      r = F();
      std::string p = k_.pred();
      k_.ins("setp.gt.f32 " + p + ", " + x + ", 0f00000000");
      k_.ins("selp.f32 " + r + ", " + x + ", 0f00000000, " + p);
      break;
    }
    case Op::gelu: {  // 0.5 x (1 + erf(x / sqrt 2))
      std::string s = F(), o = F(), h = F();
      k_.ins("mul.rn.f32 " + s + ", " + x + ", " + fimm(0.707106781186547524f));
      std::string e = erff(s);
      k_.ins("add.rn.f32 " + o + ", " + e + ", " + fimm(1.0f));
      k_.ins("mul.rn.f32 " + h + ", " + x + ", " + fimm(0.5f));
      r = F();
      k_.ins("mul.rn.f32 " + r + ", " + h + ", " + o);
      break;
    }
    case Op::gelu_tanh: {  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      std::string x2 = F(), x3 = F(), in = F(), s = F(), o = F(), h = F();
      k_.ins("mul.rn.f32 " + x2 + ", " + x + ", " + x);
      k_.ins("mul.rn.f32 " + x3 + ", " + x2 + ", " + x);
      k_.ins("fma.rn.f32 " + in + ", " + x3 + ", " + fimm(0.044715f) + ", " + x);
      k_.ins("mul.rn.f32 " + s + ", " + in + ", " + fimm(0.797884560802865355f));
      std::string t = tanhf(s);
      k_.ins("add.rn.f32 " + o + ", " + t + ", " + fimm(1.0f));
      k_.ins("mul.rn.f32 " + h + ", " + x + ", " + fimm(0.5f));
      r = F();
      k_.ins("mul.rn.f32 " + r + ", " + h + ", " + o);
      break;
    }
    case Op::silu: {
      std::string s = sigmoid(x);
      r = F();
      k_.ins("mul.rn.f32 " + r + ", " + x + ", " + s);
      break;
    }
    case Op::erf: r = erff(x); break;
    case Op::reciprocal: r = rcp(x); break;
    default: throw Error("PTX: unary op '" + std::string(op_name(op)) + "' has no f32 lowering");
  }
  return {r, VClass::f32};
}

static std::string cmp_name(Op op) {
  switch (op) {
    case Op::eq: return "eq";
    case Op::ne: return "ne";
    case Op::lt: return "lt";
    case Op::le: return "le";
    case Op::gt: return "gt";
    default: return "ge";
  }
}

Val ExprEmitter::binary(Op op, const Val& a0, const Val& b0, DType out) {
  bool logical = op == Op::logical_and || op == Op::logical_or;
  bool cmp = op == Op::eq || op == Op::ne || op == Op::lt || op == Op::le || op == Op::gt || op == Op::ge;
  if (logical) {
    Val a = convert(a0, VClass::b), b = convert(b0, VClass::b);
    std::string r = k_.r32();
    k_.ins(std::string(op == Op::logical_and ? "and" : "or") + ".b32 " + r + ", " + a.reg + ", " + b.reg);
    return {r, VClass::b};
  }
  // Operate in the wider of the two classes.
  auto rank = [](VClass c) { return c == VClass::b ? 0 : c == VClass::i32 ? 1 : c == VClass::i64 ? 2 : 3; };
  VClass c = rank(a0.cls) >= rank(b0.cls) ? a0.cls : b0.cls;
  if (!cmp) c = vclass(out) == VClass::b ? c : vclass(out);
  if (c == VClass::b) c = VClass::i32;
  Val a = convert(a0, c), b = convert(b0, c);
  std::string ty = c == VClass::f32 ? "f32" : c == VClass::i64 ? "s64" : "s32";
  auto R = [&] { return c == VClass::f32 ? k_.f32() : c == VClass::i64 ? k_.r64() : k_.r32(); };
  if (cmp) {
    std::string p = k_.pred(), r = k_.r32();
    k_.ins("setp." + cmp_name(op) + "." + ty + " " + p + ", " + a.reg + ", " + b.reg);
    k_.ins("selp.u32 " + r + ", 1, 0, " + p);
    return {r, VClass::b};
  }
  std::string r = R();
  bool f = c == VClass::f32;
  switch (op) {
    case Op::add: k_.ins(std::string("add") + (f ? ".rn." : ".") + ty + " " + r + ", " + a.reg + ", " + b.reg); break;
    case Op::sub: k_.ins(std::string("sub") + (f ? ".rn." : ".") + ty + " " + r + ", " + a.reg + ", " + b.reg); break;
    case Op::mul: k_.ins(std::string(f ? "mul.rn." : "mul.lo.") + ty + " " + r + ", " + a.reg + ", " + b.reg); break;
    case Op::div: k_.ins(std::string(f ? "div.rn." : "div.") + ty + " " + r + ", " + a.reg + ", " + b.reg); break;
    case Op::max: k_.ins("max." + ty + " " + r + ", " + a.reg + ", " + b.reg); break;
    case Op::min: k_.ins("min." + ty + " " + r + ", " + a.reg + ", " + b.reg); break;
    case Op::pow: {
      if (!f) throw Error("PTX: integer pow is not supported");
      // |a|^b = 2^(b log2|a|); negative bases take the sign of an odd integer exponent.
      std::string ab = k_.f32(), l = k_.f32(), m = k_.f32(), e = k_.f32(), bi = k_.f32(), half = k_.f32(),
                  hf = k_.f32(), neg = k_.f32(), p_int = k_.pred(), p_odd = k_.pred(), p_neg = k_.pred(),
                  p_flip = k_.pred(), p_nan = k_.pred(), r1 = k_.f32(), r2 = k_.f32();
      k_.ins("abs.f32 " + ab + ", " + a.reg);
      k_.ins("lg2.approx.f32 " + l + ", " + ab);
      k_.ins("mul.rn.f32 " + m + ", " + l + ", " + b.reg);
      k_.ins("ex2.approx.f32 " + e + ", " + m);
      k_.ins("cvt.rzi.f32.f32 " + bi + ", " + b.reg);
      k_.ins("setp.eq.f32 " + p_int + ", " + bi + ", " + b.reg);
      k_.ins("mul.rn.f32 " + half + ", " + b.reg + ", 0f3F000000");
      k_.ins("cvt.rzi.f32.f32 " + hf + ", " + half);
      k_.ins("setp.ne.and.f32 " + p_odd + ", " + hf + ", " + half + ", " + p_int);
      k_.ins("setp.lt.f32 " + p_neg + ", " + a.reg + ", 0f00000000");
      k_.ins("and.pred " + p_flip + ", " + p_neg + ", " + p_odd);
      k_.ins("neg.f32 " + neg + ", " + e);
      k_.ins("selp.f32 " + r1 + ", " + neg + ", " + e + ", " + p_flip);
      k_.ins("setp.lt.and.f32 " + p_nan + ", " + a.reg + ", 0f00000000, !" + p_int);  // negative base, fractional exponent
      k_.ins("selp.f32 " + r2 + ", 0f7FFFFFFF, " + r1 + ", " + p_nan);
      r = r2;
      break;
    }
    default: throw Error("PTX: binary op '" + std::string(op_name(op)) + "' is not supported");
  }
  return {r, c};
}

Index ExprEmitter::broadcast_index(const Shape& from, const Shape& to, const Index& idx) {
  // `from` is the consumer's shape (idx's), `to` the operand's (right-aligned).
  if (from == to) return idx;
  Index out(to.size());
  size_t lead = from.size() - to.size();
  for (size_t i = 0; i < to.size(); ++i) out[i] = (to[i] == 1) ? zero() : idx[i + lead];
  return out;
}

std::string ExprEmitter::linearize(const Index& idx, const Shape& shape) {
  std::string lin;
  auto cs = contiguous_strides(shape);
  for (size_t i = 0; i < idx.size(); ++i) {
    if (shape[i] == 1) continue;
    std::string nx = new_idx();
    if (lin.empty()) {
      if (cs[i] == 1) {
        lin = idx[i];
        continue;
      }
      k_.ins("mul.lo." + idx_type() + " " + nx + ", " + idx[i] + ", " + std::to_string(cs[i]));
    } else {
      k_.ins("mad.lo." + idx_type() + " " + nx + ", " + idx[i] + ", " + std::to_string(cs[i]) + ", " + lin);
    }
    lin = nx;
  }
  return lin.empty() ? zero() : lin;
}

// The index of an epilogue output whose element reads the root at `ri`: the
// shared steps (backends/common/epilogue_index.hpp) as index arithmetic.
Index ExprEmitter::epilogue_index(const std::vector<EpilogueStep>& steps, const Index& ri) {
  Index idx = ri;
  for (const EpilogueStep& s : steps) {
    switch (s.kind) {
      case EpilogueStep::Kind::same: break;
      case EpilogueStep::Kind::reshape: idx = delinearize(linearize(idx, s.from), s.to); break;
      case EpilogueStep::Kind::permute: {
        Index r(s.perm.size());
        for (size_t d = 0; d < s.perm.size(); ++d) r[d] = idx[size_t(s.perm[d])];
        idx = std::move(r);
        break;
      }
      case EpilogueStep::Kind::unbroadcast: {
        Index r(s.to.size() - s.from.size(), zero());
        r.insert(r.end(), idx.begin(), idx.end());
        idx = std::move(r);
        break;
      }
    }
  }
  return idx;
}

Index ExprEmitter::view_index(const Node& n, const Index& idx) {
  const TensorType& src = g_[n.inputs[0]].type;
  switch (n.op) {
    case Op::reshape: {
      // Linearize over the view's shape, delinearize over the source's.
      std::string lin = linearize(idx, n.type.shape);
      return delinearize(lin, src.shape);
    }
    case Op::permute: {
      auto& perm = std::get<PermuteAttrs>(n.attrs).perm;
      Index out(src.shape.size());
      for (size_t i = 0; i < perm.size(); ++i) out[size_t(perm[i])] = idx[i];
      return out;
    }
    case Op::expand: return broadcast_index(n.type.shape, src.shape, idx);
    case Op::slice: {
      auto a = std::get<SliceAttrs>(n.attrs);
      if (a.dim < 0) a.dim += src.rank();
      Index out = idx;
      std::string r = new_idx();
      k_.ins("mad.lo." + idx_type() + " " + r + ", " + idx[size_t(a.dim)] + ", " + std::to_string(a.step) + ", " +
             idx_imm(a.start));
      out[size_t(a.dim)] = r;
      return out;
    }
    default: break;
  }
  throw Error("PTX: not a view op");
}

Val ExprEmitter::emit(NodeId id, const Index& idx) {
  std::string key = std::to_string(id);
  for (auto& c : idx) key += "," + c;
  auto it = memo_.find(key);
  if (it != memo_.end()) return it->second;
  Val v;
  if (override_fn) {
    if (auto o = override_fn(id, idx)) return memo_[key] = *o;
  }
  const Node& n = g_[id];
  switch (op_class(n.op)) {
    case OpClass::input: {
      auto in = inputs_.find(id);
      if (in == inputs_.end()) throw Error("PTX: body input '" + n.name + "' has no buffer");
      v = load(address(in->second.first, in->second.second, idx), n.type.dtype);
      break;
    }
    case OpClass::constant: {
      double c = std::get<ConstantAttrs>(n.attrs).value;
      VClass cls = vclass(n.type.dtype);
      if (cls == VClass::f32) {
        v = {k_.f32(), cls};
        k_.ins("mov.f32 " + v.reg + ", " + fimm(float(c)));
      } else if (cls == VClass::i64) {
        v = {k_.r64(), cls};
        k_.ins("mov.s64 " + v.reg + ", " + std::to_string(int64_t(c)));
      } else {
        v = {k_.r32(), cls};
        k_.ins("mov.s32 " + v.reg + ", " + std::to_string(int64_t(c)));
      }
      break;
    }
    case OpClass::unary: {
      Val a = emit(n.inputs[0], idx);
      if (n.op == Op::logical_not) {
        Val b = convert(a, VClass::b);
        v = {k_.r32(), VClass::b};
        k_.ins("xor.b32 " + v.reg + ", " + b.reg + ", 1");
      } else if (a.cls == VClass::f32) {
        v = unary_f32(n.op, a.reg);
      } else {
        Val ai = convert(a, a.cls == VClass::b ? VClass::i32 : a.cls);
        std::string ty = ai.cls == VClass::i64 ? "s64" : "s32";
        v = {ai.cls == VClass::i64 ? k_.r64() : k_.r32(), ai.cls};
        if (n.op == Op::neg) k_.ins("neg." + ty + " " + v.reg + ", " + ai.reg);
        else if (n.op == Op::abs) k_.ins("abs." + ty + " " + v.reg + ", " + ai.reg);
        else if (n.op == Op::relu) k_.ins("max." + ty + " " + v.reg + ", " + ai.reg + ", 0");
        else throw Error("PTX: integer " + std::string(op_name(n.op)) + " is not supported");
        v = convert(v, vclass(n.type.dtype));
      }
      break;
    }
    case OpClass::binary: {
      Val a = emit(n.inputs[0], broadcast_index(n.type.shape, g_[n.inputs[0]].type.shape, idx));
      Val b = emit(n.inputs[1], broadcast_index(n.type.shape, g_[n.inputs[1]].type.shape, idx));
      v = binary(n.op, a, b, n.type.dtype);
      break;
    }
    case OpClass::ternary: {
      Val c = convert(emit(n.inputs[0], broadcast_index(n.type.shape, g_[n.inputs[0]].type.shape, idx)), VClass::b);
      Val a = convert(emit(n.inputs[1], broadcast_index(n.type.shape, g_[n.inputs[1]].type.shape, idx)),
                      vclass(n.type.dtype));
      Val b = convert(emit(n.inputs[2], broadcast_index(n.type.shape, g_[n.inputs[2]].type.shape, idx)),
                      vclass(n.type.dtype));
      std::string p = k_.pred();
      k_.ins("setp.ne.u32 " + p + ", " + c.reg + ", 0");
      VClass cls = vclass(n.type.dtype);
      v = {cls == VClass::f32 ? k_.f32() : cls == VClass::i64 ? k_.r64() : k_.r32(), cls};
      std::string ty = cls == VClass::f32 ? "f32" : cls == VClass::i64 ? "b64" : "b32";
      k_.ins("selp." + ty + " " + v.reg + ", " + a.reg + ", " + b.reg + ", " + p);
      break;
    }
    case OpClass::cast: v = convert(emit(n.inputs[0], idx), vclass(n.type.dtype)); break;
    case OpClass::view: v = emit(n.inputs[0], view_index(n, idx)); break;
    default:
      throw Error("PTX: node '" + n.name + "' (" + std::string(op_name(n.op)) +
                  ") cannot be computed inline at an element");
  }
  if (n.op != Op::input) v = round_to(v, n.type.dtype);
  return memo_[key] = v;
}

}  // namespace egfuse::ptx

namespace egfuse::ptx {

BoundBuffers bind_buffers(KernelText& k, ExprEmitter& e, const Plan& p, const PlanKernel& kern,
                          PtxLaunch& launch) {
  auto ins = body_inputs(kern.body);
  if (ins.size() != kern.reads.size())
    throw Error("PTX: kernel '" + kern.name + "' body has " + std::to_string(ins.size()) + " inputs but reads " +
                std::to_string(kern.reads.size()) + " buffers");
  if (kern.body.outputs.size() != kern.writes.size())
    throw Error("PTX: kernel '" + kern.name + "' body has " + std::to_string(kern.body.outputs.size()) +
                " outputs but writes " + std::to_string(kern.writes.size()) + " buffers");
  int n = 0;
  BoundBuffers out;
  for (size_t i = 0; i < ins.size(); ++i) {
    std::string r = k.param_ptr("p" + std::to_string(n++));
    e.bind_input(ins[i], r, p.buffers[size_t(kern.reads[i])].type);
    launch.buffers.push_back(kern.reads[i]);
    out.reads.push_back(r);
  }
  for (int w : kern.writes) {
    out.writes.push_back(k.param_ptr("p" + std::to_string(n++)));
    launch.buffers.push_back(w);
  }
  return out;
}

std::string global_thread_id(KernelText& k, ExprEmitter& e) {
  std::string c = k.r32(), nt = k.r32(), t = k.r32();
  k.ins("mov.u32 " + c + ", %ctaid.x");
  k.ins("mov.u32 " + nt + ", %ntid.x");
  k.ins("mov.u32 " + t + ", %tid.x");
  if (!e.idx64()) {
    std::string g = k.r32();
    k.ins("mad.lo.u32 " + g + ", " + c + ", " + nt + ", " + t);
    return g;
  }
  std::string w = k.r64(), t64 = k.r64(), g = k.r64();
  k.ins("mul.wide.u32 " + w + ", " + c + ", " + nt);
  k.ins("cvt.u64.u32 " + t64 + ", " + t);
  k.ins("add.u64 " + g + ", " + w + ", " + t64);
  return g;
}

bool vector_ok(const TensorType& t, const Shape& iter_shape, int vec) {
  if (t.shape != iter_shape) return false;
  TensorType z = t;
  z.offset = 0;
  if (!z.contiguous() || t.offset % vec != 0) return false;
  return t.dtype == DType::f32 || t.dtype == DType::f16 || t.dtype == DType::bf16 || t.dtype == DType::i32;
}

// Splits `bytes` into 16/8/4-byte pieces of b32 words.
static std::vector<int> pieces(int bytes) {
  std::vector<int> out;
  while (bytes > 0) {
    int w = bytes >= 16 ? 4 : bytes >= 8 ? 2 : 1;
    out.push_back(w);
    bytes -= 4 * w;
  }
  return out;
}

std::vector<Val> vector_load(KernelText& k, const std::string& addr, DType dt, int n) {
  int bytes = n * dtype_bytes(dt);
  std::vector<std::string> words;
  int off = 0;
  for (int w : pieces(bytes)) {
    std::vector<std::string> rs;
    for (int i = 0; i < w; ++i) rs.push_back(k.r32());
    std::string list = rs[0];
    if (w > 1) {
      list = "{";
      for (int i = 0; i < w; ++i) list += (i ? ", " : "") + rs[size_t(i)];
      list += "}";
    }
    k.ins(std::string("ld.global.nc") + (w == 4 ? ".v4" : w == 2 ? ".v2" : "") + ".b32 " + list + ", [" + addr +
          "+" + std::to_string(off) + "]");
    off += 4 * w;
    words.insert(words.end(), rs.begin(), rs.end());
  }
  std::vector<Val> out;
  for (int i = 0; i < n; ++i) {
    if (dt == DType::f32) {
      std::string f = k.f32();
      k.ins("mov.b32 " + f + ", " + words[size_t(i)]);
      out.push_back({f, VClass::f32});
    } else if (dt == DType::i32) {
      out.push_back({words[size_t(i)], VClass::i32});
    } else {
      const std::string& w = words[size_t(i / 2)];
      std::string r = k.r32(), f = k.f32();
      if (dt == DType::bf16) {
        if (i % 2 == 0) k.ins("shl.b32 " + r + ", " + w + ", 16");
        else k.ins("and.b32 " + r + ", " + w + ", -65536");
        k.ins("mov.b32 " + f + ", " + r);
      } else {
        std::string lo = k.b16(), hi = k.b16();
        k.ins("mov.b32 {" + lo + ", " + hi + "}, " + w);
        k.ins("cvt.f32.f16 " + f + ", " + (i % 2 == 0 ? lo : hi));
      }
      out.push_back({f, VClass::f32});
    }
  }
  return out;
}

void vector_store(KernelText& k, ExprEmitter& e, const std::string& addr, DType dt, const std::vector<Val>& v) {
  std::vector<std::string> words;
  for (size_t i = 0; i < v.size(); ++i) {
    if (dt == DType::f32 || dt == DType::i32) {
      words.push_back(e.convert(v[i], vclass(dt)).reg);
    } else if (i % 2 == 0) {
      std::string w = k.r32();
      Val lo = e.convert(v[i], VClass::f32), hi = e.convert(v[i + 1], VClass::f32);
      k.ins(std::string("cvt.rn.") + (dt == DType::bf16 ? "bf16x2" : "f16x2") + ".f32 " + w + ", " + hi.reg + ", " +
            lo.reg);
      words.push_back(w);
    }
  }
  int bytes = int(v.size()) * dtype_bytes(dt);
  size_t at = 0;
  int off = 0;
  for (int w : pieces(bytes)) {
    std::string list = words[at];
    if (w > 1) {
      list = "{";
      for (int i = 0; i < w; ++i) list += (i ? ", " : "") + words[at + size_t(i)];
      list += "}";
    }
    k.ins(std::string("st.global") + (w == 4 ? ".v4" : w == 2 ? ".v2" : "") + ".b32 [" + addr + "+" +
          std::to_string(off) + "], " + list);
    at += size_t(w);
    off += 4 * w;
  }
}

}  // namespace egfuse::ptx
