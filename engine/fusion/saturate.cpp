// The graph as e-graph terms, saturated with the fusion rules. Every IR node
// becomes one e-node (attributes interned as its payload); a read of a
// computed value goes through buf(), a read of a graph input (or a view of
// one: an alias) does not. The rules add buf-free alternatives; a read
// (consumer, input slot) may be fused exactly when the consumer's e-class
// holds the same node with that child buf-free.
#include <algorithm>
#include <chrono>

#include "egfuse/egraph.hpp"
#include "egfuse/rewrite.hpp"
#include "egfuse/trace.hpp"
#include "engine/fusion/fusion_detail.hpp"

namespace egfuse::fusion_detail {

namespace {
bool alias_of_input(const Graph& g, NodeId u) {
  while (is_view(g[u].op)) u = g[u].inputs[0];
  return g[u].op == Op::input;
}
}  // namespace

struct Saturation::Impl {
  // Explanations on: the proof forest names the rule whose rewrite made each
  // fused read buf-free (the kernels' rule lists).
  eg::EGraph egraph{eg::EGraphOptions{.explanations = true}};
  std::vector<eg::Id> class_of;
  std::vector<eg::Sym> op_of;
  std::vector<uint32_t> payload_of;
  std::vector<std::vector<bool>> via_buf;
};

Saturation::Saturation() : impl_(std::make_unique<Impl>()) {}
Saturation::~Saturation() = default;
Saturation::Saturation(Saturation&&) noexcept = default;
Saturation& Saturation::operator=(Saturation&&) noexcept = default;

Saturation saturate(const Graph& g, const rules::RuleSet& rs, const TemplateRegistry& reg,
                    const std::string& schedule, eg::Trace* trace, double& encode_ms) {
  auto t0 = std::chrono::steady_clock::now();
  Saturation s;
  auto& im = *s.impl_;
  eg::EGraph& e = im.egraph;
  if (trace) e.set_trace(trace);
  eg::declare_ops(rs, e);
  // Op properties from the IR and the registry, so graphs need no op declarations.
  for (int o = 0; o < int(Op::num_ops); ++o) {
    Op op = Op(o);
    if (op == Op::template_ || op == Op::extern_) continue;
    auto& info = e.op_info(e.op(op_name(op)));
    info.pointwise = info.pointwise || is_pointwise(op);  // a constant is a scalar fill
    info.reduction = info.reduction || is_reduction(op);
    info.view = info.view || is_view(op);
    // Storage versions matter only where something is written in place: only
    // mutable inputs and mutation outputs define one, which keeps read sets
    // (merged along every fused chain) small.
    info.storage_leaf = op == Op::mutation_output;
  }
  e.op_info(e.op("mutable_input")).storage_leaf = true;
  e.op_info(e.op("buf")).materialize = true;
  for (auto& name : reg.names()) {
    const TemplateKind* k = reg.find(name);
    auto& info = e.op_info(e.op(name));
    info.is_template = !k->is_extern;
    info.epilogue = k->epilogue;
    info.mutated_inputs.clear();
    info.prologue_inputs.clear();
    info.input_names.clear();
    for (int64_t i : k->mutated_inputs()) info.mutated_inputs.push_back(int32_t(i));
    for (int64_t i : k->prologue_inputs()) info.prologue_inputs.push_back(int32_t(i));
    for (auto& in : k->inputs) info.input_names.push_back(in.name);
  }
  {
    auto& info = e.op_info(e.op("extern"));
    info.is_template = false;
  }

  const size_t N = g.size();
  im.class_of.assign(N, eg::kNoId);
  im.op_of.assign(N, 0);
  im.payload_of.assign(N, 0);
  im.via_buf.assign(N, {});
  eg::Sym buf = e.op("buf");
  std::vector<eg::Id> kids;
  for (NodeId n = 0; n < N; ++n) {
    const Node& x = g[n];
    eg::Sym op;
    uint32_t payload = 0;
    kids.clear();
    switch (x.op) {
      case Op::input:
        op = e.op(std::get<InputAttrs>(x.attrs).is_mutable ? "mutable_input" : "input");
        payload = e.attrs("{name=\"" + x.name + "\"}");
        break;
      case Op::constant:
        op = e.op("constant");
        payload = e.attrs(print_attrs(x.attrs) + " " + to_string(x.type));
        break;
      case Op::template_:
        op = e.op(std::get<TemplateAttrs>(x.attrs).kind);
        break;
      case Op::extern_:
        op = e.op("extern");
        payload = e.attrs(print_attrs(x.attrs));
        break;
      default:
        op = e.op(op_name(x.op));
        if (x.op != Op::mutation_output) payload = e.attrs(print_attrs(x.attrs));
        break;
    }
    auto& vb = im.via_buf[n];
    if (x.op == Op::mutation_output) {
      kids = {im.class_of[x.inputs[0]], e.add_number(double(std::get<MutationOutputAttrs>(x.attrs).input))};
      vb = {false, false};
    } else {
      for (NodeId u : x.inputs) {
        bool through_buf = !alias_of_input(g, u);
        eg::Id kid = im.class_of[u];
        if (through_buf) {
          kid = e.add(buf, {im.class_of[u]});
          e.set_type(kid, TensorType{g[u].type.dtype, g[u].type.shape, {}, 0});  // buf(x) has x's type (dtype/rank guards)
        }
        kids.push_back(kid);
        vb.push_back(through_buf);
      }
    }
    im.class_of[n] = e.add(op, std::span<const eg::Id>(kids.data(), kids.size()), payload);
    if (trace) trace->event("term").str("node", x.name).num("class", int64_t(im.class_of[n]));
    im.op_of[n] = op;
    im.payload_of[n] = payload;
    e.set_type(im.class_of[n], TensorType{x.type.dtype, x.type.shape, {}, 0});
  }
  e.rebuild();
  auto t1 = std::chrono::steady_clock::now();
  encode_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();

  eg::GuardRegistry guards;
  std::vector<eg::RunReport> reports;
  if (const rules::Schedule* sch = rs.find_schedule(schedule)) {
    reports = eg::run_schedule(e, rs, *sch, &guards);
  } else if (rs.find_ruleset(schedule)) {
    eg::RunnerOptions o;
    o.guards = &guards;
    o.limits.node_limit = 400000;
    eg::Runner r(e, eg::compile_ruleset(rs, schedule, e), o);
    reports.push_back(r.run());
  }
  s.iterations = 0;
  s.stop_reason = reports.empty() ? "no fusion rules" : std::string(eg::stop_reason_name(reports.back().stop));
  for (auto& r : reports) s.iterations += r.iterations.size();
  s.nodes = e.num_nodes();
  s.classes = e.num_classes();
  s.saturate_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
  return s;
}

bool Saturation::read_fusable(const Graph& g, NodeId n, size_t slot) const {
  const auto& im = *impl_;
  if (!im.via_buf[n][slot]) return true;  // an alias of a graph input: nothing to fuse
  return fused_node(g, n, slot) != eg::kNoId;
}

uint32_t Saturation::fused_node(const Graph& g, NodeId n, size_t slot) const {
  const auto& im = *impl_;
  const eg::EGraph& e = im.egraph;
  eg::Id cn = e.find(im.class_of[n]);
  eg::Id cu = e.find(im.class_of[g[n].inputs[slot]]);
  for (eg::Id id : e.class_nodes_with_op(cn, im.op_of[n])) {
    eg::NodeRef r = e.node(id);
    if (r.payload != im.payload_of[n] || r.children.size() != g[n].inputs.size()) continue;
    if (e.find(r.children[slot]) == cu) return id;
  }
  return eg::kNoId;
}

std::vector<std::string> Saturation::read_rules(const Graph& g, NodeId n, size_t slot) const {
  const auto& im = *impl_;
  std::vector<std::string> out;
  if (!im.via_buf[n][slot]) return out;
  eg::Id b = fused_node(g, n, slot);
  if (b == eg::kNoId) return out;
  return rules_between(im.class_of[n], b);  // the encoded node's own id (explanations on)
}

// The rules on the path between two nodes of one class in the proof forest:
// each edge labelled by a rule is a rewrite on the way.
std::vector<std::string> Saturation::rules_between(uint32_t a, uint32_t b) const {
  const auto& im = *impl_;
  std::vector<std::string> out;
  const eg::EGraph& e = im.egraph;
  const auto& forest = e.proof_forest();
  std::vector<eg::Id> up_a;
  for (eg::Id x = a; x != eg::kNoId && up_a.size() <= forest.size(); x = forest[x].next) up_a.push_back(x);
  std::vector<eg::Id> up_b;
  eg::Id meet = eg::kNoId;
  for (eg::Id x = b; x != eg::kNoId && up_b.size() <= forest.size(); x = forest[x].next) {
    if (std::find(up_a.begin(), up_a.end(), x) != up_a.end()) {
      meet = x;
      break;
    }
    up_b.push_back(x);
  }
  if (meet == eg::kNoId) return out;
  auto note = [&](eg::Id x) {
    const auto& why = forest[x].why;
    if (why.kind != eg::Justification::by_rule || why.rule >= e.rule_names().size()) return;
    const auto& named = e.rule_names()[why.rule];
    std::string r = named.first + " @ " + named.second;
    if (std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
  };
  for (eg::Id x : up_a) {
    if (x == meet) break;
    note(x);
  }
  for (eg::Id x : up_b) note(x);
  return out;
}

std::vector<Saturation::Alternative> Saturation::template_alternatives(const Graph& g) const {
  const auto& im = *impl_;
  const eg::EGraph& e = im.egraph;
  std::vector<Alternative> out;
  for (NodeId n = 0; n < g.size(); ++n) {
    if (g[n].op != Op::extern_) continue;
    eg::NodeRef self = e.node(im.class_of[n]);
    for (eg::Id id : e.class_nodes(e.find(im.class_of[n]))) {
      eg::NodeRef r = e.node(id);
      const eg::OpInfo* info = e.find_op_info(r.op);
      if (!info || !info->is_template || r.children.size() != self.children.size()) continue;
      bool same = true;
      for (size_t i = 0; i < r.children.size(); ++i) same = same && e.find(r.children[i]) == e.find(self.children[i]);
      if (!same) continue;
      out.push_back({n, e.op_name(r.op), rules_between(im.class_of[n], id)});
      break;
    }
  }
  return out;
}

void Saturation::retarget(NodeId n, const std::string& kind) {
  auto& im = *impl_;
  im.op_of[n] = im.egraph.op(kind);
  im.payload_of[n] = 0;
}

}  // namespace egfuse::fusion_detail
