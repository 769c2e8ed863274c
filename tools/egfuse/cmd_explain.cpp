// `egfuse explain RULES A B`: saturate until A = B is proven (or a limit),
// print the proof as a chain of rule applications, and replay it with the
// proof checker. Exit 0 when proven and checked, 1 otherwise.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "egfuse/explain.hpp"
#include "egfuse/rewrite.hpp"
#include "egfuse/rule_ast.hpp"
#include "egfuse/trace.hpp"
#include "tools/egfuse/command.hpp"

namespace {
using namespace egfuse;

std::function<int()> setup_explain(CLI::App& sub) {
  struct Options {
    std::string rule_file, a, b, schedule, ruleset;
    int64_t iters = 30, nodes = 20000;
    double time_s = 10;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  sub.add_option("rules", o->rule_file, "rule file")->required();
  sub.add_option("a", o->a, "first term (s-expression)")->required();
  sub.add_option("b", o->b, "second term (s-expression)")->required();
  sub.add_option("--schedule", o->schedule, "run this schedule (default: 'default' if declared)");
  sub.add_option("--ruleset", o->ruleset, "run only this ruleset with the limits below");
  sub.add_option("--iter", o->iters, "iteration limit (without a schedule)");
  sub.add_option("--nodes", o->nodes, "e-node limit (without a schedule)");
  sub.add_option("--time", o->time_s, "time limit in seconds (without a schedule)");
  sub.add_flag("--json", o->json, "print the proof as JSON");
  return [o]() {
    Diagnostics diags;
    rules::RuleSet rs = rules::load_rules({o->rule_file}, diags);
    if (diags.has_errors()) {
      diags.sort();
      std::cerr << diags.render(false);
      return 1;
    }
    eg::EGraphOptions opts;
    opts.explanations = true;
    eg::EGraph g(opts);
    eg::declare_ops(rs, g);
    eg::Term ta = eg::parse_term(o->a), tb = eg::parse_term(o->b);
    eg::Id a = g.add_term(ta), b = g.add_term(tb);
    auto goal = [&](const eg::EGraph& eg) { return eg.find(a) == eg.find(b); };
    std::string sched = o->schedule.empty() && o->ruleset.empty() && rs.find_schedule("default") ? "default" : o->schedule;
    std::vector<eg::RunReport> reports;
    if (!sched.empty()) {
      const rules::Schedule* s = rs.find_schedule(sched);
      if (!s) throw Error("no schedule '" + sched + "' in " + o->rule_file);
      reports = eg::run_schedule(g, rs, *s, nullptr, &std::cerr, goal);
    } else {
      eg::RunnerOptions ro;
      ro.limits = {o->iters, o->nodes, o->time_s};
      ro.goal = goal;
      eg::Runner r(g, eg::compile_ruleset(rs, o->ruleset, g), ro);
      reports.push_back(r.run());
    }
    auto proof = eg::explain_ids(g, a, b);
    if (!proof) {
      std::cerr << "not proven: " << o->a << " = " << o->b << " (" << reports.back().summary() << ")\n";
      return 1;
    }
    auto chk = eg::check_proof(*proof, rs.rules);
    if (o->json) {
      std::cout << "{\"proven\":true,\"checked\":" << (chk.ok ? "true" : "false") << ",\"steps\":[";
      for (size_t i = 0; i < proof->size(); ++i) {
        const auto& s = (*proof)[i];
        std::cout << (i ? "," : "") << "{\"term\":" << eg::json_quote(eg::to_string(s.term))
                  << ",\"rule\":" << eg::json_quote(s.rule) << ",\"location\":" << eg::json_quote(s.location)
                  << ",\"backward\":" << (s.backward ? "true" : "false") << ",\"position\":[";
        for (size_t k = 0; k < s.position.size(); ++k) std::cout << (k ? "," : "") << s.position[k];
        std::cout << "]}";
      }
      std::cout << "]}\n";
    } else {
      std::cout << eg::to_string(*proof);
      if (chk.ok)
        std::cout << "proof checked: " << proof->size() - 1 << " rewrite steps\n";
      else
        std::cout << "proof check FAILED at step " << chk.step << ": " << chk.message << "\n";
    }
    return chk.ok ? 0 : 1;
  };
}

}  // namespace

EGFUSE_COMMAND(explain, "explain", "Prove two terms equal with a rule file and print the checked proof", setup_explain);
