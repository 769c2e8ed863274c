// Hand-built kernel plans for the PTX backend's tests and benchmarks, and a
// small double-precision reference evaluator of plan bodies (independent of
// the interpreter, so that these tests judge the backend on their own).
#pragma once

#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "egfuse/backend.hpp"
#include "egfuse/plan.hpp"
#include "egfuse/templates.hpp"

namespace egfuse::ptxtest {

// The built-in kinds plus the mutating kinds of rules/templates.rules, declared
// here so the fixtures need no rule files.
inline const TemplateRegistry& registry() {
  static const TemplateRegistry reg = [] {
    TemplateRegistry r;
    auto v = [](const char* n) { return DimExpr::variable(n); };
    std::string err;
    TemplateKind kv;
    kv.name = "kv_cache_update";
    kv.inputs = {{"cache", {v("S"), v("D")}, {}, false, true},
                 {"idx", {v("T")}, DType::i64, false, false},
                 {"src", {v("T"), v("D")}, {}, true, false}};
    kv.out_shape = {v("T"), v("D")};
    kv.impl = "index_copy";
    r.add(kv, err);
    TemplateKind kv2 = kv;
    kv2.name = "kv_cache_update_pair";
    kv2.inputs = {{"k", {v("S"), v("D")}, {}, false, true},
                  {"v", {v("S"), v("D")}, {}, false, true},
                  {"idx", {v("T")}, DType::i64, false, false},
                  {"ks", {v("T"), v("D")}, {}, true, false},
                  {"vs", {v("T"), v("D")}, {}, true, false}};
    kv2.impl = "index_copy_pair";
    r.add(kv2, err);
    TemplateKind acc;
    acc.name = "mm_accumulate";
    acc.inputs = {{"c", {v("M"), v("N")}, {}, false, true},
                  {"a", {v("M"), v("K")}, {}, true, false},
                  {"b", {v("K"), v("N")}, {}, true, false}};
    acc.out_shape = {v("M"), v("N")};
    acc.impl = "gemm_accumulate";
    r.add(acc, err);
    return r;
  }();
  return reg;
}

// Builds a plan kernel by kernel. Buffers are named; a body's input nodes name
// the buffers they read, its outputs the buffers they write.
struct PlanMaker {
  Plan plan;
  std::map<std::string, int> ids;
  const TemplateRegistry& reg = registry();

  int input(const std::string& name, TensorType t, bool is_mutable = false) {
    PlanBuffer b;
    b.name = name;
    b.graph_node = name;
    b.type = std::move(t);
    b.role = BufferRole::input;
    b.is_mutable_input = is_mutable;
    b.storage = int(plan.buffers.size());
    plan.buffers.push_back(b);
    plan.inputs.push_back(ids[name] = int(plan.buffers.size()) - 1);
    return ids[name];
  }
  // A buffer sharing the storage of `of` (a mutation output).
  int alias(const std::string& name, const std::string& of) {
    PlanBuffer b = plan.buffers[size_t(ids.at(of))];
    b.name = b.graph_node = name;
    b.role = BufferRole::alias;
    b.alias_of = ids.at(of);
    b.is_mutable_input = false;
    plan.buffers.push_back(b);
    return ids[name] = int(plan.buffers.size()) - 1;
  }
  // body: built by `f` over a Builder; inputs named after buffers; outputs
  // named after buffers (created as temporaries when new).
  void kernel(const std::string& name, KernelKind kind, const std::function<void(Builder&)>& f) {
    PlanKernel k;
    k.name = name;
    k.kind = kind;
    Builder bld(k.body, reg);
    f(bld);
    for (NodeId n : k.body.inputs()) k.reads.push_back(ids.at(k.body[n].name));
    for (auto& o : k.body.outputs) {
      if (!ids.count(o.name)) {
        PlanBuffer b;
        b.name = b.graph_node = o.name;
        b.type = k.body[o.node].type;
        b.role = BufferRole::temp;
        b.storage = int(plan.buffers.size());
        plan.buffers.push_back(b);
        ids[o.name] = int(plan.buffers.size()) - 1;
      }
      k.writes.push_back(ids.at(o.name));
    }
    plan.kernels.push_back(std::move(k));
  }
  void output(const std::string& name) {
    int b = ids.at(name);
    if (plan.buffers[size_t(b)].role == BufferRole::temp) plan.buffers[size_t(b)].role = BufferRole::output;
    plan.outputs.push_back({name, b});
  }
  // An input node inside a body, typed like the buffer of that name.
  NodeId in(Builder& b, const std::string& name) const {
    if (auto f = b.graph().find(name)) return *f;
    return b.input(name, plan.buffers[size_t(ids.at(name))].type);
  }
};

inline TensorType tt(DType dt, Shape s) { return TensorType{dt, std::move(s), {}, 0}; }

// ---------------------------------------------------------------- reference
inline double round_dt(DType dt, double v) {
  switch (dt) {
    case DType::f32: return double(float(v));
    case DType::f16: return double(f16_bits_to_f32(f32_to_f16_bits(float(v))));  // no _Float16 in clang 14 on x86
    case DType::bf16: {
      float f = float(v);
      uint32_t x;
      std::memcpy(&x, &f, 4);
      if ((x & 0x7fffffff) > 0x7f800000) return v;
      x += 0x7fff + ((x >> 16) & 1);
      x &= 0xffff0000u;
      std::memcpy(&f, &x, 4);
      return f;
    }
    case DType::i32: return double(int32_t(v));
    case DType::i64: return double(int64_t(v));
    case DType::boolean: return v != 0 ? 1 : 0;
  }
  return v;
}

inline std::vector<int64_t> coords_of(int64_t lin, const Shape& s) {
  std::vector<int64_t> c(s.size());
  for (int i = int(s.size()) - 1; i >= 0; --i) {
    c[size_t(i)] = s[size_t(i)] ? lin % s[size_t(i)] : 0;
    lin = s[size_t(i)] ? lin / s[size_t(i)] : 0;
  }
  return c;
}
inline int64_t linear_of(const std::vector<int64_t>& c, const Shape& s) {
  int64_t l = 0;
  for (size_t i = 0; i < s.size(); ++i) l = l * s[i] + c[i];
  return l;
}
inline int64_t storage_offset(const TensorType& t, const std::vector<int64_t>& c) {
  auto st = t.effective_strides();
  int64_t o = t.offset;
  for (size_t i = 0; i < c.size(); ++i) o += c[i] * st[i];
  return o;
}

// Evaluates a plan on the host: storage per root buffer, kernels in order.
struct Reference {
  const Plan& p;
  const TemplateRegistry& reg;
  std::map<int, std::vector<double>> storage;  // by root buffer id

  int root(int b) const {
    while (p.buffers[size_t(b)].role == BufferRole::alias && p.buffers[size_t(b)].alias_of >= 0)
      b = p.buffers[size_t(b)].alias_of;
    return b;
  }
  std::vector<double>& store_of(int b) {
    auto& s = storage[root(b)];
    int64_t need = 1;
    const TensorType& t = p.buffers[size_t(b)].type;
    need = t.offset + 1;
    auto st = t.effective_strides();
    for (size_t i = 0; i < t.shape.size(); ++i) need += (t.shape[i] - 1) * st[i];
    if (int64_t(s.size()) < need) s.resize(size_t(need), std::nan(""));
    return s;
  }
  std::vector<double> read(int b) {
    const TensorType& t = p.buffers[size_t(b)].type;
    auto& s = store_of(b);
    std::vector<double> out(size_t(t.numel()));
    for (int64_t i = 0; i < t.numel(); ++i) out[size_t(i)] = s[size_t(storage_offset(t, coords_of(i, t.shape)))];
    return out;
  }
  void write(int b, const std::vector<double>& v) {
    const TensorType& t = p.buffers[size_t(b)].type;
    auto& s = store_of(b);
    for (int64_t i = 0; i < t.numel(); ++i)
      s[size_t(storage_offset(t, coords_of(i, t.shape)))] = round_dt(t.dtype, v[size_t(i)]);
  }

  static double unary(Op op, double x) {
    switch (op) {
      case Op::neg: return -x;
      case Op::abs: return std::fabs(x);
      case Op::exp: return std::exp(x);
      case Op::log: return std::log(x);
      case Op::sqrt: return std::sqrt(x);
      case Op::rsqrt: return 1 / std::sqrt(x);
      case Op::sin: return std::sin(x);
      case Op::cos: return std::cos(x);
      case Op::tanh: return std::tanh(x);
      case Op::sigmoid: return 1 / (1 + std::exp(-x));
      case Op::relu: return x > 0 ? x : 0;
      case Op::gelu: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
      case Op::gelu_tanh: return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
      case Op::silu: return x / (1 + std::exp(-x));
      case Op::erf: return std::erf(x);
      case Op::reciprocal: return 1 / x;
      case Op::logical_not: return x == 0;
      default: return NAN;
    }
  }
  static double binary(Op op, double a, double b) {
    switch (op) {
      case Op::add: return a + b;
      case Op::sub: return a - b;
      case Op::mul: return a * b;
      case Op::div: return a / b;
      case Op::max: return std::max(a, b);
      case Op::min: return std::min(a, b);
      case Op::pow: return std::pow(a, b);
      case Op::eq: return a == b;
      case Op::ne: return a != b;
      case Op::lt: return a < b;
      case Op::le: return a <= b;
      case Op::gt: return a > b;
      case Op::ge: return a >= b;
      case Op::logical_and: return a != 0 && b != 0;
      case Op::logical_or: return a != 0 || b != 0;
      default: return NAN;
    }
  }
  static std::vector<int64_t> bcast(const std::vector<int64_t>& c, const Shape& to) {
    std::vector<int64_t> o(to.size());
    size_t lead = c.size() - to.size();
    for (size_t i = 0; i < to.size(); ++i) o[i] = to[i] == 1 ? 0 : c[i + lead];
    return o;
  }

  void run_kernel(const PlanKernel& k) {
    const Graph& g = k.body;
    std::vector<std::vector<double>> val(g.size());
    auto ins = g.inputs();
    std::map<NodeId, int> in_buf;
    for (size_t i = 0; i < ins.size(); ++i) in_buf[ins[i]] = k.reads[i];
    auto at = [&](NodeId n, const std::vector<int64_t>& c) { return val[n][size_t(linear_of(c, g[n].type.shape))]; };
    std::map<NodeId, std::vector<double>> mutated;  // mutation outputs' values
    for (NodeId id = 0; id < g.size(); ++id) {
      const Node& n = g[id];
      const Shape& s = n.type.shape;
      int64_t N = n.type.numel();
      auto& v = val[id];
      v.assign(size_t(N), 0);
      switch (op_class(n.op)) {
        case OpClass::input: v = read(in_buf.at(id)); break;
        case OpClass::constant:
          for (auto& x : v) x = std::get<ConstantAttrs>(n.attrs).value;
          break;
        case OpClass::unary:
          for (int64_t i = 0; i < N; ++i) v[size_t(i)] = unary(n.op, val[n.inputs[0]][size_t(i)]);
          break;
        case OpClass::binary:
        case OpClass::ternary:
          for (int64_t i = 0; i < N; ++i) {
            auto c = coords_of(i, s);
            std::vector<double> a;
            for (NodeId x : n.inputs) a.push_back(at(x, bcast(c, g[x].type.shape)));
            v[size_t(i)] = n.op == Op::where ? (a[0] != 0 ? a[1] : a[2]) : binary(n.op, a[0], a[1]);
          }
          break;
        case OpClass::cast: v = val[n.inputs[0]]; break;
        case OpClass::view: {
          const Shape& src = g[n.inputs[0]].type.shape;
          for (int64_t i = 0; i < N; ++i) {
            auto c = coords_of(i, s);
            std::vector<int64_t> sc;
            if (n.op == Op::reshape) sc = coords_of(i, src);
            else if (n.op == Op::permute) {
              auto& perm = std::get<PermuteAttrs>(n.attrs).perm;
              sc.resize(src.size());
              for (size_t d = 0; d < perm.size(); ++d) sc[size_t(perm[d])] = c[d];
            } else if (n.op == Op::expand) sc = bcast(c, src);
            else {
              auto a = std::get<SliceAttrs>(n.attrs);
              if (a.dim < 0) a.dim += int64_t(src.size());
              sc = c;
              sc[size_t(a.dim)] = a.start + c[size_t(a.dim)] * a.step;
            }
            v[size_t(i)] = at(n.inputs[0], sc);
          }
          break;
        }
        case OpClass::reduce: {
          const Shape& src = g[n.inputs[0]].type.shape;
          auto& a = std::get<ReduceAttrs>(n.attrs);
          std::vector<bool> red(src.size(), false);
          for (auto ax : a.axes) red[size_t(ax < 0 ? ax + int64_t(src.size()) : ax)] = true;
          double init = n.op == Op::amax ? -INFINITY : n.op == Op::amin ? INFINITY : n.op == Op::prod ? 1 : 0;
          for (auto& x : v) x = init;
          int64_t cnt = 1;
          for (size_t d = 0; d < src.size(); ++d)
            if (red[d]) cnt *= src[d];
          for (int64_t i = 0; i < g[n.inputs[0]].type.numel(); ++i) {
            auto c = coords_of(i, src);
            std::vector<int64_t> oc;
            for (size_t d = 0; d < src.size(); ++d)
              if (!red[d]) oc.push_back(c[d]);
              else if (a.keepdim) oc.push_back(0);
            double x = val[n.inputs[0]][size_t(i)];
            double& o = v[size_t(linear_of(oc, s))];
            if (n.op == Op::amax) o = std::max(o, x);
            else if (n.op == Op::amin) o = std::min(o, x);
            else if (n.op == Op::prod) o *= x;
            else o += x;
          }
          if (n.op == Op::mean)
            for (auto& x : v) x /= double(cnt);
          break;
        }
        case OpClass::template_: {
          const TemplateKind* kind = reg.find(std::get<TemplateAttrs>(n.attrs).kind);
          const std::string& impl = kind->impl;
          if (impl == "index_copy" || impl == "index_copy_pair") {
            bool pair = impl == "index_copy_pair";
            NodeId idx = n.inputs[pair ? 2 : 1];
            std::vector<std::pair<size_t, size_t>> cp = pair ? std::vector<std::pair<size_t, size_t>>{{0, 3}, {1, 4}}
                                                             : std::vector<std::pair<size_t, size_t>>{{0, 2}};
            for (auto [d, sidx] : cp) {
              std::vector<double> dst = val[n.inputs[d]];
              const Shape& ss = g[n.inputs[sidx]].type.shape;
              for (int64_t t = 0; t < ss[0]; ++t)
                for (int64_t j = 0; j < ss[1]; ++j)
                  dst[size_t(int64_t(val[idx][size_t(t)]) * ss[1] + j)] = val[n.inputs[sidx]][size_t(t * ss[1] + j)];
              mutated[NodeId(d) + 1000000 * (id + 1)] = dst;
            }
            v = val[n.inputs[cp[0].second]];
            break;
          }
          NodeId a = n.inputs[impl == "gemm" ? 0 : 1], b = n.inputs[impl == "gemm" ? 1 : 2];
          const Shape& as = g[a].type.shape;
          const Shape& bs = g[b].type.shape;
          bool batched = as.size() == 3;
          int64_t B = batched ? as[0] : 1, M = as[as.size() - 2], K = as.back(), Nn = bs.back();
          for (int64_t z = 0; z < B; ++z)
            for (int64_t m = 0; m < M; ++m)
              for (int64_t j = 0; j < Nn; ++j) {
                double acc = 0;
                for (int64_t q = 0; q < K; ++q)
                  acc += val[a][size_t((z * M + m) * K + q)] * val[b][size_t((z * K + q) * Nn + j)];
                if (impl == "addmm") acc += at(n.inputs[0], bcast(batched ? std::vector<int64_t>{z, m, j}
                                                                          : std::vector<int64_t>{m, j},
                                                                  g[n.inputs[0]].type.shape));
                if (impl == "gemm_accumulate") acc += val[n.inputs[0]][size_t((z * M + m) * Nn + j)];
                v[size_t((z * M + m) * Nn + j)] = acc;
              }
          break;
        }
        case OpClass::mutation_output: {
          NodeId t = n.inputs[0];
          int64_t mi = std::get<MutationOutputAttrs>(n.attrs).input;
          auto it = mutated.find(NodeId(mi) + 1000000 * (t + 1));
          v = it != mutated.end() ? it->second : val[t];
          break;
        }
        default: break;
      }
      for (auto& x : v) x = round_dt(n.type.dtype, x);
    }
    for (size_t o = 0; o < g.outputs.size(); ++o) write(k.writes[o], val[g.outputs[o].node]);
  }

  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs) {
    for (int b : p.inputs) write(b, inputs.at(p.buffers[size_t(b)].name).data);
    for (auto& k : p.kernels) run_kernel(k);
    std::map<std::string, Tensor> out;
    for (auto& [nm, b] : p.outputs) {
      Tensor t;
      t.type = tt(p.buffers[size_t(b)].type.dtype, p.buffers[size_t(b)].type.shape);
      t.data = read(b);
      out[nm] = t;
    }
    return out;
  }
};

inline std::map<std::string, Tensor> make_inputs(const Plan& p, uint64_t seed, int64_t index_bound = 0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  std::map<std::string, Tensor> out;
  for (int b : p.inputs) {
    const PlanBuffer& pb = p.buffers[size_t(b)];
    Tensor t;
    t.type = tt(pb.type.dtype, pb.type.shape);
    t.data.resize(size_t(pb.type.numel()));
    for (size_t i = 0; i < t.data.size(); ++i) {
      if (pb.type.dtype == DType::i64 || pb.type.dtype == DType::i32)
        t.data[i] = index_bound ? double((i * 7 + 3) % uint64_t(index_bound)) : double(int(rng() % 9) - 4);
      else t.data[i] = round_dt(pb.type.dtype, u(rng));
    }
    out[pb.name] = t;
  }
  return out;
}

// ---------------------------------------------------------------- cases
struct Case {
  std::string name;
  Plan plan;
  std::string expect_strategy;  // substring of kernel 0's strategy ("" = any)
  int64_t index_bound = 0;
};

inline std::vector<Case> cases() {
  std::vector<Case> out;
  using B = Builder;
  auto add = [&](std::string name, std::string strategy, std::function<void(PlanMaker&)> f, int64_t ib = 0) {
    PlanMaker pm;
    f(pm);
    out.push_back({std::move(name), std::move(pm.plan), std::move(strategy), ib});
  };
  add("pointwise_vec_f32", "pointwise/vec4", [](PlanMaker& m) {
    m.input("x", tt(DType::f32, {64, 96}));
    m.input("y", tt(DType::f32, {64, 96}));
    m.kernel("k0_add_gelu", KernelKind::pointwise, [&](B& b) {
      auto s = b.binary(Op::add, m.in(b, "x"), m.in(b, "y"));
      b.output(b.unary(Op::gelu, s), "out");
      b.output(b.unary(Op::tanh, s), "out2");
    });
    m.output("out");
    m.output("out2");
  });
  add("pointwise_scalar_tail", "pointwise/scalar", [](PlanMaker& m) {
    m.input("x", tt(DType::f32, {37, 27}));
    m.kernel("k0_silu_exp", KernelKind::pointwise, [&](B& b) {
      auto x = m.in(b, "x");
      auto e = b.unary(Op::exp, x);
      auto s = b.unary(Op::sigmoid, x);
      b.output(b.binary(Op::mul, b.binary(Op::sub, e, s), b.constant(0.5, DType::f32)), "out");
    });
    m.output("out");
  });
  add("pointwise_bf16_vec8", "pointwise/vec8", [](PlanMaker& m) {
    m.input("x", tt(DType::bf16, {8, 512}));
    m.input("y", tt(DType::bf16, {8, 512}));
    m.kernel("k0_mul_silu", KernelKind::pointwise, [&](B& b) {
      b.output(b.unary(Op::silu, b.binary(Op::mul, m.in(b, "x"), m.in(b, "y"))), "out");
    });
    m.output("out");
  });
  add("pointwise_broadcast_views", "pointwise/vec4", [](PlanMaker& m) {
    m.input("x", tt(DType::f32, {24, 40}));
    m.input("bias", tt(DType::f32, {24}));
    m.kernel("k0_permute_bias_relu", KernelKind::pointwise, [&](B& b) {
      auto xt = b.permute(m.in(b, "x"), {1, 0});  // [40, 24]
      auto s = b.binary(Op::add, xt, m.in(b, "bias"));
      auto sl = b.slice(s, 0, 3, 39, 2);  // [18, 24]
      b.output(b.reshape(b.unary(Op::relu, sl), {18 * 24}), "out");
    });
    m.output("out");
  });
  add("pointwise_strided_input", "pointwise/vec4", [](PlanMaker& m) {
    TensorType t = tt(DType::f32, {20, 16});
    t.strides = {1, 20};  // a transposed view of a [16, 20] storage
    m.input("x", t);
    m.input("w", tt(DType::f32, {20, 16}));
    m.kernel("k0_strided_mul", KernelKind::pointwise, [&](B& b) {
      auto c = b.binary(Op::gt, m.in(b, "x"), b.constant(0, DType::f32));
      b.output(b.op(Op::where, {c, m.in(b, "x"), b.binary(Op::mul, m.in(b, "w"), m.in(b, "x"))}), "out");
    });
    m.output("out");
  });
  add("every_pointwise_op", "pointwise/scalar", [](PlanMaker& m) {
    m.input("x", tt(DType::f32, {5, 13}));
    m.input("y", tt(DType::f32, {5, 13}));
    m.input("i", tt(DType::i32, {5, 13}));
    m.input("l", tt(DType::i64, {13}));
    m.kernel("k0_every_op", KernelKind::pointwise, [&](B& b) {
      auto x = m.in(b, "x"), y = m.in(b, "y"), i = m.in(b, "i"), l = m.in(b, "l");
      auto pos = b.binary(Op::add, b.unary(Op::abs, x), b.constant(0.5, DType::f32));
      int n = 0;
      auto out = [&](NodeId v) { b.output(v, "o" + std::to_string(n++)); };
      for (Op op : {Op::neg, Op::abs, Op::exp, Op::sin, Op::cos, Op::tanh, Op::sigmoid, Op::relu, Op::gelu,
                    Op::gelu_tanh, Op::silu, Op::erf})
        out(b.unary(op, x));
      for (Op op : {Op::log, Op::sqrt, Op::rsqrt, Op::reciprocal}) out(b.unary(op, pos));
      for (Op op : {Op::add, Op::sub, Op::mul, Op::div, Op::max, Op::min}) out(b.binary(op, x, y));
      out(b.binary(Op::pow, pos, y));
      out(b.binary(Op::pow, x, b.constant(3, DType::f32)));
      auto c = b.binary(Op::lt, x, y);
      for (Op op : {Op::eq, Op::ne, Op::le, Op::gt, Op::ge}) out(b.binary(op, x, y));
      out(b.binary(Op::logical_or, c, b.unary(Op::logical_not, b.binary(Op::gt, x, b.constant(0, DType::f32)))));
      out(b.binary(Op::logical_and, c, b.binary(Op::ge, i, b.constant(0, DType::i32))));
      out(b.op(Op::where, {c, x, y}));
      for (Op op : {Op::neg, Op::abs, Op::relu}) out(b.unary(op, i));
      out(b.binary(Op::mul, b.binary(Op::add, i, i), b.binary(Op::sub, i, b.constant(2, DType::i32))));
      out(b.binary(Op::max, i, l));              // i32 with i64: i64
      out(b.binary(Op::add, b.cast(i, DType::f32), x));
      out(b.cast(b.binary(Op::mul, x, b.constant(7, DType::f32)), DType::i32));
      out(b.cast(b.cast(x, DType::f16), DType::f32));
      out(b.cast(x, DType::bf16));
    });
    for (int k = 0; k < 41; ++k) m.output("o" + std::to_string(k));
  });
  add("index_copy_mutation", "template/index_copy", [](PlanMaker& m) {
    m.input("cache", tt(DType::f32, {10, 8}), true);
    m.input("idx", tt(DType::i64, {4}));
    m.input("src", tt(DType::f32, {4, 8}));
    m.alias("cache_new", "cache");
    m.kernel("k0_index_copy", KernelKind::template_, [&](B& b) {
      auto t = b.templ("kv_cache_update", {b.input("cache", m.plan.buffers[0].type, true), m.in(b, "idx"), m.in(b, "src")});
      b.output(mutation_outputs(b.graph(), t).at(0), "cache_new");
      b.output(b.unary(Op::relu, t), "rows");
    });
    m.output("rows");
    m.output("cache_new");
  }, 10);
  add("index_copy_pair", "template/index_copy_pair", [](PlanMaker& m) {
    m.input("k", tt(DType::bf16, {6, 16}), true);
    m.input("v", tt(DType::bf16, {6, 16}), true);
    m.input("idx", tt(DType::i64, {3}));
    m.input("ks", tt(DType::f32, {3, 16}));
    m.input("vs", tt(DType::bf16, {3, 16}));
    m.alias("k_new", "k");
    m.alias("v_new", "v");
    m.kernel("k0_kv_pair", KernelKind::template_, [&](B& b) {
      auto kin = b.input("k", m.plan.buffers[0].type, true);
      auto vin = b.input("v", m.plan.buffers[1].type, true);
      auto ks = b.cast(b.unary(Op::neg, m.in(b, "ks")), DType::bf16);  // prologue
      auto t = b.templ("kv_cache_update_pair", {kin, vin, m.in(b, "idx"), ks, m.in(b, "vs")});
      auto muts = mutation_outputs(b.graph(), t);
      b.output(muts.at(0), "k_new");
      b.output(muts.at(1), "v_new");
    });
    m.output("k_new");
    m.output("v_new");
  }, 6);
  add("mm_accumulate_inplace", "gemm/mma.sync", [](PlanMaker& m) {
    m.input("c", tt(DType::bf16, {40, 24}), true);
    m.input("a", tt(DType::bf16, {40, 64}));
    m.input("b", tt(DType::bf16, {64, 24}));
    m.alias("c_new", "c");
    m.kernel("k0_mm_acc", KernelKind::template_, [&](B& b) {
      auto t = b.templ("mm_accumulate", {b.input("c", m.plan.buffers[0].type, true), m.in(b, "a"), m.in(b, "b")});
      b.output(mutation_outputs(b.graph(), t).at(0), "c_new");
      b.output(b.unary(Op::tanh, t), "act");
    });
    m.output("c_new");
    m.output("act");
  });
  add("reduction_sum_scalar", "reduction/warp-row/scalar", [](PlanMaker& m) {
    m.input("x", tt(DType::f32, {300, 517}));
    m.kernel("k0_sum", KernelKind::reduction, [&](B& b) {
      b.output(b.reduce(Op::sum, b.unary(Op::exp, m.in(b, "x")), {1}), "out");
    });
    m.output("out");
  });
  add("reduction_amax_block_vec", "reduction/block-row/vec4", [](PlanMaker& m) {
    m.input("x", tt(DType::f32, {64, 4096}));
    m.kernel("k0_amax", KernelKind::reduction, [&](B& b) {
      b.output(b.unary(Op::neg, b.reduce(Op::amax, m.in(b, "x"), {1}, true)), "out");
    });
    m.output("out");
  });
  add("reduction_mean_axis0", "reduction/warp-row/scalar", [](PlanMaker& m) {
    m.input("x", tt(DType::bf16, {37, 50}));
    m.kernel("k0_mean0", KernelKind::reduction, [&](B& b) {
      b.output(b.reduce(Op::mean, m.in(b, "x"), {0}), "out");
    });
    m.output("out");
  });
  add("softmax_3_kernels", "reduction/warp-row/vec4", [](PlanMaker& m) {
    m.input("x", tt(DType::f32, {128, 1000}));
    m.kernel("k0_max", KernelKind::reduction, [&](B& b) {
      b.output(b.reduce(Op::amax, m.in(b, "x"), {1}, true), "mx");
    });
    m.kernel("k1_sumexp", KernelKind::reduction, [&](B& b) {
      auto e = b.unary(Op::exp, b.binary(Op::sub, m.in(b, "x"), m.in(b, "mx")));
      b.output(b.reduce(Op::sum, e, {1}, true), "den");
    });
    m.kernel("k2_div", KernelKind::pointwise, [&](B& b) {
      auto e = b.unary(Op::exp, b.binary(Op::sub, m.in(b, "x"), m.in(b, "mx")));
      b.output(b.binary(Op::div, e, m.in(b, "den")), "out");
    });
    m.output("out");
  });
  add("softmax_1_kernel", "reduction/warp-row/vec4/phases2", [](PlanMaker& m) {
    // max, then sum of exp(x - max), then the normalized store: three passes of one kernel.
    m.input("x", tt(DType::f32, {128, 1000}));
    m.kernel("k0_softmax", KernelKind::reduction, [&](B& b) {
      auto x = m.in(b, "x");
      auto mx = b.reduce(Op::amax, x, {1}, true);
      auto e = b.unary(Op::exp, b.binary(Op::sub, x, mx));
      auto den = b.reduce(Op::sum, e, {1}, true);
      b.output(b.binary(Op::div, e, den), "out");
    });
    m.output("out");
  });
  add("layernorm_block_phases", "reduction/block-row/vec8/phases2", [](PlanMaker& m) {
    // Rows longer than 1024 (a block per row): every warp needs each phase's result.
    m.input("x", tt(DType::bf16, {24, 2048}));
    m.input("w", tt(DType::bf16, {2048}));
    m.kernel("k0_layernorm", KernelKind::reduction, [&](B& b) {
      auto x = b.cast(m.in(b, "x"), DType::f32);
      auto mu = b.reduce(Op::mean, x, {1}, true);
      auto xc = b.binary(Op::sub, x, mu);
      auto var = b.reduce(Op::mean, b.binary(Op::mul, xc, xc), {1}, true);
      auto rs = b.unary(Op::rsqrt, var);
      b.output(b.cast(b.binary(Op::mul, b.binary(Op::mul, xc, rs), b.cast(m.in(b, "w"), DType::f32)), DType::bf16), "y");
      b.output(rs, "rstd");
    });
    m.output("y");
    m.output("rstd");
  });
  add("logsoftmax_middle_axis", "reduction/warp-row/scalar/phases2", [](PlanMaker& m) {
    m.input("x", tt(DType::f32, {6, 300, 5}));
    m.kernel("k0_logsoftmax", KernelKind::reduction, [&](B& b) {
      auto x = m.in(b, "x");
      auto mx = b.reduce(Op::amax, x, {1}, true);
      auto d = b.binary(Op::sub, x, mx);
      auto z = b.reduce(Op::sum, b.unary(Op::exp, d), {1}, true);
      b.output(b.binary(Op::sub, d, b.unary(Op::log, z)), "out");
    });
    m.output("out");
  });
  add("mm_bias_gelu_bf16_masked", "gemm/mma.sync.m16n8k16 128x128x32 s4 A:cp.async B:cp.async", [](PlanMaker& m) {
    m.input("a", tt(DType::bf16, {200, 72}));
    m.input("b", tt(DType::bf16, {72, 136}));
    m.input("bias", tt(DType::bf16, {136}));
    m.kernel("k0_mm_bias_gelu", KernelKind::template_, [&](B& b) {
      auto mm = b.templ("mm", {m.in(b, "a"), m.in(b, "b")});
      b.output(b.unary(Op::gelu, b.binary(Op::add, mm, m.in(b, "bias"))), "out");
    });
    m.output("out");
  });
  add("mm_prologue_odd_k", "gemm/mma.sync.m16n8k16 128x128x32 s4 A:ld+cvt B:ld+cvt", [](PlanMaker& m) {
    m.input("x", tt(DType::f32, {70, 45}));
    m.input("b", tt(DType::bf16, {45, 33}));
    m.kernel("k0_cast_mm", KernelKind::template_, [&](B& b) {
      auto a = b.cast(b.unary(Op::relu, m.in(b, "x")), DType::bf16);
      auto mm = b.templ("mm", {a, m.in(b, "b")});
      b.output(mm, "out");
      b.output(b.cast(mm, DType::f32), "out_f32");
    });
    m.output("out");
    m.output("out_f32");
  });
  add("addmm_f16", "gemm/mma.sync", [](PlanMaker& m) {
    m.input("bias", tt(DType::f16, {64}));
    m.input("a", tt(DType::f16, {130, 256}));
    m.input("b", tt(DType::f16, {256, 64}));
    m.kernel("k0_addmm", KernelKind::template_, [&](B& b) {
      b.output(b.templ("addmm", {m.in(b, "bias"), m.in(b, "a"), m.in(b, "b")}), "out");
    });
    m.output("out");
  });
  add("bmm_bf16", "gemm/mma.sync", [](PlanMaker& m) {
    m.input("a", tt(DType::bf16, {3, 64, 32}));
    m.input("b", tt(DType::bf16, {3, 32, 48}));
    m.kernel("k0_bmm", KernelKind::template_, [&](B& b) {
      b.output(b.templ("bmm", {m.in(b, "a"), m.in(b, "b")}), "out");
    });
    m.output("out");
  });
  add("mm_f32_simt", "gemm/simt-f32", [](PlanMaker& m) {
    m.input("a", tt(DType::f32, {33, 20}));
    m.input("b", tt(DType::f32, {20, 17}));
    m.kernel("k0_mm_f32", KernelKind::template_, [&](B& b) {
      b.output(b.unary(Op::sigmoid, b.templ("mm", {m.in(b, "a"), m.in(b, "b")})), "out");
    });
    m.output("out");
  });
  add("mm_transposed_b", "A:cp.async B:ld+cvt", [](PlanMaker& m) {
    m.input("a", tt(DType::bf16, {96, 64}));
    TensorType bt = tt(DType::bf16, {64, 80});
    bt.strides = {1, 64};  // weight stored [80, 64], used transposed
    m.input("b", bt);
    m.kernel("k0_mm_bt", KernelKind::template_, [&](B& b) {
      b.output(b.templ("mm", {m.in(b, "a"), m.in(b, "b")}), "out");
    });
    m.output("out");
  });
  return out;
}

inline Case find_case(const std::string& name) {
  for (auto& c : cases())
    if (c.name == name) return c;
  throw Error("no fixture named " + name);
}

}  // namespace egfuse::ptxtest
