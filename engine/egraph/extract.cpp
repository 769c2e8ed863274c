// Kernel-aware extraction: the cost model, the exact evaluator of a set of
// choices, a DAG-aware greedy extractor and an exact branch and bound.
#include "egfuse/extract.hpp"

#include <algorithm>
#include <cmath>

#include "egfuse/trace.hpp"

namespace egfuse::eg {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
}

// ---------------------------------------------------------------- parameters
TargetParams TargetParams::unit() {
  TargetParams p;
  p.name = "unit";
  p.bytes_per_ns = 1e300;  // reads and writes are free: the cost is the op count
  p.launch_ns = 0;
  p.flops_per_ns = 1;
  p.tensor_flops_per_ns = 1;
  return p;
}
TargetParams TargetParams::h100() {
  TargetParams p;
  p.name = "h100";
  p.bytes_per_ns = 3000;          // ~3 TB/s device copy (read + write counted)
  p.launch_ns = 2500;             // launch + ramp of a small kernel
  p.flops_per_ns = 60000;         // ~60 TFLOP/s fp32 on CUDA cores
  p.tensor_flops_per_ns = 700000; // ~700 TFLOP/s bf16 tensor cores (measured 680-740)
  return p;
}
TargetParams TargetParams::lavapipe() {
  TargetParams p;
  p.name = "lavapipe";
  p.bytes_per_ns = 5;             // a few GB/s through llvmpipe
  p.launch_ns = 3e6;              // 3-7 ms per dispatch measured for a 1M-element add
  p.flops_per_ns = 8;
  p.tensor_flops_per_ns = 8;      // no matrix units
  return p;
}
const TargetParams* TargetParams::by_name(const std::string& n) {
  static const TargetParams u = unit(), h = h100(), l = lavapipe();
  if (n == "unit") return &u;
  if (n == "h100") return &h;
  if (n == "lavapipe") return &l;
  return nullptr;
}

std::string_view role_name(NodeRole r) {
  switch (r) {
    case NodeRole::leaf: return "leaf";
    case NodeRole::literal: return "literal";
    case NodeRole::materialize: return "materialize";
    case NodeRole::pointwise: return "pointwise";
    case NodeRole::reduction: return "reduction";
    case NodeRole::template_: return "template";
    case NodeRole::opaque: return "opaque";
  }
  return "?";
}

// ---------------------------------------------------------------- cost model
NodeRole CostModel::role(const EGraph& g, Id node) const {
  NodeRef nd = g.node(node);
  if (nd.op == kNumOp) return NodeRole::literal;
  const OpInfo* info = g.find_op_info(nd.op);
  if (info) {
    if (info->materialize) return NodeRole::materialize;
    if (info->is_template) return NodeRole::template_;
    if (info->reduction) return NodeRole::reduction;
    if (info->storage_leaf) return NodeRole::leaf;
  }
  if (nd.children.empty()) return NodeRole::leaf;
  return NodeRole::pointwise;
}

double CostModel::bytes(const EGraph& g, Id cls) const {
  if (const TensorType* t = g.type(cls)) return double(t->numel()) * dtype_bytes(t->dtype);
  return params.default_bytes;
}

namespace {
double numel(const EGraph& g, Id cls) {
  if (const TensorType* t = g.type(cls)) return double(t->numel());
  return 1;
}
}  // namespace

double CostModel::compute_ns(const EGraph& g, Id node) const {
  NodeRef nd = g.node(node);
  switch (role(g, node)) {
    case NodeRole::leaf:
    case NodeRole::literal:
    case NodeRole::materialize:
      return 0;
    case NodeRole::pointwise:
    case NodeRole::opaque:
      return numel(g, g.find(node)) / params.flops_per_ns;
    case NodeRole::reduction:
      return (nd.children.empty() ? 1 : numel(g, nd.children[0])) / params.flops_per_ns;
    case NodeRole::template_: {
      double flops;
      if (template_flops) {
        flops = template_flops(g, node);
      } else {
        flops = numel(g, g.find(node));
        if (!nd.children.empty())
          if (const TensorType* t = g.type(nd.children[0]); t && t->rank() > 0) flops *= 2.0 * double(t->shape.back());
      }
      return flops / params.tensor_flops_per_ns;
    }
  }
  return 0;
}

bool CostModel::inline_ok(const EGraph& g, Id node, size_t child) const {
  switch (role(g, node)) {
    case NodeRole::pointwise:
    case NodeRole::reduction:
      return true;
    case NodeRole::template_: {
      const OpInfo* info = g.find_op_info(g.node(node).op);
      if (!info) return false;
      if (child >= info->input_names.size() && !info->input_names.empty()) return info->epilogue;  // epilogue operands
      return std::count(info->prologue_inputs.begin(), info->prologue_inputs.end(), int32_t(child)) > 0;
    }
    default:
      return false;
  }
}

// ---------------------------------------------------------------- evaluation
namespace {
bool inline_role(NodeRole r) {
  return r == NodeRole::pointwise || r == NodeRole::leaf || r == NodeRole::literal || r == NodeRole::materialize;
}

struct Evaluator {
  const EGraph& g;
  const Choices& c;
  const CostModel& m;
  std::vector<uint8_t> kstate, istate;  // 0 new, 1 in progress, 2 done
  std::vector<double> icost;
  std::vector<Id>* kernels;
  double total = 0;
  bool ok = true;

  Evaluator(const EGraph& g_, const Choices& c_, const CostModel& m_, std::vector<Id>* k)
      : g(g_), c(c_), m(m_), kstate(g_.num_ids(), 0), istate(g_.num_ids(), 0), icost(g_.num_ids(), 0), kernels(k) {}

  Id pick(const std::vector<Id>& v, Id cls) const { return cls < v.size() ? v[cls] : kNoId; }

  // Cost of using class x inside a kernel through child position that allows inlining or not.
  double use(Id x, bool may_inline) {
    x = g.find(x);
    Id n = may_inline ? pick(c.inl, x) : kNoId;
    if (n == kNoId) {  // read x's buffer; x is computed by its own kernel
      kernel(x);
      return m.bytes(g, x) / m.params.bytes_per_ns;
    }
    if (istate[x] == 2) return icost[x];
    if (istate[x] == 1) {
      ok = false;  // an inline cycle
      return 0;
    }
    istate[x] = 1;
    double cost = 0;
    NodeRef nd = g.node(n);
    switch (m.role(g, n)) {
      case NodeRole::leaf: cost = m.bytes(g, x) / m.params.bytes_per_ns; break;
      case NodeRole::literal: break;
      case NodeRole::materialize:
        kernel(nd.children[0]);
        cost = m.bytes(g, nd.children[0]) / m.params.bytes_per_ns;
        break;
      default:
        cost = m.compute_ns(g, n);
        for (size_t i = 0; i < nd.children.size(); ++i) cost += use(nd.children[i], m.inline_ok(g, n, i));
    }
    istate[x] = 2;
    icost[x] = cost;
    return cost;
  }

  void kernel(Id x) {
    x = g.find(x);
    if (kstate[x] == 2) return;
    if (kstate[x] == 1) {
      ok = false;
      return;
    }
    Id n = pick(c.root, x);
    if (n == kNoId) {
      ok = false;
      return;
    }
    kstate[x] = 1;
    NodeRef nd = g.node(n);
    switch (m.role(g, n)) {
      case NodeRole::leaf:
      case NodeRole::literal:
        break;  // already in memory / an immediate: no kernel
      case NodeRole::materialize:
        kernel(nd.children[0]);
        break;
      default: {
        double cost = m.params.launch_ns + m.bytes(g, x) / m.params.bytes_per_ns + m.compute_ns(g, n);
        for (size_t i = 0; i < nd.children.size(); ++i) cost += use(nd.children[i], m.inline_ok(g, n, i));
        total += cost;
        if (kernels) kernels->push_back(x);
      }
    }
    kstate[x] = 2;
  }
};
}  // namespace

double evaluate(const EGraph& g, Id root, const Choices& c, const CostModel& m, std::vector<Id>* kernels) {
  if (kernels) kernels->clear();
  Evaluator ev(g, c, m, kernels);
  ev.kernel(root);
  return ev.ok ? ev.total : kInf;
}

Term chosen_term(const EGraph& g, Id cls, const Choices& c, const CostModel& m) {
  std::function<Term(Id, bool)> build = [&](Id x, bool as_inline) -> Term {
    x = g.find(x);
    Id n = as_inline && x < c.inl.size() ? c.inl[x] : kNoId;
    if (n == kNoId) n = c.root[x];
    Term t;
    NodeRef nd = g.node(n);
    if (nd.op == kNumOp) {
      t.is_number = true;
      t.number = g.number(nd.payload);
      t.op = number_text(t.number);
      return t;
    }
    t.op = g.op_name(nd.op);
    t.attrs = g.attrs_text(nd.payload);
    bool is_buf = m.role(g, n) == NodeRole::materialize;
    for (size_t i = 0; i < nd.children.size(); ++i)
      t.args.push_back(build(nd.children[i], !is_buf && m.inline_ok(g, n, i)));
    return t;
  };
  return build(cls, false);
}

// ---------------------------------------------------------------- greedy (DAG-aware)
namespace {
struct Best {
  double total = kInf, local = kInf;
  Id node = kNoId;
  std::vector<Id> deps;  // kernel classes this choice needs (sorted)
};

void merge_into(std::vector<Id>& a, const std::vector<Id>& b) {
  if (b.empty()) return;
  std::vector<Id> out;
  out.reserve(a.size() + b.size());
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  a.swap(out);
}
}  // namespace

Extraction extract_greedy(const EGraph& g, Id root, const CostModel& m) {
  root = g.find(root);
  std::vector<Id> classes = g.classes();
  std::vector<Best> rb(g.num_ids()), ib(g.num_ids());
  std::vector<uint8_t> inline_capable(g.num_ids(), 0);
  for (Id c : classes)
    for (Id n : g.class_nodes(c)) inline_capable[c] |= inline_role(m.role(g, n));
  auto total_of = [&](double local, const std::vector<Id>& deps) {
    double t = local;
    for (Id k : deps) t += rb[k].local;
    return t;
  };
  for (int pass = 0; pass < 64; ++pass) {
    bool changed = false;
    for (Id c : classes) {
      for (Id n : g.class_nodes(c)) {
        NodeRole r = m.role(g, n);
        NodeRef nd = g.node(n);
        // children used inside this node's kernel (or inline expression)
        auto children_cost = [&](double& local, std::vector<Id>& deps) {
          for (size_t i = 0; i < nd.children.size(); ++i) {
            Id x = g.find(nd.children[i]);
            if (m.inline_ok(g, n, i) && inline_capable[x]) {
              if (ib[x].node == kNoId) return false;
              local += ib[x].local;
              merge_into(deps, ib[x].deps);
            } else {
              if (rb[x].node == kNoId) return false;
              local += m.bytes(g, x) / m.params.bytes_per_ns;
              merge_into(deps, rb[x].deps);
              merge_into(deps, {x});
            }
          }
          return true;
        };
        // root choice
        {
          double local = 0;
          std::vector<Id> deps;
          bool feasible = true;
          if (r == NodeRole::materialize) {
            Id y = g.find(nd.children[0]);
            feasible = rb[y].node != kNoId;
            if (feasible) {
              deps = rb[y].deps;
              merge_into(deps, {y});
            }
          } else if (r != NodeRole::leaf && r != NodeRole::literal) {
            local = m.params.launch_ns + m.bytes(g, c) / m.params.bytes_per_ns + m.compute_ns(g, n);
            feasible = children_cost(local, deps);
          }
          if (feasible && !std::binary_search(deps.begin(), deps.end(), c)) {
            double t = total_of(local, deps);
            if (t < rb[c].total * (1 - 1e-12) - 1e-12) {
              rb[c] = {t, local, n, std::move(deps)};
              changed = true;
            }
          }
        }
        // inline choice
        if (inline_role(r)) {
          double local = 0;
          std::vector<Id> deps;
          bool feasible = true;
          if (r == NodeRole::leaf) {
            local = m.bytes(g, c) / m.params.bytes_per_ns;
          } else if (r == NodeRole::materialize) {
            Id y = g.find(nd.children[0]);
            feasible = rb[y].node != kNoId;
            if (feasible) {
              local = m.bytes(g, y) / m.params.bytes_per_ns;
              deps = rb[y].deps;
              merge_into(deps, {y});
            }
          } else if (r == NodeRole::pointwise) {
            local = m.compute_ns(g, n);
            feasible = children_cost(local, deps);
          }
          if (feasible && !std::binary_search(deps.begin(), deps.end(), c)) {
            double t = total_of(local, deps);
            if (t < ib[c].total * (1 - 1e-12) - 1e-12) {
              ib[c] = {t, local, n, std::move(deps)};
              changed = true;
            }
          }
        }
      }
    }
    if (!changed) break;
  }
  Extraction e;
  e.root = root;
  e.method = "greedy";
  e.choices.root.assign(g.num_ids(), kNoId);
  e.choices.inl.assign(g.num_ids(), kNoId);
  for (Id c : classes) {
    e.choices.root[c] = rb[c].node;
    e.choices.inl[c] = ib[c].node;
  }
  e.cost = evaluate(g, root, e.choices, m, &e.kernels);
  if (std::isfinite(e.cost)) e.term = chosen_term(g, root, e.choices, m);
  return e;
}

// ---------------------------------------------------------------- exact (branch and bound)
namespace {
struct BranchAndBound {
  const EGraph& g;
  const CostModel& m;
  uint64_t budget, steps = 0;
  Id root;
  Choices cur, best;
  double best_cost;
  std::vector<uint8_t> inline_capable;
  struct Demand {
    Id cls;
    bool inl;
  };
  std::vector<Demand> stack;

  double at_least(Id c, Id n, bool inl) const {
    NodeRole r = m.role(g, n);
    if (inl) {
      if (r == NodeRole::leaf) return m.bytes(g, c) / m.params.bytes_per_ns;
      if (r == NodeRole::materialize) return m.bytes(g, g.node(n).children[0]) / m.params.bytes_per_ns;
      return m.compute_ns(g, n);
    }
    if (r == NodeRole::leaf || r == NodeRole::literal || r == NodeRole::materialize) return 0;
    return m.params.launch_ns + m.bytes(g, c) / m.params.bytes_per_ns + m.compute_ns(g, n);
  }

  void push_children(Id n, bool inl) {
    NodeRef nd = g.node(n);
    NodeRole r = m.role(g, n);
    if (r == NodeRole::leaf || r == NodeRole::literal) return;
    if (r == NodeRole::materialize) {
      stack.push_back({g.find(nd.children[0]), false});
      return;
    }
    (void)inl;
    for (size_t i = nd.children.size(); i-- > 0;) {
      Id x = g.find(nd.children[i]);
      bool use_inline = m.inline_ok(g, n, i) && inline_capable[x];
      stack.push_back({x, use_inline});
    }
  }

  void dfs(double lb) {
    if (++steps > budget) return;
    if (lb >= best_cost) return;
    // next undecided demand
    while (!stack.empty()) {
      Demand d = stack.back();
      if ((d.inl ? cur.inl[d.cls] : cur.root[d.cls]) == kNoId) break;
      stack.pop_back();
    }
    if (stack.empty()) {
      double c = evaluate(g, root, cur, m);
      if (c < best_cost) {
        best_cost = c;
        best = cur;
      }
      return;
    }
    Demand d = stack.back();
    stack.pop_back();
    std::vector<std::pair<double, Id>> cands;
    for (Id n : g.class_nodes(d.cls)) {
      if (d.inl && !inline_role(m.role(g, n))) continue;
      cands.push_back({at_least(d.cls, n, d.inl), n});
    }
    std::stable_sort(cands.begin(), cands.end(), [](auto& a, auto& b) { return a.first < b.first; });
    size_t saved = stack.size();
    for (auto [cost, n] : cands) {
      (d.inl ? cur.inl : cur.root)[d.cls] = n;
      push_children(n, d.inl);
      dfs(lb + cost);
      stack.resize(saved);
      if (steps > budget) break;
    }
    (d.inl ? cur.inl : cur.root)[d.cls] = kNoId;
    stack.push_back(d);
  }
};
}  // namespace

Extraction extract_exact(const EGraph& g, Id root, const CostModel& m, uint64_t budget) {
  root = g.find(root);
  Extraction greedy = extract_greedy(g, root, m);
  BranchAndBound bb{g, m, budget, 0, root, {}, greedy.choices, greedy.cost, {}, {}};
  bb.cur.root.assign(g.num_ids(), kNoId);
  bb.cur.inl.assign(g.num_ids(), kNoId);
  bb.inline_capable.assign(g.num_ids(), 0);
  for (Id c : g.classes())
    for (Id n : g.class_nodes(c)) bb.inline_capable[c] |= inline_role(m.role(g, n));
  bb.stack.push_back({root, false});
  bb.dfs(0);
  Extraction e;
  e.root = root;
  e.choices = bb.best;
  e.cost = evaluate(g, root, e.choices, m, &e.kernels);
  e.exact = bb.steps <= budget;
  e.method = e.exact ? "exact" : "exact (budget exhausted: best found)";
  if (std::isfinite(e.cost)) e.term = chosen_term(g, root, e.choices, m);
  return e;
}

Extraction extract(const EGraph& g, Id root, const CostModel& m, ExtractOptions o) {
  Extraction e;
  bool exact = o.method == ExtractOptions::Method::exact ||
               (o.method == ExtractOptions::Method::automatic && g.num_classes() <= o.exact_max_classes);
  e = exact ? extract_exact(g, root, m, o.exact_budget) : extract_greedy(g, root, m);
  if (Trace* tr = g.trace()) {
    tr->event("extract_begin").num("root", e.root).str("method", e.method).real("cost", e.cost)
        .num("kernels", int64_t(e.kernels.size()));
    for (Id c : g.classes()) {
      for (int inl = 0; inl < 2; ++inl) {
        Id n = inl ? e.choices.inl[c] : e.choices.root[c];
        if (n == kNoId) continue;
        bool kernel = !inl && std::find(e.kernels.begin(), e.kernels.end(), c) != e.kernels.end();
        tr->event("extract").num("class", c).str("choice", inl ? "inline" : "root").num("node", n)
            .str("op", g.node(n).op == kNumOp ? number_text(g.number(g.node(n).payload)) : g.op_name(g.node(n).op))
            .str("role", role_name(m.role(g, n))).boolean("kernel", kernel);
      }
    }
  }
  return e;
}

}  // namespace egfuse::eg
