// The runner: rule compilation from the rule AST, the simple and backoff
// schedulers, iteration/node/time limits, stop reasons, progress and trace.
#include <algorithm>
#include <cstdio>
#include <set>

#include "egfuse/rewrite.hpp"
#include "egfuse/trace.hpp"

namespace egfuse::eg {

namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

std::string rule_location(const rules::Rule& r) {
  if (!r.span.file) return "<rule>";
  return r.span.file->path + ":" + std::to_string(r.span.line);
}

void collect_vars(const rules::Pattern& p, std::set<std::string>& out) {
  if (p.kind == rules::Pattern::Kind::var || p.kind == rules::Pattern::Kind::varargs ||
      (p.kind == rules::Pattern::Kind::apply && p.op_is_var))
    out.insert(p.name);
  for (auto& a : p.args) collect_vars(a, out);
}

CompiledRule compile_direction(const rules::Rule& r, const rules::Pattern& lhs, const rules::Pattern& rhs,
                               bool backward, EGraph& g) {
  CompiledRule c;
  c.name = r.name;
  c.location = rule_location(r);
  c.backward = backward;
  c.rule_id = g.intern_rule(c.name, c.location);
  c.lhs = CompiledPattern::compile(lhs, g, c.vars);
  c.rhs = CompiledPattern::compile_build(rhs, g, c.vars, &c.lhs);
  c.lhs_build = CompiledPattern::compile_build(lhs, g, c.vars, &c.lhs, true);
  // Keep only the payload registers the builds read, renumbered densely.
  for (auto* prog : {&c.rhs, &c.lhs_build})
    for (auto& b : *prog) {
      if (b.payload_reg == ~0u) continue;
      auto it = std::find(c.kept_regs.begin(), c.kept_regs.end(), b.payload_reg);
      if (it == c.kept_regs.end()) {
        c.kept_regs.push_back(b.payload_reg);
        it = c.kept_regs.end() - 1;
      }
      b.payload_reg = uint32_t(it - c.kept_regs.begin());
    }
  if (r.guard) c.guard = *r.guard;
  c.source = &r;
  return c;
}
}  // namespace

std::string_view stop_reason_name(StopReason s) {
  switch (s) {
    case StopReason::saturated: return "saturated";
    case StopReason::iteration_limit: return "iteration limit";
    case StopReason::node_limit: return "node limit";
    case StopReason::time_limit: return "time limit";
    case StopReason::goal_reached: return "goal reached";
  }
  return "?";
}

std::string RunReport::summary() const {
  char buf[256];
  std::snprintf(buf, sizeof buf, "stop: %s after %zu iterations, %zu e-nodes, %zu e-classes, %.1f ms",
                std::string(stop_reason_name(stop)).c_str(), iterations.size(), nodes, classes, total_ms);
  return buf;
}

std::vector<CompiledRule> compile_rule(const rules::Rule& r, EGraph& g) {
  std::vector<CompiledRule> out;
  try {
    out.push_back(compile_direction(r, r.lhs, r.rhs, false, g));
    if (r.bidirectional) {
      std::set<std::string> lv, rv;
      collect_vars(r.lhs, lv);
      collect_vars(r.rhs, rv);
      bool rhs_binds_all = std::includes(rv.begin(), rv.end(), lv.begin(), lv.end());
      if (rhs_binds_all && r.rhs.kind != rules::Pattern::Kind::varargs)
        out.push_back(compile_direction(r, r.rhs, r.lhs, true, g));
    }
  } catch (const Error& e) {
    throw Error("rule '" + r.name + "': " + e.what());
  }
  return out;
}

std::vector<CompiledRule> compile_rules(const std::vector<rules::Rule>& rs, EGraph& g) {
  std::vector<CompiledRule> out;
  for (auto& r : rs)
    for (auto& c : compile_rule(r, g)) out.push_back(std::move(c));
  return out;
}

std::vector<CompiledRule> compile_ruleset(const rules::RuleSet& rs, const std::string& ruleset, EGraph& g) {
  std::vector<CompiledRule> out;
  const rules::Ruleset* set = nullptr;
  for (auto& s : rs.rulesets)
    if (s.name == ruleset) set = &s;
  for (auto& r : rs.rules) {
    bool member = ruleset.empty() || r.ruleset == ruleset ||
                  (set && std::find(set->rules.begin(), set->rules.end(), r.name) != set->rules.end());
    if (!member) continue;
    for (auto& c : compile_rule(r, g)) out.push_back(std::move(c));
  }
  return out;
}

void declare_ops(const rules::RuleSet& rs, EGraph& g) {
  for (auto& d : rs.ops) {
    OpInfo& info = g.op_info(g.op(d.name));
    for (auto& p : d.properties) {
      if (p == "pointwise") info.pointwise = true;
      if (p == "reduction") info.reduction = true;
      if (p == "view") info.view = true;
      if (p == "commutative") info.commutative = true;
    }
    if (d.name == "buf") info.materialize = true;
    if (d.name == "mutation_output" || d.name == "input") info.storage_leaf = true;
    if (!info.fold) info.fold = builtin_fold(d.name);
  }
  for (auto& t : rs.templates) {
    OpInfo& info = g.op_info(g.op(t.kind.name));
    info.is_template = true;
    info.epilogue = t.kind.epilogue;
    info.mutated_inputs.clear();
    info.prologue_inputs.clear();
    for (int64_t i : t.kind.mutated_inputs()) info.mutated_inputs.push_back(int32_t(i));
    for (int64_t i : t.kind.prologue_inputs()) info.prologue_inputs.push_back(int32_t(i));
    info.input_names.clear();
    for (auto& in : t.kind.inputs) info.input_names.push_back(in.name);
  }
}

// ---------------------------------------------------------------- runner
Runner::Runner(EGraph& g, std::vector<CompiledRule> rules, RunnerOptions opts)
    : g_(g), rules_(std::move(rules)), opts_(std::move(opts)), stats_(rules_.size()) {}

bool Runner::limit_hit(Clock::time_point start, StopReason& why) const {
  if (opts_.limits.time_limit_s >= 0 && ms_since(start) > opts_.limits.time_limit_s * 1000) {
    why = StopReason::time_limit;
    return true;
  }
  if (opts_.limits.node_limit >= 0 && int64_t(g_.num_nodes()) >= opts_.limits.node_limit) {
    why = StopReason::node_limit;
    return true;
  }
  return false;
}

RunReport Runner::run() {
  const auto start = Clock::now();
  const GuardRegistry& guards = opts_.guards ? *opts_.guards : default_guards_;
  Trace* tr = g_.trace();
  RunReport rep;
  g_.rebuild();
  bool stopped = false;
  for (int64_t iter = 0; !stopped; ++iter) {
    if (iter >= opts_.limits.iter_limit) {
      rep.stop = StopReason::iteration_limit;
      break;
    }
    if (limit_hit(start, rep.stop)) break;
    IterationReport it;
    it.iteration = iter;
    if (tr) {
      tr->iteration = iter;
      tr->event("iteration").num("nodes", int64_t(g_.num_nodes())).num("classes", int64_t(g_.num_classes()));
    }
    // ---- search every rule against the same e-graph
    auto t0 = Clock::now();
    std::vector<RuleMatches> found(rules_.size());
    for (size_t i = 0; i < rules_.size() && !stopped; ++i) {
      const CompiledRule& r = rules_[i];
      RuleStats& st = stats_[i];
      const bool timed = tr && tr->options().timing;
      auto rule_t0 = timed ? Clock::now() : Clock::time_point{};
      if (opts_.scheduler == SchedulerKind::backoff) {
        if (st.banned_until > iter) continue;
        size_t threshold = size_t(opts_.match_limit) << st.times_banned;
        found[i] = search(g_, r, threshold + 1);
        if (found[i].size() > threshold) {
          int64_t ban = opts_.ban_length << st.times_banned;
          st.times_banned++;
          st.banned_until = iter + ban;
          it.banned.push_back(r.name);
          if (tr) tr->event("ban").str("rule", r.name).str("loc", r.location).num("matches", int64_t(found[i].size()))
                      .num("threshold", int64_t(threshold)).num("until", st.banned_until);
          found[i] = {};
        }
      } else {
        found[i] = search(g_, r);
      }
      it.matches += found[i].size();
      if (timed)  // per-rule search time, for `egfuse trace rules` (only when asked for)
        tr->event("rule_search").str("rule", r.name).str("loc", r.location)
            .num("matches", int64_t(found[i].size()))
            .real("ms", std::chrono::duration<double, std::milli>(Clock::now() - rule_t0).count());
      if (limit_hit(start, rep.stop) && rep.stop == StopReason::time_limit) stopped = true;
    }
    it.search_ms = ms_since(t0);
    // ---- apply
    auto t1 = Clock::now();
    const bool explain = g_.options().explanations;
    std::vector<Id> subst_copy;
    for (size_t i = 0; i < rules_.size() && !stopped; ++i) {
      const CompiledRule& r = rules_[i];
      const RuleMatches& m = found[i];
      Justification why{Justification::by_rule, r.rule_id, r.backward};
      for (size_t j = 0; j < m.size(); ++j) {
        auto subst = m.subst(j);
        auto regs = m.reg(j);
        if (tr && tr->options().matches) {
          std::string s = "{";
          for (auto& v : r.vars) {
            if (s.size() > 1) s += ",";
            s += json_quote(v.name) + ":";
            s += v.kind == VarKind::op ? json_quote(g_.op_name(subst[v.slot])) : std::to_string(subst[v.slot]);
          }
          tr->event("match").str("rule", r.name).str("loc", r.location).num("class", m.classes[j]).raw("subst", s + "}");
        }
        if (r.guard) {
          GuardArgs ga{g_, r, subst, regs, *r.guard};
          GuardFailure gf;
          if (!eval_guard(guards, ga, tr ? &gf : nullptr)) {
            ++it.guard_failures;
            if (tr)
              tr->event("guard_fail").str("rule", r.name).str("loc", r.location).num("class", m.classes[j])
                  .str("guard", gf.guard).str("values", gf.values);
            continue;
          }
        }
        Id lhs_id, rhs_id;
        if (explain) {
          lhs_id = instantiate(g_, r.lhs_build, subst, regs, true);
          rhs_id = instantiate(g_, r.rhs, subst, regs, true);
        } else {
          lhs_id = m.classes[j];
          rhs_id = instantiate(g_, r.rhs, subst, regs, false);
        }
        bool changed = g_.merge(lhs_id, rhs_id, why);
        if (changed) ++it.applied;
        if (tr)
          tr->event("apply").str("rule", r.name).str("loc", r.location).num("class", m.classes[j])
              .num("result", g_.find(rhs_id)).boolean("changed", changed);
        if (opts_.limits.node_limit_exact && opts_.limits.node_limit >= 0 &&
            int64_t(g_.num_nodes()) >= opts_.limits.node_limit) {
          rep.stop = StopReason::node_limit;
          stopped = true;
          break;
        }
        if ((j & 1023) == 1023 && limit_hit(start, rep.stop) && rep.stop == StopReason::time_limit) {
          stopped = true;
          break;
        }
      }
      stats_[i].times_applied += int64_t(m.size());
    }
    it.apply_ms = ms_since(t1);
    auto t2 = Clock::now();
    it.congruences = g_.rebuild();
    it.rebuild_ms = ms_since(t2);
    it.nodes = g_.num_nodes();
    it.classes = g_.num_classes();
    rep.iterations.push_back(it);
    if (opts_.progress && ms_since(start) > 1000) {
      char buf[200];
      std::snprintf(buf, sizeof buf, "iteration %lld: %zu e-nodes, %zu e-classes, %zu matches, %zu applied, %.0f ms\n",
                    (long long)iter, it.nodes, it.classes, it.matches, it.applied, ms_since(start));
      *opts_.progress << buf << std::flush;
    }
    if (stopped) break;
    if (opts_.goal && opts_.goal(g_)) {
      rep.stop = StopReason::goal_reached;
      break;
    }
    if (it.applied == 0 && it.congruences == 0) {
      // Saturated, unless the backoff scheduler is hiding rules: then unban them all.
      bool any_banned = false;
      for (auto& st : stats_) {
        if (st.banned_until > iter) any_banned = true;
        st.banned_until = 0;
      }
      if (!any_banned) {
        rep.stop = StopReason::saturated;
        break;
      }
    }
  }
  rep.total_ms = ms_since(start);
  rep.nodes = g_.num_nodes();
  rep.classes = g_.num_classes();
  if (tr)
    tr->event("stop").str("reason", stop_reason_name(rep.stop)).num("iterations", int64_t(rep.iterations.size()))
        .num("nodes", int64_t(rep.nodes)).num("classes", int64_t(rep.classes));
  return rep;
}

std::vector<RunReport> run_schedule(EGraph& g, const rules::RuleSet& rs, const rules::Schedule& s,
                                    const GuardRegistry* guards, std::ostream* progress,
                                    const std::function<bool(const EGraph&)>& goal) {
  std::vector<RunReport> out;
  for (auto& ph : s.phases) {
    RunnerOptions o;
    if (ph.iter_limit) o.limits.iter_limit = *ph.iter_limit;
    if (ph.node_limit) o.limits.node_limit = *ph.node_limit;
    if (ph.time_limit_s) o.limits.time_limit_s = *ph.time_limit_s;
    o.scheduler = ph.scheduler == "backoff" ? SchedulerKind::backoff : SchedulerKind::simple;
    if (ph.match_limit) o.match_limit = *ph.match_limit;
    if (ph.ban_length) o.ban_length = *ph.ban_length;
    o.guards = guards;
    o.progress = progress;
    o.goal = goal;
    Runner r(g, compile_ruleset(rs, ph.ruleset, g), o);
    out.push_back(r.run());
    if (out.back().stop == StopReason::goal_reached) break;
  }
  return out;
}

}  // namespace egfuse::eg
