// `egfuse saturate RULES TERM...`: equality saturation of generic terms with
// the rules of RULES, then extraction of the best equivalent of each term.
#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <memory>

#include "egfuse/extract.hpp"
#include "egfuse/rewrite.hpp"
#include "egfuse/rule_ast.hpp"
#include "egfuse/trace.hpp"
#include "tools/egfuse/command.hpp"

namespace {
using namespace egfuse;

std::function<int()> setup_saturate(CLI::App& sub) {
  struct Options {
    std::string rule_file;
    std::vector<std::string> terms;
    std::string ruleset, schedule, scheduler = "simple", trace_file, target = "unit";
    int64_t iters = 30, nodes = 10000;
    double time_s = 5;
    bool json = false, no_extract = false;
  };
  auto o = std::make_shared<Options>();
  sub.add_option("rules", o->rule_file, "rule file")->required();
  sub.add_option("terms", o->terms, "terms as s-expressions, e.g. '(+ x 0)'")->required();
  sub.add_option("--schedule", o->schedule, "run this schedule of the rule file (default: 'default' if declared)");
  sub.add_option("--ruleset", o->ruleset, "run only this ruleset with the limits below (no schedule)");
  sub.add_option("--iter", o->iters, "iteration limit (without a schedule)");
  sub.add_option("--nodes", o->nodes, "e-node limit (without a schedule)");
  sub.add_option("--time", o->time_s, "time limit in seconds (without a schedule)");
  sub.add_option("--scheduler", o->scheduler, "simple or backoff (without a schedule)")
      ->check(CLI::IsMember({"simple", "backoff"}));
  sub.add_option("--trace", o->trace_file, "write trace events (JSON lines) to this file");
  sub.add_option("--target", o->target, "extraction cost parameters: unit, h100, lavapipe")
      ->check(CLI::IsMember({"unit", "h100", "lavapipe"}));
  sub.add_flag("--no-extract", o->no_extract, "only saturate");
  sub.add_flag("--json", o->json, "print one JSON object");
  return [o]() {
    Diagnostics diags;
    rules::RuleSet rs = rules::load_rules({o->rule_file}, diags);
    if (diags.has_errors()) {
      diags.sort();
      std::cerr << diags.render(false);
      return 1;
    }
    eg::EGraph g;
    std::unique_ptr<std::ofstream> trace_out;
    std::unique_ptr<eg::Trace> trace;
    if (!o->trace_file.empty()) {
      trace_out = std::make_unique<std::ofstream>(o->trace_file);
      if (!*trace_out) throw Error("cannot write " + o->trace_file);
      trace = std::make_unique<eg::Trace>(*trace_out, eg::TraceOptions{.timing = true});
      g.set_trace(trace.get());
    }
    eg::declare_ops(rs, g);
    std::vector<eg::Term> terms;
    std::vector<eg::Id> roots;
    for (auto& t : o->terms) {
      terms.push_back(eg::parse_term(t));
      roots.push_back(g.add_term(terms.back()));
    }
    std::vector<eg::RunReport> reports;
    std::string sched = o->schedule.empty() && o->ruleset.empty() && rs.find_schedule("default") ? "default" : o->schedule;
    if (!sched.empty()) {
      const rules::Schedule* s = rs.find_schedule(sched);
      if (!s) throw Error("no schedule '" + sched + "' in the rule files");
      reports = eg::run_schedule(g, rs, *s, nullptr, &std::cerr);
    } else {
      eg::RunnerOptions ro;
      ro.limits = {o->iters, o->nodes, o->time_s};
      ro.scheduler = o->scheduler == "backoff" ? eg::SchedulerKind::backoff : eg::SchedulerKind::simple;
      ro.progress = &std::cerr;
      eg::Runner r(g, eg::compile_ruleset(rs, o->ruleset, g), ro);
      reports.push_back(r.run());
    }
    eg::CostModel model(*eg::TargetParams::by_name(o->target));
    if (o->json) {
      std::cout << "{\"phases\":[";
      for (size_t i = 0; i < reports.size(); ++i)
        std::cout << (i ? "," : "") << "{\"stop\":" << eg::json_quote(eg::stop_reason_name(reports[i].stop))
                  << ",\"iterations\":" << reports[i].iterations.size() << ",\"nodes\":" << reports[i].nodes
                  << ",\"classes\":" << reports[i].classes << ",\"ms\":" << reports[i].total_ms << "}";
      std::cout << "],\"terms\":[";
    } else {
      for (auto& r : reports) std::cout << r.summary() << "\n";
    }
    for (size_t i = 0; i < terms.size(); ++i) {
      eg::Extraction ex;
      if (!o->no_extract) ex = eg::extract(g, roots[i], model);
      if (o->json) {
        std::cout << (i ? "," : "") << "{\"term\":" << eg::json_quote(eg::to_string(terms[i])) << ",\"class\":" << g.find(roots[i]);
        if (!o->no_extract)
          std::cout << ",\"best\":" << eg::json_quote(eg::to_string(ex.term)) << ",\"cost\":" << ex.cost
                    << ",\"method\":" << eg::json_quote(ex.method);
        std::cout << "}";
      } else if (!o->no_extract) {
        std::cout << eg::to_string(terms[i]) << " => " << eg::to_string(ex.term) << "  (cost " << ex.cost << ", "
                  << ex.method << ")\n";
      }
    }
    if (o->json) std::cout << "]}\n";
    return 0;
  };
}

}  // namespace

EGFUSE_COMMAND(saturate, "saturate", "Saturate terms with a rule file and extract the best equivalents", setup_saturate);
