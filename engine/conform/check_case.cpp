// Runs one conformance case: loads its rules and graph, compiles, and checks
// every expectation. A failure says what was expected, what happened, and the
// `egfuse` command that shows why.
#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

#include "egfuse/backend.hpp"
#include "egfuse/conform.hpp"
#include "egfuse/egraph.hpp"
#include "egfuse/fusion.hpp"
#include "egfuse/graph_text.hpp"
#include "egfuse/interp.hpp"
#include "egfuse/rewrite.hpp"
#include "egfuse/rule_ast.hpp"
#include "egfuse/templates.hpp"

namespace egfuse::conform {
namespace fs = std::filesystem;

namespace {

std::string join(const std::vector<std::string>& xs, const char* sep = ", ") {
  std::string out;
  for (auto& x : xs) out += (out.empty() ? "" : sep) + x;
  return out;
}

std::string where(const Expectation& e) { return e.span.where() + ": expect " + e.kind; }

// Does a diagnostic list satisfy `expect error X` (a code, or a message fragment)?
bool has_error(const Diagnostics& d, const std::string& want) {
  for (auto& x : d.all())
    if (x.severity == Severity::error && (x.code == want || x.message.find(want) != std::string::npos)) return true;
  return false;
}

std::string first_errors(const Diagnostics& d) {
  std::string out;
  int n = 0;
  for (auto& x : d.all()) {
    if (x.severity != Severity::error) continue;
    out += "\n    " + x.span.where() + ": " + x.message + (x.code.empty() ? "" : " [" + x.code + "]");
    if (++n == 5) break;
  }
  return out;
}

std::string option(const Case& c, const std::string& key, const std::string& dflt) {
  for (auto& [k, v] : c.options)
    if (k == key) return v;
  return dflt;
}

// ---------------------------------------------------------------- term cases
void check_terms(const Case& c, const rules::RuleSet& rs, CaseResult& r) {
  eg::EGraph g;
  eg::declare_ops(rs, g);
  std::vector<std::pair<const Expectation*, std::pair<eg::Id, eg::Id>>> pairs;
  for (auto& e : c.expects) {
    if (e.kind != "equal" && e.kind != "not-equal") {
      r.failures.push_back(where(e) + ": only equal/not-equal apply to a case without a graph");
      continue;
    }
    try {
      eg::Id a = g.add_term(eg::parse_term(e.args[0]));
      eg::Id b = g.add_term(eg::parse_term(e.args[1]));
      pairs.push_back({&e, {a, b}});
    } catch (const Error& ex) {
      r.failures.push_back(where(e) + ": bad term: " + ex.what());
    }
  }
  g.rebuild();
  eg::RunnerOptions opts;
  opts.limits.iter_limit = std::stoll(option(c, "iter", "30"));
  opts.limits.node_limit = std::stoll(option(c, "nodes", "20000"));
  opts.limits.time_limit_s = std::stod(option(c, "time", "10"));
  // stop early once every `equal` pair is proven
  opts.goal = [&](const eg::EGraph& eg) {
    for (auto& [e, ab] : pairs)
      if (e->kind == "equal" && eg.find(ab.first) != eg.find(ab.second)) return false;
    return std::any_of(pairs.begin(), pairs.end(), [](auto& p) { return p.first->kind == "equal"; }) &&
           std::none_of(pairs.begin(), pairs.end(), [](auto& p) { return p.first->kind == "not-equal"; });
  };
  eg::Runner runner(g, eg::compile_ruleset(rs, option(c, "ruleset", ""), g), opts);
  auto report = runner.run();
  for (auto& [e, ab] : pairs) {
    bool same = g.find(ab.first) == g.find(ab.second);
    if (e->kind == "equal" && !same)
      r.failures.push_back(where(*e) + ": expected " + e->args[0] + " = " + e->args[1] + ", not proven (" +
                           report.summary() + "); see: egfuse saturate RULES '" + e->args[0] + "' '" + e->args[1] + "'");
    if (e->kind == "not-equal" && same)
      r.failures.push_back(where(*e) + ": expected " + e->args[0] + " and " + e->args[1] +
                           " to stay apart, but they were proven equal; see: egfuse explain RULES '" + e->args[0] +
                           "' '" + e->args[1] + "'");
  }
}

// ---------------------------------------------------------------- graph cases
struct KernelIndex {
  std::map<std::string, size_t> kernel_of;  // graph node name -> kernel index
  explicit KernelIndex(const Plan& p) {
    for (size_t k = 0; k < p.kernels.size(); ++k)
      for (auto& n : p.kernels[k].nodes) kernel_of.emplace(n, k);
  }
};

// Body nodes of kernel `k` downstream of (or feeding input `input` of) the body's template node.
std::optional<NodeId> body_template(const Graph& body) {
  for (NodeId i = 0; i < body.size(); ++i)
    if (body[i].op == Op::template_) return i;
  return std::nullopt;
}

std::string node_op_name(const Node& n) {
  if (n.op == Op::template_) return std::get<TemplateAttrs>(n.attrs).kind;
  return std::string(op_name(n.op));
}

std::set<std::string> ops_of(const Graph& body, const std::vector<NodeId>& ids) {
  std::set<std::string> out;
  for (NodeId i : ids) out.insert(node_op_name(body[i]));
  return out;
}

std::vector<NodeId> downstream(const Graph& body, NodeId t) {
  std::vector<bool> mark(body.size(), false);
  mark[t] = true;
  std::vector<NodeId> out;
  for (NodeId i = t + 1; i < body.size(); ++i) {
    for (NodeId in : body[i].inputs)
      if (mark[in]) mark[i] = true;
    if (mark[i] && body[i].op != Op::mutation_output) out.push_back(i);
  }
  return out;
}

std::vector<NodeId> upstream(const Graph& body, NodeId from) {
  std::vector<NodeId> out, stack{from};
  std::vector<bool> seen(body.size(), false);
  while (!stack.empty()) {
    NodeId n = stack.back();
    stack.pop_back();
    if (seen[n] || body[n].op == Op::input) continue;
    seen[n] = true;
    out.push_back(n);
    for (NodeId in : body[n].inputs) stack.push_back(in);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void check_numeric(const Expectation& e, const Graph& g, const Plan& plan, const TemplateRegistry& reg,
                   uint64_t seed, const RunConfig& cfg, CaseResult& r, std::vector<std::string>& skips, int& ran) {
  std::optional<Tolerance> tol;
  std::vector<std::string> backends;
  for (size_t i = 0; i < e.args.size(); ++i) {
    if (e.args[i] == "tol" && i + 2 < e.args.size()) {
      tol = Tolerance{std::stod(e.args[i + 1]), std::stod(e.args[i + 2])};
      i += 2;
    } else {
      backends.push_back(e.args[i]);
    }
  }
  auto inputs = random_inputs(g, seed, reg);
  auto ref_inputs = inputs;
  auto ref = evaluate(g, ref_inputs, reg);
  for (auto& b : backends) {
    if (b != "interp" && std::find(cfg.backends.begin(), cfg.backends.end(), b) == cfg.backends.end()) {
      skips.push_back(b + " not selected (--backends)");
      continue;
    }
    std::map<std::string, Tensor> got;
    auto run_inputs = inputs;
    ++ran;
    try {
      if (b == "interp") {
        got = evaluate_plan(plan, run_inputs, reg);
      } else {
        auto backend = make_backend(b);
        std::string why;
        if (!backend->available(why)) {
          skips.push_back(b + ": " + why);
          continue;
        }
        got = backend->run(plan, run_inputs, reg, {}).outputs;
      }
    } catch (const Error& ex) {
      r.failures.push_back(where(e) + " " + b + ": run failed: " + ex.what());
      continue;
    }
    // mutated inputs are outputs too: compare their final contents
    for (auto& [name, want] : ref_inputs) {
      auto it = run_inputs.find(name);
      if (it != run_inputs.end() && it->second.data != inputs[name].data) got.emplace("input:" + name, it->second);
      if (want.data != inputs[name].data) ref.emplace("input:" + name, want);
    }
    for (auto& [name, want] : ref) {
      auto it = got.find(name);
      if (it == got.end()) {
        r.failures.push_back(where(e) + " " + b + ": output '" + name + "' missing from the result");
        continue;
      }
      Tolerance t = tol ? *tol : tolerance_for(want.type.dtype);
      auto cmp = compare(it->second, want, t);
      if (!cmp.ok) {
        std::ostringstream os;
        os << where(e) << " " << b << ": output '" << name << "' differs from the interpreter: max abs "
           << cmp.max_abs << ", max rel " << cmp.max_rel << " (tolerance abs " << t.abs << ", rel " << t.rel
           << ", worst at element " << cmp.worst_index << ")";
        r.failures.push_back(os.str());
      }
    }
  }
}

void check_graph(const Case& c, const rules::RuleSet& rs, const TemplateRegistry& reg, const RunConfig& cfg,
                 CaseResult& r) {
  const Expectation* want_error = nullptr;
  for (auto& e : c.expects)
    if (e.kind == "error") want_error = &e;

  Diagnostics diags;
  auto g = parse_graph(c.file->path, *c.graph_text, reg, diags);
  if (g) verify(*g, reg, diags);
  CompileResult res;
  if (g && !diags.has_errors()) {
    CompileOptions opts;
    opts.multi_output = option(c, "multi-output", "on") == "on";
    opts.horizontal = option(c, "horizontal", "on") == "on";
    opts.multi_reduction = option(c, "multi-reduction", "on") == "on";
    try {
      res = compile_graph(*g, rs, reg, opts, diags);
    } catch (const Error& ex) {
      diags.error({}, "E-compile", ex.what());
    }
  }
  if (diags.has_errors()) {
    if (want_error && has_error(diags, want_error->args[0])) return;
    r.failures.push_back(std::string(want_error ? where(*want_error) + ": expected error '" + want_error->args[0] + "', got" : "the case did not compile:") +
                         first_errors(diags));
    return;
  }
  if (want_error) {
    r.failures.push_back(where(*want_error) + ": expected error '" + want_error->args[0] +
                         "', but the graph compiled to " + std::to_string(res.plan.kernels.size()) + " kernels");
    return;
  }
  const Plan& plan = res.plan;
  KernelIndex idx(plan);
  std::string show = "see: egfuse conform " + c.file->path + " --explain";
  auto kernel_of = [&](const Expectation& e, const std::string& n) -> std::optional<size_t> {
    auto it = idx.kernel_of.find(n);
    if (it == idx.kernel_of.end()) {
      r.failures.push_back(where(e) + ": node '" + n + "' is not computed by any kernel of the plan");
      return std::nullopt;
    }
    return it->second;
  };
  std::set<std::string> fired;
  for (auto& k : plan.kernels)
    for (auto& rule : k.rules) fired.insert(rule.substr(0, rule.find(" @")));
  for (auto& [rule, n] : res.stats.rule_uses)
    if (n > 0) fired.insert(rule);
  std::vector<std::string> skips;
  int numeric_ran = 0;
  uint64_t seed = std::stoull(option(c, "seed", "1"));

  for (auto& e : c.expects) {
    if (e.kind == "kernels") {
      size_t want = std::stoul(e.args[0]), got = plan.kernels.size();
      if (e.op == "==" ? got != want : got > want)
        r.failures.push_back(where(e) + ": expected " + (e.op == "==" ? "" : "at most ") + std::to_string(want) +
                             " kernels, got " + std::to_string(got) + ":\n" + plan.to_text() + show);
    } else if (e.kind == "same-kernel" || e.kind == "different-kernels") {
      std::vector<std::pair<std::string, size_t>> ks;
      for (auto& n : e.args)
        if (auto k = kernel_of(e, n)) ks.push_back({n, *k});
      for (size_t i = 0; i < ks.size(); ++i)
        for (size_t j = i + 1; j < ks.size(); ++j) {
          bool same = ks[i].second == ks[j].second;
          if (same != (e.kind == "same-kernel"))
            r.failures.push_back(where(e) + ": '" + ks[i].first + "' is in " + plan.kernels[ks[i].second].name +
                                 ", '" + ks[j].first + "' in " + plan.kernels[ks[j].second].name +
                                 "; see: egfuse trace why-not <rule> " + ks[j].first);
        }
    } else if (e.kind == "epilogue" || e.kind == "no-epilogue" || e.kind == "prologue" || e.kind == "no-prologue") {
      auto k = kernel_of(e, e.args[0]);
      if (!k) continue;
      const PlanKernel& kern = plan.kernels[*k];
      auto t = body_template(kern.body);
      if (!t) {
        r.failures.push_back(where(e) + ": kernel " + kern.name + " holding '" + e.args[0] + "' has no template");
        continue;
      }
      std::vector<NodeId> part;
      size_t first_op = 1;
      if (e.kind == "epilogue" || e.kind == "no-epilogue") {
        part = downstream(kern.body, *t);
      } else {
        const TemplateKind* kind = reg.find(std::get<TemplateAttrs>(kern.body[*t].attrs).kind);
        auto in = kind ? kind->input_index(e.args[1]) : std::nullopt;
        if (!in) {
          r.failures.push_back(where(e) + ": template '" + e.args[0] + "' has no input named '" + e.args[1] + "'");
          continue;
        }
        part = upstream(kern.body, kern.body[*t].inputs[size_t(*in)]);
        first_op = 2;
      }
      auto have = ops_of(kern.body, part);
      std::string what = e.kind.find("epilogue") != std::string::npos ? "epilogue" : "prologue on " + e.args[1];
      if (e.kind.rfind("no-", 0) == 0) {
        if (!part.empty())
          r.failures.push_back(where(e) + ": expected no " + what + " on '" + e.args[0] + "', kernel " + kern.name +
                               " computes " + join({have.begin(), have.end()}));
        continue;
      }
      if (part.empty()) {
        r.failures.push_back(where(e) + ": expected a " + what + " on '" + e.args[0] + "', kernel " + kern.name +
                             " has none; see: egfuse trace why-not " +
                             (what == "epilogue" ? "epilogue " : "prologue ") + e.args[0]);
        continue;
      }
      for (size_t i = first_op; i < e.args.size(); ++i)
        if (!have.count(e.args[i]))
          r.failures.push_back(where(e) + ": expected op " + e.args[i] + " in the " + what + " of '" + e.args[0] +
                               "', found " + join({have.begin(), have.end()}));
    } else if (e.kind == "fires" || e.kind == "never-fires") {
      // NAME is a rule, or the stem of a numbered family (template-epilogue: template-epilogue-0, -1, ...)
      const std::string& want = e.args[0];
      auto in_family = [&](const std::string& rule) {
        if (rule == want) return true;
        if (rule.size() <= want.size() + 1 || rule.compare(0, want.size(), want) != 0 || rule[want.size()] != '-')
          return false;
        return rule.find_first_not_of("0123456789", want.size() + 1) == std::string::npos;
      };
      bool declared = std::any_of(rs.rules.begin(), rs.rules.end(), [&](auto& rule) { return in_family(rule.name); });
      if (!declared) {
        r.failures.push_back(where(e) + ": no rule named '" + want + "' (or '" + want + "-N') in the case's rules");
        continue;
      }
      bool did = std::any_of(fired.begin(), fired.end(), in_family);
      if (did != (e.kind == "fires"))
        r.failures.push_back(where(e) + ": rule '" + want + "' " + (did ? "fired" : "never fired") +
                             "; rules that formed kernels: " + join({fired.begin(), fired.end()}) +
                             "; see: egfuse trace rules");
    } else if (e.kind == "numeric") {
      check_numeric(e, *g, plan, reg, seed, cfg, r, skips, numeric_ran);
    } else if (e.kind == "equal" || e.kind == "not-equal") {
      r.failures.push_back(where(e) + ": equal/not-equal apply to cases without a graph");
    }
  }
  // A case is skipped only when every numeric check it asked for was skipped;
  // otherwise it passes, and the skipped backends are named beside it.
  if (r.failures.empty() && !skips.empty()) {
    r.skip_reason = join(skips, "; ");
    if (numeric_ran == 0) r.status = CaseResult::Status::skipped;
  }
}

}  // namespace

CaseResult run_case(const std::string& path, const RunConfig& cfg) {
  CaseResult r;
  r.path = path;
  r.name = fs::path(path).stem().string();
  Diagnostics diags;
  std::shared_ptr<const SourceFile> src;
  try {
    src = load_source(path);
  } catch (const Error& e) {
    r.status = CaseResult::Status::failed;
    r.failures.push_back(e.what());
    return r;
  }
  auto c = parse_case(src, diags);
  if (!c) {
    r.status = CaseResult::Status::failed;
    r.failures.push_back("malformed case:" + first_errors(diags));
    return r;
  }
  r.name = c->name;

  const Expectation* want_error = nullptr;
  for (auto& e : c->expects)
    if (e.kind == "error") want_error = &e;
  rules::RuleSet rs;
  Diagnostics rdiags;
  if (c->inline_rules) {
    rs = rules::load_rules_from_text(path, *c->inline_rules, rdiags);
  } else {
    std::vector<std::string> files = c->use_standard ? rules::standard_rule_files() : std::vector<std::string>{};
    files.insert(files.end(), c->rule_files.begin(), c->rule_files.end());
    rs = rules::load_rules(files, rdiags);
  }
  TemplateRegistry reg;
  if (!rdiags.has_errors()) rs.register_templates(reg, rdiags);
  if (rdiags.has_errors()) {
    if (!(want_error && has_error(rdiags, want_error->args[0]))) {
      r.failures.push_back(std::string(want_error ? where(*want_error) + ": expected error '" + want_error->args[0] +
                                                        "' from the rules, got"
                                                  : "the case's rules do not load:") +
                           first_errors(rdiags));
    }
  } else if (want_error && !c->graph_text) {
    r.failures.push_back(where(*want_error) + ": expected error '" + want_error->args[0] + "', but the rules loaded");
  } else if (c->terms_only()) {
    check_terms(*c, rs, r);
  } else {
    check_graph(*c, rs, reg, cfg, r);
  }
  if (!r.failures.empty()) r.status = CaseResult::Status::failed;
  return r;
}

}  // namespace egfuse::conform
