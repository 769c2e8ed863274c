// compile_graph: the fusion pipeline (encode, saturate, extract, plan,
// validate) and its report.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <sstream>

#include "egfuse/fusion.hpp"
#include "egfuse/plan.hpp"
#include "egfuse/trace.hpp"
#include "engine/fusion/fusion_detail.hpp"

namespace egfuse {

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// The rules of each family in the rule set, as "name @ file:line".
std::array<std::vector<std::string>, fusion_detail::kNumFamilies> family_rules(const rules::RuleSet& rs) {
  std::array<std::vector<std::string>, fusion_detail::kNumFamilies> out;
  for (auto& r : rs.rules)
    for (int f = 0; f < fusion_detail::kNumFamilies; ++f) {
      auto name = fusion_detail::family_name(fusion_detail::Family(f));
      if (r.name.compare(0, name.size(), name) == 0 &&
          (r.name.size() == name.size() || r.name[name.size()] == '-'))
        out[size_t(f)].push_back(r.name + " @ " + r.location());
    }
  return out;
}

}  // namespace

CompileResult compile_graph(const Graph& g, const rules::RuleSet& rules, const TemplateRegistry& reg,
                            const CompileOptions& opts, Diagnostics& diags) {
  CompileResult r;
  auto t0 = Clock::now();
  r.unfused = plan_unfused(g, reg);
  if (opts.trace) {
    // The graph as compiled, so trace pictures and queries can name its nodes.
    for (const Node& n : g.nodes) {
      std::string op = n.op == Op::template_ ? std::get<TemplateAttrs>(n.attrs).kind
                       : n.op == Op::extern_ ? "extern " + std::get<ExternAttrs>(n.attrs).kernel
                                             : std::string(op_name(n.op));
      std::string ins = "[";
      for (NodeId i : n.inputs) ins += (ins.size() > 1 ? "," : "") + eg::json_quote(g[i].name);
      opts.trace->event("graph-node").str("name", n.name).str("op", op).raw("inputs", ins + "]");
    }
  }

  auto by_family = family_rules(rules);
  fusion_detail::FamilySet fam;
  for (int f = 0; f < fusion_detail::kNumFamilies; ++f) fam.on[size_t(f)] = !by_family[size_t(f)].empty();
  // Not rewrites of one term: choices of extraction, switched by options.
  fam.on[fusion_detail::horizontal] = opts.horizontal;
  fam.on[fusion_detail::multi_output_epilogue] = opts.multi_output;
  fam.on[fusion_detail::multi_reduction] = opts.multi_reduction;
  fam.max_buffers = opts.max_kernel_buffers;
  for (auto f : {fusion_detail::horizontal, fusion_detail::multi_output_epilogue, fusion_detail::multi_reduction})
    if (by_family[f].empty()) by_family[f].push_back(std::string(fusion_detail::family_name(f)) + " (extraction)");

  std::vector<NodeId> origin;
  Graph work = fusion_detail::clone_views_per_user(g, origin);
  r.stats.times.encode_ms = ms_since(t0);

  // The rules decide which reads may be fused: saturate the terms with them.
  double encode_ms = 0;
  auto sat = fusion_detail::saturate(work, rules, reg, opts.schedule, opts.trace, encode_ms);
  r.stats.times.encode_ms += encode_ms;
  r.stats.times.saturate_ms = sat.saturate_ms;
  r.stats.egraph_nodes = sat.nodes;
  r.stats.egraph_classes = sat.classes;
  r.stats.iterations = sat.iterations;
  r.stats.stop_reason = sat.stop_reason;

  // Template kinds the (mutation) rules proved equal to an extern node: the
  // extern becomes that template, which declares its in-place write and takes
  // prologues, when the kind binds to the same types and mutates the same inputs.
  std::map<NodeId, std::vector<std::string>> retargeted;
  for (auto& alt : sat.template_alternatives(work)) {
    Node& n = work[alt.node];
    const TemplateKind* k = reg.find(alt.kind);
    std::vector<TensorType> ts;
    for (NodeId i : n.inputs) ts.push_back(work[i].type);
    std::string err;
    auto b = k ? reg.bind(*k, ts, err) : std::nullopt;
    const char* why = !k ? "unknown template kind"
                      : !b ? "the kind does not bind to the extern's input types"
                      : (b->out.dtype != n.type.dtype || b->out.shape != n.type.shape) ? "the kind's output type differs from the extern's"
                      : k->mutated_inputs() != std::get<ExternAttrs>(n.attrs).mutates ? "the kind mutates other inputs than the extern"
                                                                                        : "";
    if (opts.trace) {
      auto e = opts.trace->event("template-alternative");
      e.str("node", n.name).str("kind", alt.kind).boolean("taken", *why == 0);
      if (*why) e.str("why", why);
    }
    if (*why) continue;
    n.op = Op::template_;
    n.attrs = TemplateAttrs{alt.kind};
    sat.retarget(alt.node, alt.kind);
    retargeted[alt.node] = alt.rules;
  }

  auto t1 = Clock::now();
  fusion_detail::ChoiceSink choice;
  if (opts.trace)
    choice = [&](NodeId consumer, NodeId producer, fusion_detail::Family f, bool fused, const char* why) {
      auto e = opts.trace->event("extraction-choice");
      e.str("consumer", work[consumer].name)
          .str("producer", work[producer].name)
          .str("family", fusion_detail::family_name(f))
          .boolean("fused", fused);
      if (!fused) e.str("why", why);
    };
  auto part = fusion_detail::partition(
      work, reg, fam, opts.multi_output, [&](NodeId n, size_t slot) { return sat.read_fusable(work, n, slot); },
      choice);
  r.stats.times.extract_ms = ms_since(t1);

  auto t2 = Clock::now();
  std::map<std::string, size_t> uses;
  std::vector<int> group_of(work.size(), -1);
  for (size_t i = 0; i < part.groups.size(); ++i)
    for (NodeId n : part.groups[i].nodes) group_of[n] = int(i);
  for (size_t i = 0; i < part.groups.size(); ++i) {
    auto& rl = part.groups[i].rules;
    auto add_rule = [&](const std::string& x) {
      if (std::find(rl.begin(), rl.end(), x) == rl.end()) rl.push_back(x);
    };
    // The exact rewrites behind each read computed inside the kernel, and
    // behind each extern that became a template.
    for (NodeId c : part.groups[i].nodes)
      if (auto it = retargeted.find(c); it != retargeted.end())
        for (auto& x : it->second) add_rule(x);
    for (NodeId c : part.groups[i].nodes)
      for (size_t slot = 0; slot < work[c].inputs.size(); ++slot)
        if (group_of[work[c].inputs[slot]] == int(i))
          for (auto& x : sat.read_rules(work, c, slot)) add_rule(x);
    // Choices of extraction over whole kernels, not rewrites of one term.
    for (auto f : part.families[i]) {
      if (f == fusion_detail::horizontal || f == fusion_detail::multi_output_epilogue || f == fusion_detail::multi_reduction)
        for (auto& rule : by_family[f]) add_rule(rule);
      uses[std::string(fusion_detail::family_name(f))]++;
    }
  }
  r.plan = plan_detail::build_plan(work, reg, std::move(part.groups));
  r.stats.times.plan_ms = ms_since(t2);

  if (opts.trace) {
    // What extraction made of the rules' alternatives: one event per kernel.
    for (size_t i = 0; i < r.plan.kernels.size(); ++i) {
      auto& k = r.plan.kernels[i];
      std::string nodes = "[", rl = "[";
      for (auto& n : k.nodes) nodes += (nodes.size() > 1 ? "," : "") + eg::json_quote(n);
      for (auto& x : k.rules) rl += (rl.size() > 1 ? "," : "") + eg::json_quote(x);
      opts.trace->event("kernel-formed")
          .str("kernel", k.name)
          .num("index", int64_t(i))
          .str("kind", kernel_kind_name(k.kind))
          .raw("nodes", nodes + "]")
          .raw("rules", rl + "]")
          .real("cost", k.cost);
    }
  }

  auto t3 = Clock::now();
  r.ok = true;
  if (opts.validate) {
    Diagnostics vd;
    r.ok = validate_plan(r.plan, reg, vd);
    for (auto& d : vd.all()) diags.add(d);
  }
  r.stats.times.validate_ms = ms_since(t3);

  r.stats.kernels_before = r.unfused.kernels.size();
  r.stats.kernels_after = r.plan.kernels.size();
  r.stats.bytes_before = r.unfused.bytes_moved();
  r.stats.bytes_after = r.plan.bytes_moved();
  r.stats.rule_uses.assign(uses.begin(), uses.end());
  return r;
}

namespace {
std::string ms(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}
}  // namespace

std::string compile_report_text(const CompileResult& r) {
  auto& s = r.stats;
  std::ostringstream o;
  o << "graph " << r.plan.graph_name << ":\n";
  o << "  kernels: " << s.kernels_before << " -> " << s.kernels_after << "\n";
  o << "  bytes moved: " << s.bytes_before << " -> " << s.bytes_after << "\n";
  o << "  e-graph: " << s.egraph_nodes << " nodes, " << s.egraph_classes << " classes, " << s.iterations
    << " iterations, stopped: " << s.stop_reason << "\n";
  o << "  time (ms): parse " << ms(s.times.parse_ms) << ", encode " << ms(s.times.encode_ms) << ", saturate " << ms(s.times.saturate_ms) << ", extract "
    << ms(s.times.extract_ms) << ", plan " << ms(s.times.plan_ms) << ", validate " << ms(s.times.validate_ms)
    << ", total " << ms(s.times.total_ms()) << "\n";
  if (!s.rule_uses.empty()) {
    o << "  rules:";
    for (auto& [n, c] : s.rule_uses) o << " " << n << " x" << c << ";";
    o << "\n";
  }
  return o.str();
}

std::string compile_report_json(const CompileResult& r) {
  auto& s = r.stats;
  std::ostringstream o;
  o << "{\"graph\":" << eg::json_quote(r.plan.graph_name) << ",\"kernels_before\":" << s.kernels_before
    << ",\"kernels_after\":" << s.kernels_after << ",\"bytes_before\":" << s.bytes_before
    << ",\"bytes_after\":" << s.bytes_after << ",\"egraph_nodes\":" << s.egraph_nodes
    << ",\"egraph_classes\":" << s.egraph_classes << ",\"iterations\":" << s.iterations << ",\"stop_reason\":" << eg::json_quote(s.stop_reason) << ",\"valid\":" << (r.ok ? "true" : "false") << ",\"time_ms\":{\"parse\":" << ms(s.times.parse_ms) << ",\"encode\":" << ms(s.times.encode_ms)
    << ",\"saturate\":" << ms(s.times.saturate_ms) << ",\"extract\":" << ms(s.times.extract_ms)
    << ",\"plan\":" << ms(s.times.plan_ms) << ",\"validate\":" << ms(s.times.validate_ms)
    << ",\"total\":" << ms(s.times.total_ms()) << "},\"rule_uses\":{";
  for (size_t i = 0; i < s.rule_uses.size(); ++i)
    o << (i ? "," : "") << "\"" << s.rule_uses[i].first << "\":" << s.rule_uses[i].second;
  o << "}}";
  return o.str();
}

}  // namespace egfuse
