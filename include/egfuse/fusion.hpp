// Fusion: graph -> kernel plan. Parses nothing itself: takes a verified graph,
// a checked rule set (the standard rules: fusion.rules, mutation.rules) and the
// template registry, and decides which nodes share a kernel. See docs/fusion.md.
#pragma once

#include <string>
#include <vector>

#include "egfuse/diagnostics.hpp"
#include "egfuse/ir.hpp"
#include "egfuse/plan.hpp"
#include "egfuse/rule_ast.hpp"

namespace egfuse {

namespace eg {
class Trace;
}

struct CompileOptions {
  bool multi_output = true;     // a template kernel may store its raw result and a fused result
  bool horizontal = true;       // independent pointwise kernels of one iteration space that share a read
  bool multi_reduction = true;  // several reductions over the same rows in one kernel (softmax, layernorm)
  // Most buffers (distinct reads + stored values) one kernel may bind: Vulkan
  // devices limit storage buffers per shader (lavapipe: 32). 0: no limit.
  size_t max_kernel_buffers = 32;
  bool validate = true;         // run validate_plan on the result (errors go to diags)
  std::string schedule = "fusion";  // the schedule of the rule set to run
  eg::Trace* trace = nullptr;   // optional sink for fusion events (not owned)
};

struct StageTimes {
  double parse_ms = 0;  // filled by the caller that parsed the graph (egfuse compile)
  double encode_ms = 0, saturate_ms = 0, extract_ms = 0, plan_ms = 0, validate_ms = 0;
  double total_ms() const { return parse_ms + encode_ms + saturate_ms + extract_ms + plan_ms + validate_ms; }
};

struct CompileStats {
  size_t kernels_before = 0, kernels_after = 0;
  int64_t bytes_before = 0, bytes_after = 0;
  size_t egraph_nodes = 0, egraph_classes = 0;
  size_t iterations = 0;
  std::string stop_reason;      // "saturated", "iteration limit", "node limit", "time limit", ...
  StageTimes times;
  // How often each rule family formed a kernel (rule name -> count), sorted by name.
  std::vector<std::pair<std::string, size_t>> rule_uses;
};

struct CompileResult {
  Plan plan;
  Plan unfused;
  CompileStats stats;
  bool ok = false;              // false when validation failed (see diags)
};

// Throws egfuse::Error only for a graph that cannot be planned at all; problems
// with the rules or the produced plan go to diags.
CompileResult compile_graph(const Graph& g, const rules::RuleSet& rules, const TemplateRegistry& reg,
                            const CompileOptions& opts, Diagnostics& diags);

// Human-readable report: kernels and bytes before/after, e-graph size, stop
// reason and time per stage. JSON form carries the same figures.
std::string compile_report_text(const CompileResult& r);
std::string compile_report_json(const CompileResult& r);

}  // namespace egfuse
