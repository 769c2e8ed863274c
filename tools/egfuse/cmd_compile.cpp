// egfuse compile: graph -> kernel plan through the standard fusion rules.
// Prints the plan and a report (kernels and bytes before/after, e-graph size,
// stop reason, time per stage); --json prints both as one JSON object.
#include <CLI/CLI.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "egfuse/backend.hpp"
#include "egfuse/fusion.hpp"
#include "egfuse/import.hpp"
#include "egfuse/interp.hpp"
#include "egfuse/plan.hpp"
#include "egfuse/rule_ast.hpp"
#include "egfuse/trace.hpp"
#include "tools/egfuse/command.hpp"
#include "tools/egfuse/common.hpp"

namespace egfuse::cli {
namespace {

struct CompileCliOptions {
  std::string graph;
  std::vector<std::string> rules;
  size_t max_kernel_buffers = CompileOptions{}.max_kernel_buffers;
  bool no_multi_output = false, no_multi_reduction = false, json = false, check = false, unfused = false;
  std::string trace, emit, out_dir;
};

// The fusion rules: the standard library plus the user's files.
rules::RuleSet load_fusion_rules(const std::vector<std::string>& extra, Diagnostics& diags) {
  std::vector<std::string> files;
  for (auto& f : rules::standard_rule_files())
    if (std::filesystem::exists(f)) files.push_back(f);
  files.insert(files.end(), extra.begin(), extra.end());
  return rules::load_rules(files, diags);
}

// Runs plan and graph on the same random inputs; prints the worst difference.
bool check_numerics(const Graph& g, const Plan& p, const TemplateRegistry& reg, std::ostream& out) {
  auto inputs = random_inputs(g, 1, reg);
  auto plan_inputs = inputs;
  auto want = evaluate(g, inputs, reg);
  auto got = evaluate_plan(p, plan_inputs, reg);
  bool ok = true;
  for (auto& [name, ref] : want) {
    auto it = got.find(name);
    if (it == got.end()) {
      out << "check: output " << name << " missing from the plan\n";
      ok = false;
      continue;
    }
    auto c = compare(it->second, ref, tolerance_for(ref.type.dtype));
    out << "check: " << name << (c.ok ? " ok" : " MISMATCH") << " (max abs " << c.max_abs << ")\n";
    ok = ok && c.ok;
  }
  for (auto& [name, ref] : inputs) {  // inputs written in place
    auto c = compare(plan_inputs.at(name), ref, tolerance_for(ref.type.dtype));
    if (!c.ok) out << "check: mutated input " << name << " MISMATCH (max abs " << c.max_abs << ")\n";
    ok = ok && c.ok;
  }
  return ok;
}

int run(const CompileCliOptions& o) {
  Diagnostics diags;
  TemplateRegistry reg = load_registry(o.rules, diags);
  if (diags.has_errors()) return report(diags, o.json);
  auto parse_start = std::chrono::steady_clock::now();
  std::optional<Graph> g;
  if (is_pt2_path(o.graph)) {
    ImportedProgram prog = import_pt2(o.graph, reg, diags);
    if (diags.has_errors()) return report(diags, o.json);
    g = std::move(prog.graph);
    if (!verify(*g, reg, diags)) return report(diags, o.json);
  } else {
    g = load_graph_file(o.graph, reg, diags, true);
  }
  if (!g) return report(diags, o.json);
  double parse_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - parse_start).count();
  rules::RuleSet rs = load_fusion_rules(o.rules, diags);
  if (diags.has_errors()) return report(diags, o.json);

  CompileOptions copts;
  copts.multi_output = !o.no_multi_output;
  copts.multi_reduction = !o.no_multi_reduction;
  copts.max_kernel_buffers = o.max_kernel_buffers;
  std::ofstream trace_file;
  std::unique_ptr<eg::Trace> trace;
  if (!o.trace.empty()) {
    trace_file.open(o.trace);
    if (!trace_file) throw Error(o.trace + ": cannot write the trace file");
    trace = std::make_unique<eg::Trace>(trace_file, eg::TraceOptions{.timing = true});
    copts.trace = trace.get();
  }
  CompileResult r = compile_graph(*g, rs, reg, copts, diags);
  r.stats.times.parse_ms = parse_ms;
  trace.reset();
  const Plan& plan = o.unfused ? r.unfused : r.plan;

  if (!o.emit.empty()) {
    // ptx -> the CUDA backend, spirv -> the Vulkan backend; code only, nothing runs.
    auto be = make_backend(o.emit == "ptx" ? "cuda" : "vulkan");
    std::filesystem::create_directories(o.out_dir);
    for (auto& f : be->emit(plan, reg, false)) {
      std::ofstream out(std::filesystem::path(o.out_dir) / f.name, std::ios::binary);
      out << f.contents;
      if (!out) throw Error(o.out_dir + "/" + f.name + ": cannot write");
    }
  }

  bool numerics_ok = true;
  std::ostringstream check_text;
  if (o.check) numerics_ok = check_numerics(*g, plan, reg, check_text);

  if (o.json) {
    std::cout << "{\"report\":" << compile_report_json(r) << ",\"plan\":" << plan.to_json();
    if (o.check) std::cout << ",\"check\":" << (numerics_ok ? "true" : "false");
    std::cout << "}\n";
  } else {
    std::cout << plan.to_text() << "\n" << compile_report_text(r) << check_text.str();
  }
  int status = report(diags, o.json);
  if (!r.ok || !numerics_ok) return 1;
  return status;
}

}  // namespace

EGFUSE_COMMAND(compile, "compile", "Fuse a graph into a kernel plan with the standard rules and print it",
               [](CLI::App& sub) -> std::function<int()> {
                 auto o = std::make_shared<CompileCliOptions>();
                 sub.add_option("graph", o->graph, "Graph file (.graph) or torch.export archive (.pt2)")->required()->check(CLI::ExistingFile);
                 add_rules_option(sub, o->rules);
                 sub.add_flag("--no-multi-output", o->no_multi_output,
                              "Never store a template's raw result next to a fused epilogue");
                 sub.add_flag("--no-multi-reduction", o->no_multi_reduction,
                              "At most one reduction per kernel (no softmax or layer norm in one kernel)");
                 sub.add_option("--max-kernel-buffers", o->max_kernel_buffers,
                                "Most buffers one kernel may bind (Vulkan limits storage buffers per shader); 0: no limit")
                     ->capture_default_str();
                 sub.add_flag("--json", o->json, "Print the report and the plan as one JSON object");
                 sub.add_flag("--check", o->check, "Run plan and graph on random inputs in the interpreter and compare");
                 sub.add_flag("--unfused", o->unfused, "Print the unfused plan (one kernel per node) instead");
                 sub.add_option("--trace", o->trace, "Write fusion events (JSON lines) to FILE");
                 auto* emit = sub.add_option("--emit", o->emit, "Write the plan's kernels as ptx or spirv (with -o DIR)")
                                  ->check(CLI::IsMember({"ptx", "spirv"}));
                 sub.add_option("-o,--out", o->out_dir, "Directory for --emit")->needs(emit);
                 emit->needs(sub.get_option("--out"));
                 return [o] { return run(*o); };
               });

}  // namespace egfuse::cli
