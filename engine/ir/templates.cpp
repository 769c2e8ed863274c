// Template kinds and their registry (built-ins: mm, bmm, addmm).
#include "egfuse/templates.hpp"

#include <algorithm>

namespace egfuse {

int64_t DimExpr::eval(const std::map<std::string, int64_t>& env) const {
  switch (kind) {
    case Kind::num: return num;
    case Kind::var: {
      auto it = env.find(var);
      if (it == env.end()) throw Error("shape variable '" + var + "' is not bound");
      return it->second;
    }
    case Kind::add: return kids[0].eval(env) + kids[1].eval(env);
    case Kind::sub: return kids[0].eval(env) - kids[1].eval(env);
    case Kind::mul: return kids[0].eval(env) * kids[1].eval(env);
    case Kind::div: {
      int64_t d = kids[1].eval(env);
      if (d == 0) throw Error("division by zero in '" + str() + "'");
      return kids[0].eval(env) / d;
    }
  }
  return 0;
}

static int precedence(DimExpr::Kind k) {
  return (k == DimExpr::Kind::add || k == DimExpr::Kind::sub) ? 1 : (k == DimExpr::Kind::num || k == DimExpr::Kind::var) ? 3 : 2;
}

std::string DimExpr::str() const {
  switch (kind) {
    case Kind::num: return std::to_string(num);
    case Kind::var: return var;
    default: break;
  }
  const char* op = kind == Kind::add ? "+" : kind == Kind::sub ? "-" : kind == Kind::mul ? "*" : "/";
  auto side = [&](const DimExpr& e, bool right) {
    bool paren = precedence(e.kind) < precedence(kind) ||
                 (right && precedence(e.kind) == precedence(kind) && (kind == Kind::sub || kind == Kind::div));
    return paren ? "(" + e.str() + ")" : e.str();
  };
  return side(kids[0], false) + op + side(kids[1], true);
}

std::vector<std::string> known_template_impls() {
  return {"addmm", "gemm", "gemm_accumulate", "index_copy", "index_copy_pair"};
}

std::vector<int64_t> TemplateKind::mutated_inputs() const {
  std::vector<int64_t> out;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].mutated) out.push_back(int64_t(i));
  return out;
}

std::vector<int64_t> TemplateKind::prologue_inputs() const {
  std::vector<int64_t> out;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].prologue && !inputs[i].mutated) out.push_back(int64_t(i));
  return out;
}

std::optional<int64_t> TemplateKind::input_index(const std::string& n) const {
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].name == n) return int64_t(i);
  return std::nullopt;
}

namespace {
std::vector<DimExpr> dims(std::initializer_list<const char*> vars) {
  std::vector<DimExpr> out;
  for (auto v : vars) out.push_back(DimExpr::variable(v));
  return out;
}
DimExpr product(std::initializer_list<DimExpr> xs) {
  auto it = xs.begin();
  DimExpr e = *it++;
  for (; it != xs.end(); ++it) e = DimExpr::binary(DimExpr::Kind::mul, e, *it);
  return e;
}
}  // namespace

TemplateRegistry::TemplateRegistry() {
  using V = DimExpr;
  std::string err;
  TemplateKind mm;
  mm.name = "mm";
  mm.inputs = {{"a", dims({"M", "K"}), {}, true, false}, {"b", dims({"K", "N"}), {}, true, false}};
  mm.out_shape = dims({"M", "N"});
  mm.impl = "gemm";
  mm.flops = product({V::number(2), V::variable("M"), V::variable("N"), V::variable("K")});
  mm.doc = "Matrix multiply a[M,K] @ b[K,N] with f32 accumulation.";
  add(mm, err);

  TemplateKind bmm = mm;
  bmm.name = "bmm";
  bmm.inputs = {{"a", dims({"B", "M", "K"}), {}, true, false}, {"b", dims({"B", "K", "N"}), {}, true, false}};
  bmm.out_shape = dims({"B", "M", "N"});
  bmm.flops = product({V::number(2), V::variable("B"), V::variable("M"), V::variable("N"), V::variable("K")});
  bmm.doc = "Batched matrix multiply a[B,M,K] @ b[B,K,N].";
  add(bmm, err);

  TemplateKind addmm = mm;
  addmm.name = "addmm";
  addmm.inputs = {{"bias", dims({"N"}), {}, false, false},
                  {"a", dims({"M", "K"}), {}, true, false},
                  {"b", dims({"K", "N"}), {}, true, false}};
  addmm.impl = "addmm";
  addmm.doc = "bias[N] + a[M,K] @ b[K,N].";
  add(addmm, err);
}

const TemplateRegistry& TemplateRegistry::builtin() {
  static const TemplateRegistry reg;
  return reg;
}

bool TemplateRegistry::add(TemplateKind k, std::string& error) {
  if (kinds_.count(k.name)) {
    error = "template kind '" + k.name + "' is already declared";
    return false;
  }
  auto impls = known_template_impls();
  if (std::find(impls.begin(), impls.end(), k.impl) == impls.end()) {
    std::string list;
    for (auto& i : impls) list += (list.empty() ? "" : ", ") + i;
    error = "template kind '" + k.name + "' has unknown impl '" + k.impl + "' (known: " + list + ")";
    return false;
  }
  for (auto& in : k.inputs)
    if (in.mutated && in.prologue) {
      error = "template kind '" + k.name + "': input '" + in.name + "' is mutated and cannot allow a prologue";
      return false;
    }
  kinds_.emplace(k.name, std::move(k));
  return true;
}

const TemplateKind* TemplateRegistry::find(const std::string& name) const {
  auto it = kinds_.find(name);
  return it == kinds_.end() ? nullptr : &it->second;
}

std::vector<std::string> TemplateRegistry::names() const {
  std::vector<std::string> out;
  for (auto& [n, k] : kinds_) out.push_back(n);
  return out;
}

std::optional<TemplateBinding> TemplateRegistry::bind(const TemplateKind& k, const std::vector<TensorType>& ins,
                                                      std::string& error) const {
  TemplateBinding b;
  if (ins.size() != k.inputs.size()) {
    error = "expects " + std::to_string(k.inputs.size()) + " inputs, got " + std::to_string(ins.size());
    return std::nullopt;
  }
  std::optional<DType> float_dtype;
  for (size_t i = 0; i < ins.size(); ++i) {
    const TemplateInput& p = k.inputs[i];
    const TensorType& t = ins[i];
    if (t.shape.size() != p.shape.size()) {
      error = "input '" + p.name + "' must have rank " + std::to_string(p.shape.size()) + ", got " + to_string(t);
      return std::nullopt;
    }
    if (p.dtype && *p.dtype != t.dtype) {
      error = "input '" + p.name + "' must be " + std::string(dtype_name(*p.dtype)) + ", got " + to_string(t);
      return std::nullopt;
    }
    if (!p.dtype && is_float(t.dtype)) {
      if (float_dtype && *float_dtype != t.dtype) {
        error = "input '" + p.name + "' is " + std::string(dtype_name(t.dtype)) + " but an earlier input is " +
                std::string(dtype_name(*float_dtype));
        return std::nullopt;
      }
      float_dtype = t.dtype;
    }
    for (size_t d = 0; d < t.shape.size(); ++d) {
      const DimExpr& e = p.shape[d];
      if (e.kind == DimExpr::Kind::var) {
        auto [it, fresh] = b.vars.emplace(e.var, t.shape[d]);
        if (!fresh && it->second != t.shape[d]) {
          error = "dimension " + std::to_string(d) + " of input '" + p.name + "' is " + std::to_string(t.shape[d]) +
                  " but " + e.var + " = " + std::to_string(it->second) + " from an earlier input";
          return std::nullopt;
        }
      } else {
        int64_t want = e.eval(b.vars);
        if (want != t.shape[d]) {
          error = "dimension " + std::to_string(d) + " of input '" + p.name + "' must be " + e.str() + " = " +
                  std::to_string(want) + ", got " + std::to_string(t.shape[d]);
          return std::nullopt;
        }
      }
    }
  }
  b.out.dtype = k.out_dtype ? *k.out_dtype : (float_dtype ? *float_dtype : ins.empty() ? DType::f32 : ins[0].dtype);
  try {
    for (auto& e : k.out_shape) b.out.shape.push_back(e.eval(b.vars));
  } catch (const Error& e) {
    error = e.what();
    return std::nullopt;
  }
  return b;
}

}  // namespace egfuse
