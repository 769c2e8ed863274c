// Queries over a loaded trace: summary, per-rule statistics, why / why-not a
// node was fused, proofs of equality from recorded unions, one iteration, and
// the difference between two runs.
#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <sstream>

#include "egfuse/diagnostics.hpp"
#include "egfuse/trace_query.hpp"

namespace egfuse::trace {
namespace {

using Event = TraceFile::Event;

struct RuleStats {
  std::string loc;
  int64_t matches = 0, applied = 0, noop = 0, guard_failures = 0, bans = 0;
  double search_ms = 0;  // from rule_search events
  std::map<std::string, int64_t> by_guard;
};

std::map<std::string, RuleStats> rule_stats(const TraceFile& t) {
  std::map<std::string, RuleStats> out;
  for (auto& e : t.events()) {
    if (e.kind != "match" && e.kind != "apply" && e.kind != "guard_fail" && e.kind != "ban" &&
        e.kind != "rule_search")
      continue;
    auto& s = out[t.str(e, "rule")];
    if (s.loc.empty()) s.loc = t.str(e, "loc");
    if (e.kind == "rule_search") s.search_ms += t.real(e, "ms");
    else if (e.kind == "match") ++s.matches;
    else if (e.kind == "ban") ++s.bans;
    else if (e.kind == "guard_fail") {
      ++s.guard_failures;
      ++s.by_guard[t.str(e, "guard")];
    } else if (t.boolean(e, "changed")) ++s.applied;
    else ++s.noop;
  }
  return out;
}

// Union-find replayed from `union` events: which recorded ids ended in one class.
struct Unions {
  std::map<int64_t, int64_t> parent;
  int64_t find(int64_t x) {
    auto it = parent.find(x);
    if (it == parent.end() || it->second == x) return x;
    return it->second = find(it->second);
  }
  void unite(int64_t a, int64_t b) {
    a = find(a), b = find(b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);
    parent.emplace(a, a);
  }
};

Unions replay_unions(const TraceFile& t) {
  Unions u;
  for (auto& e : t.events())
    if (e.kind == "union") u.unite(t.num(e, "a"), t.num(e, "b"));
  return u;
}

// Classes named by a graph node (from `term` events) or given as a number.
std::set<int64_t> classes_of(const TraceFile& t, const std::string& node) {
  std::set<int64_t> out;
  for (auto& e : t.events())
    if (e.kind == "term" && t.str(e, "node") == node) out.insert(t.num(e, "class"));
  if (out.empty() && !node.empty() && node.find_first_not_of("0123456789") == std::string::npos)
    out.insert(std::stoll(node));
  return out;
}

std::set<int64_t> class_closure(const TraceFile& t, const std::set<int64_t>& seeds) {
  Unions u = replay_unions(t);
  std::set<int64_t> roots, out;
  for (auto c : seeds) roots.insert(u.find(c));
  for (auto& [x, p] : u.parent)
    if (roots.count(u.find(x))) out.insert(x);
  out.insert(seeds.begin(), seeds.end());
  return out;
}

std::string join(const std::vector<std::string>& xs, const char* sep = ", ") {
  std::string out;
  for (auto& x : xs) out += (out.empty() ? "" : sep) + x;
  return out;
}

// RULE names a rule, or the stem of a numbered family (template-prologue: template-prologue-0, -1, ...).
bool rule_in_family(const std::string& rule, const std::string& want) {
  if (rule == want) return true;
  if (rule.size() <= want.size() + 1 || rule.compare(0, want.size(), want) != 0 || rule[want.size()] != '-') return false;
  return rule.find_first_not_of("0123456789", want.size() + 1) == std::string::npos;
}

bool node_known(const TraceFile& t, const std::string& node) {
  for (auto& e : t.events()) {
    if (e.kind == "term" && t.str(e, "node") == node) return true;
    if (e.kind == "graph-node" && t.str(e, "name") == node) return true;
    if (e.kind == "kernel-formed")
      for (auto& n : t.str_list(e, "nodes"))
        if (n == node) return true;
  }
  return false;
}

}  // namespace

std::string summary(const TraceFile& t) {
  std::ostringstream os;
  os << "trace " << t.path() << " (schema " << t.version() << "): " << t.events().size() << " events\n";
  std::vector<std::tuple<int64_t, int64_t, int64_t>> growth;
  std::string stop = "(no stop event)";
  std::map<std::string, int64_t> kinds;
  size_t kernels = 0;
  int64_t dropped = 0;
  for (auto& e : t.events()) {
    ++kinds[std::string(e.kind)];
    if (e.kind == "iteration") growth.push_back({e.iter, t.num(e, "nodes"), t.num(e, "classes")});
    if (e.kind == "stop") {
      stop = t.str(e, "reason") + " after " + std::to_string(t.num(e, "iterations")) + " iterations, " +
             std::to_string(t.num(e, "nodes")) + " e-nodes, " + std::to_string(t.num(e, "classes")) + " e-classes";
    }
    if (e.kind == "kernel-formed") ++kernels;
    if (e.kind == "truncated") dropped = t.num(e, "dropped", 0);
  }
  os << "saturation: " << stop << "\n";
  if (!growth.empty()) {
    os << "growth per iteration:\n  iter     e-nodes   e-classes\n";
    for (auto& [i, n, c] : growth) {
      char buf[96];
      snprintf(buf, sizeof buf, "  %4lld  %10lld  %10lld\n", (long long)i, (long long)n, (long long)c);
      os << buf;
    }
  }
  auto stats = rule_stats(t);
  std::vector<std::pair<std::string, RuleStats>> top(stats.begin(), stats.end());
  std::stable_sort(top.begin(), top.end(), [](auto& a, auto& b) { return a.second.matches > b.second.matches; });
  os << "top rules by matches (applications, guard failures):\n";
  for (size_t i = 0; i < top.size() && i < 10; ++i)
    os << "  " << top[i].first << " @ " << top[i].second.loc << ": " << top[i].second.matches << " matches, "
       << top[i].second.applied << " applied, " << top[i].second.guard_failures << " guard failures, "
       << top[i].second.search_ms << " ms searching\n";
  if (top.empty()) os << "  (no rule events)\n";
  if (kernels) os << "kernels formed: " << kernels << "\n";
  if (dropped) os << "warning: the trace was truncated; " << dropped << " events were dropped\n";
  os << "events by kind:";
  for (auto& [k, n] : kinds) os << " " << k << "=" << n;
  os << "\n";
  return os.str();
}

std::string rules_table(const TraceFile& t) {
  std::ostringstream os;
  auto stats = rule_stats(t);
  if (stats.empty()) return "no rule events in this trace\n";
  for (auto& [name, s] : stats) {
    os << name << " @ " << s.loc << "\n  matches " << s.matches << ", applied " << s.applied << " (" << s.noop
       << " already equal), guard failures " << s.guard_failures << ", bans " << s.bans << ", search time "
       << s.search_ms << " ms\n";
    for (auto& [g, n] : s.by_guard) os << "    guard " << g << " failed " << n << " times\n";
  }
  return os.str();
}

std::string rules_json(const TraceFile& t) {
  std::ostringstream os;
  os << "[";
  bool first = true;
  for (auto& [name, s] : rule_stats(t)) {
    os << (first ? "" : ",") << "{\"rule\":\"" << name << "\",\"loc\":\"" << s.loc << "\",\"matches\":" << s.matches
       << ",\"applied\":" << s.applied << ",\"noop\":" << s.noop << ",\"guard_failures\":" << s.guard_failures
       << ",\"bans\":" << s.bans << ",\"search_ms\":" << s.search_ms << ",\"by_guard\":{";
    bool f2 = true;
    for (auto& [g, n] : s.by_guard) {
      std::string esc;
      for (char c : g) esc += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
      os << (f2 ? "" : ",") << "\"" << esc << "\":" << n;
      f2 = false;
    }
    os << "}}";
    first = false;
  }
  os << "]\n";
  return os.str();
}

std::string why(const TraceFile& t, const std::string& node) {
  if (!node_known(t, node)) throw Error("no node named '" + node + "' in " + t.path());
  std::ostringstream os;
  for (auto& e : t.events()) {
    if (e.kind != "kernel-formed") continue;
    auto nodes = t.str_list(e, "nodes");
    if (std::find(nodes.begin(), nodes.end(), node) == nodes.end()) continue;
    os << node << " is computed in kernel " << t.str(e, "kernel") << " (" << t.str(e, "kind") << ") with "
       << join(nodes) << "\n";
    auto rules = t.str_list(e, "rules");
    os << "  formed by: " << (rules.empty() ? "no rule (a kernel of its own)" : join(rules, "; ")) << "\n";
  }
  bool chain = false;
  for (auto& e : t.events()) {
    if (e.kind != "extraction-choice") continue;
    std::string c = t.str(e, "consumer"), p = t.str(e, "producer");
    if ((c != node && p != node) || !t.boolean(e, "fused")) continue;
    if (!chain) os << "fusion decisions:\n";
    chain = true;
    os << "  " << p << " -> " << c << ": fused (" << t.str(e, "family") << ")\n";
  }
  auto cls = class_closure(t, classes_of(t, node));
  int shown = 0;
  for (auto& e : t.events()) {
    if (e.kind != "apply" || !t.boolean(e, "changed")) continue;
    if (!cls.count(t.num(e, "class")) && !cls.count(t.num(e, "result"))) continue;
    if (shown++ == 0) os << "rewrites of its e-class:\n";
    if (shown > 20) continue;
    os << "  iteration " << e.iter << ": " << t.str(e, "rule") << " @ " << t.str(e, "loc") << " (class "
       << t.num(e, "class") << " = class " << t.num(e, "result") << ")\n";
  }
  if (shown > 20) os << "  ... " << shown - 20 << " more\n";
  if (os.str().empty()) os << node << ": no kernel, fusion decision or rewrite mentions it in this trace\n";
  return os.str();
}

std::string why_not(const TraceFile& t, const std::string& rule, const std::string& node) {
  if (!node_known(t, node)) throw Error("no node named '" + node + "' in " + t.path());
  std::ostringstream os;
  auto cls = class_closure(t, classes_of(t, node));
  int64_t matches = 0, applied = 0;
  std::vector<std::string> failures;
  std::string loc;
  for (auto& e : t.events()) {
    if (e.kind != "match" && e.kind != "guard_fail" && e.kind != "apply") continue;
    std::string name = t.str(e, "rule");
    if (!rule_in_family(name, rule)) continue;
    if (loc.empty()) loc = t.str(e, "loc");
    if (!cls.count(t.num(e, "class"))) continue;
    if (e.kind == "match") ++matches;
    if (e.kind == "apply" && t.boolean(e, "changed")) ++applied;
    if (e.kind == "guard_fail")
      failures.push_back("iteration " + std::to_string(e.iter) + ": " + name + ": guard " + t.str(e, "guard") +
                         " failed; it saw " + t.str(e, "values"));
  }
  os << "rule " << rule << (loc.empty() ? "" : " @ " + loc) << " at " << node << ":\n";
  if (loc.empty()) os << "  the rule never matched anywhere in this run (is it in the schedule's ruleset?)\n";
  else if (matches == 0 && failures.empty())
    os << "  its left side never matched the e-class of " << node
       << " (rules match at their root: the consumer for epilogue and inlining rules, the template for prologue rules)\n";
  for (auto& f : failures) os << "  " << f << "\n";
  if (applied) os << "  applied " << applied << " time(s): the rewrite is in the e-graph\n";
  for (auto& e : t.events()) {
    if (e.kind != "extraction-choice") continue;
    std::string c = t.str(e, "consumer"), p = t.str(e, "producer");
    if (c != node && p != node) continue;
    if (t.boolean(e, "fused")) {
      os << "  extraction fused " << p << " into " << c << " (" << t.str(e, "family") << ")\n";
    } else {
      os << "  extraction kept " << p << " -> " << c << " apart (" << t.str(e, "family") << "): " << t.str(e, "why");
      auto fused_cost = t.raw(e, "cost_fused"), apart_cost = t.raw(e, "cost_apart");
      if (!fused_cost.empty()) os << "; cost fused " << fused_cost << " vs apart " << apart_cost;
      os << "\n";
    }
  }
  return os.str();
}

std::string explain(const TraceFile& t, const std::string& a, const std::string& b) {
  auto ca = classes_of(t, a), cb = classes_of(t, b);
  if (ca.empty()) throw Error("'" + a + "' names no node or e-class of " + t.path());
  if (cb.empty()) throw Error("'" + b + "' names no node or e-class of " + t.path());
  // union events as edges, in order; BFS gives a shortest chain of merges
  struct Edge {
    int64_t to;
    size_t ev;
  };
  std::map<int64_t, std::vector<Edge>> adj;
  const auto& evs = t.events();
  for (size_t i = 0; i < evs.size(); ++i)
    if (evs[i].kind == "union") {
      int64_t x = t.num(evs[i], "a"), y = t.num(evs[i], "b");
      adj[x].push_back({y, i});
      adj[y].push_back({x, i});
    }
  std::map<int64_t, std::pair<int64_t, size_t>> prev;
  std::deque<int64_t> q(ca.begin(), ca.end());
  for (auto c : ca) prev[c] = {c, size_t(-1)};
  int64_t hit = -1;
  while (!q.empty() && hit < 0) {
    int64_t x = q.front();
    q.pop_front();
    if (cb.count(x)) hit = x;
    for (auto& ed : adj[x])
      if (!prev.count(ed.to)) {
        prev[ed.to] = {x, ed.ev};
        q.push_back(ed.to);
      }
  }
  if (hit < 0) return a + " and " + b + " were not proven equal in this run\n";
  std::vector<std::string> steps;
  for (int64_t x = hit; prev[x].second != size_t(-1); x = prev[x].first) {
    const Event& e = evs[prev[x].second];
    std::string why = t.str(e, "why");
    std::string by = why == "rule" ? "rule " + t.str(e, "rule") + " @ " + t.str(e, "loc") : why;
    steps.push_back("class " + std::to_string(prev[x].first) + " = class " + std::to_string(x) + "  by " + by +
                    " (iteration " + std::to_string(e.iter) + ")");
  }
  std::reverse(steps.begin(), steps.end());
  std::ostringstream os;
  os << a << " = " << b << " in " << steps.size() << " step(s):\n";
  for (auto& s : steps) os << "  " << s << "\n";
  return os.str();
}

std::string step(const TraceFile& t, int64_t n) {
  std::ostringstream os;
  std::map<std::string, int64_t> kinds, applied, failed;
  std::string size, rebuild;
  for (auto& e : t.events()) {
    if (e.iter != n || e.kind == "header") continue;
    ++kinds[std::string(e.kind)];
    if (e.kind == "iteration")
      size = std::to_string(t.num(e, "nodes")) + " e-nodes, " + std::to_string(t.num(e, "classes")) + " e-classes";
    if (e.kind == "apply" && t.boolean(e, "changed")) ++applied[t.str(e, "rule") + " @ " + t.str(e, "loc")];
    if (e.kind == "guard_fail") ++failed[t.str(e, "rule") + ": " + t.str(e, "guard")];
    if (e.kind == "rebuild")
      rebuild = std::to_string(t.num(e, "congruence")) + " congruence unions, then " + std::to_string(t.num(e, "nodes")) +
                " e-nodes, " + std::to_string(t.num(e, "classes")) + " e-classes";
    if (e.kind == "ban") os << "banned " << t.str(e, "rule") << " until iteration " << t.num(e, "until") << "\n";
  }
  if (kinds.empty()) throw Error("iteration " + std::to_string(n) + " does not occur in " + t.path());
  std::ostringstream head;
  head << "iteration " << n << (size.empty() ? "" : ": starts with " + size) << "\n";
  head << "  events:";
  for (auto& [k, c] : kinds) head << " " << k << "=" << c;
  head << "\n";
  for (auto& [r, c] : applied) head << "  applied " << r << " x" << c << "\n";
  for (auto& [r, c] : failed) head << "  guard failed " << r << " x" << c << "\n";
  if (!rebuild.empty()) head << "  rebuild: " << rebuild << "\n";
  return head.str() + os.str();
}

std::string diff(const TraceFile& a, const TraceFile& b) {
  std::ostringstream os;
  auto sa = rule_stats(a), sb = rule_stats(b);
  std::set<std::string> names;
  for (auto& [n, s] : sa) names.insert(n);
  for (auto& [n, s] : sb) names.insert(n);
  os << "rules (applied / matches / guard failures): " << a.path() << " -> " << b.path() << "\n";
  size_t changed_rules = 0;
  for (auto& n : names) {
    RuleStats x = sa.count(n) ? sa[n] : RuleStats{}, y = sb.count(n) ? sb[n] : RuleStats{};
    if (x.applied == y.applied && x.matches == y.matches && x.guard_failures == y.guard_failures) continue;
    ++changed_rules;
    os << "  " << n << ": " << x.applied << "/" << x.matches << "/" << x.guard_failures << " -> " << y.applied << "/"
       << y.matches << "/" << y.guard_failures;
    if (!sa.count(n)) os << " (only in the second run)";
    if (!sb.count(n)) os << " (only in the first run)";
    os << "\n";
  }
  if (!changed_rules) os << "  no rule fired differently\n";
  auto kernels = [](const TraceFile& t) {
    std::map<std::string, std::string> out;  // node set -> kernel name
    for (auto& e : t.events())
      if (e.kind == "kernel-formed") out[join(t.str_list(e, "nodes"))] = t.str(e, "kernel");
    return out;
  };
  auto ka = kernels(a), kb = kernels(b);
  os << "kernels: " << ka.size() << " -> " << kb.size() << "\n";
  for (auto& [nodes, name] : ka)
    if (!kb.count(nodes)) os << "  - " << name << " [" << nodes << "]\n";
  for (auto& [nodes, name] : kb)
    if (!ka.count(nodes)) os << "  + " << name << " [" << nodes << "]\n";
  return os.str();
}

}  // namespace egfuse::trace
