// egfuse trace: the rewrite-trace debugger (docs/trace.md).
#include <CLI/CLI.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "egfuse/diagnostics.hpp"
#include "egfuse/trace_query.hpp"
#include "tools/egfuse/command.hpp"

namespace egfuse::cli {
namespace {

struct TraceArgs {
  std::string file, file2, a, b, out, what = "plan";
  int64_t n = 0;
  bool json = false, force = false;
};

int write_out(const TraceArgs& a, const std::string& text) {
  if (a.out.empty() || a.out == "-") {
    std::cout << text;
    return 0;
  }
  if (std::filesystem::exists(a.out) && !a.force)
    throw Error(a.out + " exists; pass --force to overwrite it");
  std::ofstream o(a.out, std::ios::binary);
  if (!o || !(o << text)) throw Error("cannot write " + a.out);
  std::cerr << "wrote " << a.out << "\n";
  return 0;
}

}  // namespace

static std::function<int()> setup_trace(CLI::App& sub) {
                 auto a = std::make_shared<TraceArgs>();
                 auto which = std::make_shared<std::string>();
                 sub.require_subcommand(1);
                 auto add = [&](const char* name, const char* help) {
                   auto* s = sub.add_subcommand(name, help);
                   s->add_option("trace", a->file, "trace file (JSON lines)")->required();
                   s->callback([which, name] { *which = name; });
                   return s;
                 };
                 add("summary", "iterations, stop reason, e-graph growth, top rules");
                 add("rules", "per rule: matches, guard failures by guard, applications")
                     ->add_flag("--json", a->json, "JSON output");
                 add("why", "which rules and steps produced the kernel of NODE")
                     ->add_option("node", a->a, "graph node name")->required();
                 auto* wn = add("why-not", "did RULE match at NODE; which guard failed, with what values; was it chosen");
                 wn->add_option("rule", a->a, "rule name")->required();
                 wn->add_option("node", a->b, "graph node name")->required();
                 auto* ex = add("explain", "the chain of merges proving A = B (node names or e-class ids)");
                 ex->add_option("a", a->a)->required();
                 ex->add_option("b", a->b)->required();
                 add("step", "what iteration N did")->add_option("n", a->n, "iteration")->required();
                 add("diff", "what changed between two runs")->add_option("other", a->file2, "second trace")->required();
                 auto* r = add("render", "Graphviz picture: --what input|egraph|plan, -o FILE.dot or FILE.svg");
                 r->add_option("--what", a->what, "input, egraph or plan")
                     ->check(CLI::IsMember({"input", "egraph", "plan"}))
                     ->capture_default_str();
                 r->add_option("-o,--output", a->out, "output file (.svg runs Graphviz; default: DOT to stdout)");
                 r->add_flag("--force", a->force, "overwrite an existing output file");
                 auto* h = add("html", "one self-contained HTML report (pictures, rule statistics, kernels)");
                 h->add_option("-o,--output", a->out, "output .html file")->required();
                 h->add_flag("--force", a->force, "overwrite an existing output file");
                 return [a, which]() -> int {
                   auto t = trace::TraceFile::load(a->file);
                   const std::string& w = *which;
                   if (w == "summary") std::cout << trace::summary(t);
                   else if (w == "rules") std::cout << (a->json ? trace::rules_json(t) : trace::rules_table(t));
                   else if (w == "why") std::cout << trace::why(t, a->a);
                   else if (w == "why-not") std::cout << trace::why_not(t, a->a, a->b);
                   else if (w == "explain") std::cout << trace::explain(t, a->a, a->b);
                   else if (w == "step") std::cout << trace::step(t, a->n);
                   else if (w == "diff") std::cout << trace::diff(t, trace::TraceFile::load(a->file2));
                   else if (w == "render") {
                     std::string dot = a->what == "input"    ? trace::dot_input_graph(t)
                                       : a->what == "egraph" ? trace::dot_egraph(t)
                                                             : trace::dot_plan(t);
                     bool svg = a->out.size() > 4 && a->out.substr(a->out.size() - 4) == ".svg";
                     return write_out(*a, svg ? trace::dot_to_svg(dot) : dot);
                   } else if (w == "html") {
                     return write_out(*a, trace::html_report(t));
                   }
                   return 0;
                 };
               }

EGFUSE_COMMAND(trace, "trace", "Query and render a rewrite trace (egfuse compile --trace FILE)", setup_trace);

}  // namespace egfuse::cli
