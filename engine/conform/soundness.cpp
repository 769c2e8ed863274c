// Rule soundness: both sides of each rule are evaluated on random
// instantiations. Rules over IR ops go through the reference interpreter (both
// sides built into one graph over shared random inputs); rules over declared
// arithmetic/logic ops go through a small scalar evaluator. Guards are
// evaluated where they constrain values or types (dtype, rank, pointwise,
// is_template, not_equal ...); others are taken as satisfied, which can only
// make the check stricter.
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "egfuse/conform.hpp"
#include "egfuse/interp.hpp"
#include "egfuse/ir.hpp"
#include "egfuse/rule_ast.hpp"
#include "egfuse/templates.hpp"

namespace egfuse::conform {
namespace {

using rules::Guard;
using rules::Pattern;

struct Skip {
  std::string why;
};

void collect_ops(const Pattern& p, std::set<std::string>& ops, bool& opvar) {
  if (p.kind == Pattern::Kind::apply) {
    if (p.op_is_var) opvar = true;
    else ops.insert(p.name);
  }
  for (auto& a : p.args) collect_ops(a, ops, opvar);
}

// ---------------------------------------------------------------- scalar mode
const std::set<std::string> kScalarOps = {"+", "-", "*", "/", "pow", "ln", "log", "sqrt", "sin", "cos", "exp",
                                          "neg", "abs", "max", "min", "&", "|", "~", "->", "<->", "^"};

double eval_scalar(const Pattern& p, const std::map<std::string, double>& env) {
  switch (p.kind) {
    case Pattern::Kind::number: return p.number;
    case Pattern::Kind::var: return env.at(p.name);
    case Pattern::Kind::symbol:
      if (p.name == "true") return 1;
      if (p.name == "false") return 0;
      return env.count(p.name) ? env.at(p.name) : throw Skip{"symbol '" + p.name + "' has no value"};
    case Pattern::Kind::varargs: throw Skip{"variadic variables have no scalar meaning"};
    case Pattern::Kind::apply: break;
  }
  std::vector<double> a;
  for (auto& x : p.args) a.push_back(eval_scalar(x, env));
  const std::string& f = p.name;
  auto need = [&](size_t n) {
    if (a.size() != n) throw Skip{"op '" + f + "' with " + std::to_string(a.size()) + " operands"};
  };
  auto b = [](double v) { return v != 0; };
  if (f == "+") { need(2); return a[0] + a[1]; }
  if (f == "-") { if (a.size() == 1) return -a[0]; need(2); return a[0] - a[1]; }
  if (f == "*") { need(2); return a[0] * a[1]; }
  if (f == "/") { need(2); return a[0] / a[1]; }
  if (f == "pow") { need(2); return std::pow(a[0], a[1]); }
  if (f == "ln" || f == "log") { need(1); return std::log(a[0]); }
  if (f == "sqrt") { need(1); return std::sqrt(a[0]); }
  if (f == "sin") { need(1); return std::sin(a[0]); }
  if (f == "cos") { need(1); return std::cos(a[0]); }
  if (f == "exp") { need(1); return std::exp(a[0]); }
  if (f == "neg") { need(1); return -a[0]; }
  if (f == "abs") { need(1); return std::fabs(a[0]); }
  if (f == "max") { need(2); return std::max(a[0], a[1]); }
  if (f == "min") { need(2); return std::min(a[0], a[1]); }
  if (f == "&") { need(2); return b(a[0]) && b(a[1]); }
  if (f == "|") { need(2); return b(a[0]) || b(a[1]); }
  if (f == "^") { need(2); return b(a[0]) != b(a[1]); }
  if (f == "~") { need(1); return !b(a[0]); }
  if (f == "->") { need(2); return !b(a[0]) || b(a[1]); }
  if (f == "<->") { need(2); return b(a[0]) == b(a[1]); }
  throw Skip{"op '" + f + "' has no numeric meaning"};
}

void collect_vars(const Pattern& p, std::set<std::string>& vars) {
  if (p.kind == Pattern::Kind::var) vars.insert(p.name);
  for (auto& a : p.args) collect_vars(a, vars);
}
void collect_guard_vars(const Guard& g, std::set<std::string>& vars) {
  for (auto& a : g.args) collect_vars(a, vars);
  for (auto& k : g.kids) collect_guard_vars(k, vars);
}

// A guard over scalar values: not_equal and comparisons of values are
// evaluated; anything else counts as satisfied.
bool scalar_guard(const Guard& g, const std::map<std::string, double>& env) {
  switch (g.kind) {
    case Guard::Kind::and_: return scalar_guard(g.kids[0], env) && scalar_guard(g.kids[1], env);
    case Guard::Kind::or_: return scalar_guard(g.kids[0], env) || scalar_guard(g.kids[1], env);
    case Guard::Kind::not_: return !scalar_guard(g.kids[0], env);
    case Guard::Kind::call:
      if (g.name == "not_equal" && g.args.size() == 2) {
        try {
          return eval_scalar(g.args[0], env) != eval_scalar(g.args[1], env);
        } catch (const Skip&) {
          return true;
        }
      }
      if (g.name == "is_symbol") return false;  // our variables are numbers
      return true;
    case Guard::Kind::compare: return true;
  }
  return true;
}

// ---------------------------------------------------------------- tensor mode
struct TensorInst {
  Graph g;
  std::map<std::string, NodeId> term;     // ?x -> node
  std::map<std::string, Op> opvar;        // ?p -> op
  std::map<std::string, std::vector<NodeId>> varargs;
};

Attrs attrs_from_pattern(Op op, const Pattern& p) {
  std::vector<AttrEntry> entries;
  for (auto& [k, v] : p.attrs) {
    AttrEntry e;
    e.key = k;
    if (!v.empty() && v[0] == '[') {
      std::vector<int64_t> xs;
      std::string num;
      for (char c : v) {
        if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) num += c;
        else if (!num.empty()) { xs.push_back(std::stoll(num)); num.clear(); }
      }
      e.value.v = xs;
    } else if (v == "true" || v == "false") {
      e.value.v = v == "true";
    } else if (!v.empty() && (std::isdigit(static_cast<unsigned char>(v[0])) || v[0] == '-')) {
      if (v.find_first_of(".eE") != std::string::npos) e.value.v = std::stod(v);
      else e.value.v = int64_t(std::stoll(v));
    } else {
      e.value.v = v;
    }
    entries.push_back(e);
  }
  Diagnostics d;
  Attrs a = build_attrs(op, entries, {}, d);
  if (d.has_errors()) throw Skip{"attributes of " + std::string(op_name(op)) + " do not build"};
  return a;
}

NodeId build_side(const Pattern& p, Builder& b, TensorInst& inst, const TemplateRegistry& reg) {
  switch (p.kind) {
    case Pattern::Kind::var: return inst.term.at(p.name);
    case Pattern::Kind::number: return b.constant(p.number, DType::f32);
    case Pattern::Kind::symbol: throw Skip{"symbol '" + p.name + "' in a tensor rule"};
    case Pattern::Kind::varargs: throw Skip{"stray variadic variable"};
    case Pattern::Kind::apply: break;
  }
  // Numeric literals are weakly typed (like PyTorch scalars): they take the
  // dtype of their first tensor sibling, so `mul(x, 1)` keeps x's dtype.
  std::vector<NodeId> args;
  std::vector<size_t> literal_at;
  for (auto& a : p.args) {
    if (a.kind == Pattern::Kind::varargs) {
      auto& vs = inst.varargs.at(a.name);
      args.insert(args.end(), vs.begin(), vs.end());
    } else if (a.kind == Pattern::Kind::number) {
      literal_at.push_back(args.size());
      args.push_back(kNoNode);
    } else {
      args.push_back(build_side(a, b, inst, reg));
    }
  }
  DType lit = DType::f32;
  for (NodeId x : args)
    if (x != kNoNode && is_float(inst.g[x].type.dtype)) {
      lit = inst.g[x].type.dtype;
      break;
    }
  size_t li = 0;
  for (auto& a : p.args)
    if (a.kind == Pattern::Kind::number) args[literal_at[li++]] = b.constant(a.number, lit);
  if (p.op_is_var) return b.op(inst.opvar.at(p.name), args);
  if (p.name == "extern") throw Skip{"extern kernels are opaque: the interpreter gives them no meaning to compare"};
  if (p.name == "buf") {
    if (args.size() != 1) throw Skip{"buf with " + std::to_string(args.size()) + " operands"};
    return args[0];  // materialization does not change the value
  }
  if (reg.find(p.name)) return b.templ(p.name, args);
  auto op = parse_op(p.name);
  if (!op) throw Skip{"op '" + p.name + "' has no interpreter meaning"};
  return b.op(*op, args, attrs_from_pattern(*op, p));
}

bool tensor_guard(const Guard& gd, const TensorInst& inst, const TemplateRegistry& reg) {
  auto node_of = [&](const Pattern& p) -> const Node* {
    if (p.kind == Pattern::Kind::var && inst.term.count(p.name)) return &inst.g[inst.term.at(p.name)];
    return nullptr;
  };
  switch (gd.kind) {
    case Guard::Kind::and_: return tensor_guard(gd.kids[0], inst, reg) && tensor_guard(gd.kids[1], inst, reg);
    case Guard::Kind::or_: return tensor_guard(gd.kids[0], inst, reg) || tensor_guard(gd.kids[1], inst, reg);
    case Guard::Kind::not_: return !tensor_guard(gd.kids[0], inst, reg);
    case Guard::Kind::compare: {
      // dtype(?x) == f32, rank(?x) == 2: evaluate when the left side is such a call on a variable
      if (gd.kids.size() == 2 && gd.kids[0].kind == Guard::Kind::call && gd.kids[0].args.size() == 1 &&
          gd.kids[1].is_literal) {
        const Node* n = node_of(gd.kids[0].args[0]);
        if (!n) return true;
        std::string have;
        if (gd.kids[0].name == "dtype") have = std::string(dtype_name(n->type.dtype));
        else if (gd.kids[0].name == "rank") have = std::to_string(n->type.rank());
        else return true;
        bool eq = have == gd.kids[1].literal;
        return gd.name == "==" ? eq : gd.name == "!=" ? !eq : true;
      }
      return true;
    }
    case Guard::Kind::call: {
      if (gd.args.empty()) return true;
      if (gd.args[0].kind == Pattern::Kind::var) {
        const Node* n = node_of(gd.args[0]);
        if (!n) return true;
        if (gd.name == "pointwise") return is_pointwise(n->op);
        if (gd.name == "reduction") return is_reduction(n->op);
        if (gd.name == "is_template") return n->op == Op::template_;
        if (gd.name == "not_equal" && gd.args.size() == 2) {
          const Node* m = node_of(gd.args[1]);
          return !m || m != n;
        }
      }
      if (gd.args[0].kind == Pattern::Kind::apply && gd.args[0].op_is_var && gd.name == "pointwise")
        return inst.opvar.count(gd.args[0].name) && is_pointwise(inst.opvar.at(gd.args[0].name));
      return true;
    }
  }
  return true;
}

struct VarSets {
  std::set<std::string> term, ops, varargs;
  std::map<std::string, size_t> op_arity;  // fixed args of the op var's application
};
void collect_var_sets(const Pattern& p, VarSets& v) {
  if (p.kind == Pattern::Kind::var) v.term.insert(p.name);
  if (p.kind == Pattern::Kind::varargs) v.varargs.insert(p.name);
  if (p.kind == Pattern::Kind::apply && p.op_is_var) {
    v.ops.insert(p.name);
    size_t fixed = 0;
    for (auto& a : p.args) fixed += a.kind != Pattern::Kind::varargs;
    v.op_arity[p.name] = fixed;
  }
  for (auto& a : p.args) collect_var_sets(a, v);
}

}  // namespace

SoundnessReport check_rule_soundness(const std::vector<std::string>& files, const SoundnessConfig& cfg) {
  SoundnessReport rep;
  std::ostringstream os;
  Diagnostics diags;
  auto rs = rules::load_rules(files, diags);
  TemplateRegistry reg;
  if (!diags.has_errors()) rs.register_templates(reg, diags);
  if (diags.has_errors()) {
    rep.errors = diags.error_count();
    rep.text = diags.render();
    return rep;
  }
  std::mt19937_64 rng(cfg.seed);
  const std::vector<Shape> shapes = {{4, 4}, {4}, {2, 4, 4}, {}};
  const std::vector<Op> unary = {Op::exp, Op::neg, Op::tanh, Op::abs}, binary = {Op::add, Op::mul, Op::sub, Op::max};

  for (auto& rule : rs.rules) {
    std::set<std::string> ops;
    bool opvar = false;
    collect_ops(rule.lhs, ops, opvar);
    collect_ops(rule.rhs, ops, opvar);
    bool scalar = !ops.empty() && !opvar;
    for (auto& o : ops) scalar = scalar && kScalarOps.count(o) > 0;
    std::string verdict, detail;
    int tried = 0;
    try {
      for (int s = 0; s < cfg.samples && verdict.empty(); ++s) {
        if (scalar) {
          std::set<std::string> vars;
          collect_vars(rule.lhs, vars);
          collect_vars(rule.rhs, vars);
          if (rule.guard) collect_guard_vars(*rule.guard, vars);
          std::map<std::string, double> env;
          bool logic = ops.count("&") || ops.count("|") || ops.count("~") || ops.count("->");
          std::uniform_real_distribution<double> U(0.25, 3.0);
          for (auto& v : vars) env[v] = logic ? double(rng() & 1) : std::round(U(rng) * 8) / 8;
          if (rule.guard && !scalar_guard(*rule.guard, env)) continue;
          double l = eval_scalar(rule.lhs, env), r = eval_scalar(rule.rhs, env);
          if (!std::isfinite(l) || !std::isfinite(r)) continue;
          ++tried;
          if (std::fabs(l - r) > 1e-9 + 1e-6 * std::fabs(r)) {
            std::ostringstream cx;
            for (auto& [k, v] : env) cx << "?" << k << "=" << v << " ";
            cx << "gives " << l << " on the left, " << r << " on the right";
            verdict = "UNSOUND";
            detail = cx.str();
          }
          continue;
        }
        // tensor mode: up to 32 random instantiations per sample until one type-checks
        VarSets vs;
        collect_var_sets(rule.lhs, vs);
        for (int attempt = 0; attempt < 32; ++attempt) {
          TensorInst inst;
          Builder b(inst.g, reg);
          int fresh = 0;
          auto fresh_input = [&](Shape sh) {
            uint64_t pick = rng() % 8;  // mostly f32; some f16 and bf16 for dtype guards
            DType dt = pick == 0 ? DType::f16 : pick == 1 ? DType::bf16 : DType::f32;
            return b.input("in" + std::to_string(fresh++), TensorType{dt, std::move(sh), {}, 0});
          };
          try {
            for (auto& v : vs.term) {
              Shape sh = shapes[rng() % shapes.size()];
              switch (rng() % 3) {
                case 0: inst.term[v] = fresh_input(sh); break;
                case 1: inst.term[v] = b.unary(Op::exp, fresh_input(sh)); break;
                default: inst.term[v] = b.templ("mm", {fresh_input({4, 4}), fresh_input({4, 4})}); break;
              }
            }
            for (auto& v : vs.varargs) {
              size_t n = rng() % 2;
              inst.varargs[v];  // an empty variadic is a binding too
              for (size_t i = 0; i < n; ++i) inst.varargs[v].push_back(fresh_input(shapes[rng() % 2]));
            }
            for (auto& v : vs.ops) {
              size_t arity = vs.op_arity[v];
              for (auto& [name, xs] : inst.varargs) arity += xs.size();  // upper bound; retried when wrong
              inst.opvar[v] = arity <= 1 ? unary[rng() % unary.size()] : binary[rng() % binary.size()];
            }
            if (rule.guard && !tensor_guard(*rule.guard, inst, reg)) continue;
            NodeId l = build_side(rule.lhs, b, inst, reg);
            NodeId r = build_side(rule.rhs, b, inst, reg);
            if (inst.g[l].type.shape != inst.g[r].type.shape || inst.g[l].type.dtype != inst.g[r].type.dtype) {
              verdict = "UNSOUND";
              detail = "the sides have types " + to_string(inst.g[l].type) + " and " + to_string(inst.g[r].type);
              break;
            }
            if (l == r) {  // both sides build the same value (e.g. buf is the identity)
              ++tried;
              break;
            }
            b.output(l, "lhs");
            b.output(r, "rhs");
          } catch (const Error&) {
            continue;  // this instantiation does not type-check: try another
          } catch (const std::out_of_range&) {
            continue;  // a variable this instantiation left unbound (e.g. an empty variadic)
          }
          auto inputs = random_inputs(inst.g, cfg.seed + uint64_t(s), reg);
          auto out = evaluate(inst.g, inputs, reg);
          ++tried;
          // intermediate values round to the narrowest dtype among the inputs
          Tolerance tol = tolerance_for(out.at("lhs").type.dtype);
          for (auto& [name, in] : inputs) {
            Tolerance ti = tolerance_for(in.type.dtype);
            tol = {std::max(tol.abs, ti.abs), std::max(tol.rel, ti.rel)};
          }
          auto cmp = compare(out.at("lhs"), out.at("rhs"), tol);
          if (!cmp.ok) {
            verdict = "UNSOUND";
            std::ostringstream cx;
            cx << "on inputs of shapes";
            for (auto& [name, t] : inputs) cx << " " << name << ":" << shape_string(t.type.shape);
            cx << " (seed " << cfg.seed + uint64_t(s) << ") the sides differ by " << cmp.max_abs << " at element "
               << cmp.worst_index;
            detail = cx.str();
          }
          break;
        }
      }
    } catch (const Skip& sk) {
      verdict = "SKIP";
      detail = sk.why;
    }
    if (verdict.empty() && tried == 0) {
      verdict = "SKIP";
      detail = "no random instantiation satisfied the guard and type-checked";
    }
    if (verdict.empty()) verdict = "OK";
    if (verdict == "OK") ++rep.checked;
    else if (verdict == "SKIP") ++rep.skipped;
    else ++rep.unsound;
    os << verdict << " " << rule.name << " (" << rule.location() << ")";
    if (verdict == "OK") os << ": " << tried << " instantiations agree";
    else os << ": " << detail;
    os << "\n";
  }
  os << rep.checked << " sound, " << rep.unsound << " unsound, " << rep.skipped << " skipped\n";
  rep.text = os.str();
  return rep;
}

}  // namespace egfuse::conform
