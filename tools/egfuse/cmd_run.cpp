// egfuse run: compile a graph with the standard fusion rules, run the plan on a
// backend (vulkan, cuda), and compare every output (and every mutated input)
// with the reference interpreter on the same random inputs.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "egfuse/backend.hpp"
#include "egfuse/fusion.hpp"
#include "egfuse/import.hpp"
#include "egfuse/interp.hpp"
#include "egfuse/rule_ast.hpp"
#include "tools/egfuse/command.hpp"
#include "tools/egfuse/common.hpp"

namespace egfuse::cli {
namespace {

struct RunCliOptions {
  std::string graph, backend = "vulkan", emit_dir;
  std::vector<std::string> rules;
  int device = -1, reps = 0;
  uint64_t seed = 1;
  bool unfused = false, json = false;
};

struct Row {
  std::string name, what;
  DType dtype;
  Comparison c;
  Tolerance tol;
};

int run_command(const RunCliOptions& o) {
  Diagnostics diags;
  TemplateRegistry reg = load_registry(o.rules, diags);
  if (diags.has_errors()) return report(diags, o.json);
  // A torch.export archive is imported on the fly; its weights replace the random inputs.
  std::optional<Graph> g;
  std::map<std::string, Tensor> weights;
  if (is_pt2_path(o.graph)) {
    ImportedProgram prog = import_pt2(o.graph, reg, diags);
    if (!diags.has_errors()) {
      g = std::move(prog.graph);
      weights = std::move(prog.weights);
      verify(*g, reg, diags);
    }
  } else {
    g = load_graph_file(o.graph, reg, diags, true);
  }
  if (!g) return report(diags, o.json);
  std::vector<std::string> files;
  for (auto& f : rules::standard_rule_files())
    if (std::filesystem::exists(f)) files.push_back(f);
  files.insert(files.end(), o.rules.begin(), o.rules.end());
  rules::RuleSet rs = rules::load_rules(files, diags);
  if (diags.has_errors()) return report(diags, o.json);
  CompileResult cr = compile_graph(*g, rs, reg, CompileOptions{}, diags);
  if (!cr.ok) return std::max(1, report(diags, o.json));
  const Plan& plan = o.unfused ? cr.unfused : cr.plan;

  auto be = make_backend(o.backend);
  std::string why;
  if (!be->available(why)) {
    std::cerr << "egfuse run: backend " << o.backend << " is not available here: " << why << "\n";
    return 77;
  }
  if (!o.emit_dir.empty()) {
    std::filesystem::create_directories(o.emit_dir);
    for (auto& f : be->emit(plan, reg, false)) {
      std::ofstream out(std::filesystem::path(o.emit_dir) / f.name, std::ios::binary);
      out << f.contents;
      if (!out) throw Error(o.emit_dir + "/" + f.name + ": cannot write");
    }
  }

  auto inputs = random_inputs(*g, o.seed, reg);
  for (auto& [name, w] : weights) inputs[name] = w;
  auto ref_inputs = inputs, dev_inputs = inputs;
  auto want = evaluate(*g, ref_inputs, reg);
  RunOptions ro;
  ro.device = o.device;
  ro.timing_reps = o.reps;
  RunResult got = be->run(plan, dev_inputs, reg, ro);

  std::vector<Row> rows;
  bool ok = true;
  for (auto& [name, ref] : want) {
    auto it = got.outputs.find(name);
    if (it == got.outputs.end()) throw Error("backend returned no output '" + name + "'");
    Tolerance tol = tolerance_for(ref.type.dtype);
    rows.push_back({name, "output", ref.type.dtype, compare(it->second, ref, tol), tol});
  }
  for (NodeId n : g->inputs())
    if (std::get<InputAttrs>((*g)[n].attrs).is_mutable) {
      const std::string& name = (*g)[n].name;
      Tolerance tol = tolerance_for((*g)[n].type.dtype);
      rows.push_back({name, "mutated input", (*g)[n].type.dtype, compare(dev_inputs.at(name), ref_inputs.at(name), tol), tol});
    }
  for (auto& r : rows) ok = ok && r.c.ok;
  // Relative error over the reference's non-zero elements (|ref| = 0 makes it infinite).
  auto finite_rel = [](const Tensor& a, const Tensor& b) {
    double m = 0;
    for (size_t i = 0; i < a.data.size() && i < b.data.size(); ++i)
      if (b.data[i] != 0) m = std::max(m, std::abs(a.data[i] - b.data[i]) / std::abs(b.data[i]));
    return m;
  };
  for (auto& r : rows)
    r.c.max_rel = r.what == "output" ? finite_rel(got.outputs.at(r.name), want.at(r.name))
                                     : finite_rel(dev_inputs.at(r.name), ref_inputs.at(r.name));

  if (o.json) {
    std::cout << "{\"graph\":\"" << g->name << "\",\"backend\":\"" << o.backend << "\",\"device\":\"" << got.device
              << "\",\"kernels\":" << plan.kernels.size() << ",\"fused\":" << (o.unfused ? "false" : "true")
              << ",\"ok\":" << (ok ? "true" : "false") << ",\"median_ms\":" << got.median_ms << ",\"results\":[";
    for (size_t i = 0; i < rows.size(); ++i) {
      auto& r = rows[i];
      std::cout << (i ? "," : "") << "{\"name\":\"" << r.name << "\",\"kind\":\"" << r.what << "\",\"dtype\":\""
                << dtype_name(r.dtype) << "\",\"max_abs\":" << r.c.max_abs << ",\"max_rel\":" << r.c.max_rel
                << ",\"ok\":" << (r.c.ok ? "true" : "false") << "}";
    }
    std::cout << "]}\n";
  } else {
    std::cout << "graph " << g->name << ": " << plan.kernels.size() << " kernel(s), " << (o.unfused ? "unfused" : "fused")
              << ", on " << got.device << " (" << o.backend << ")\n";
    char line[256];
    std::snprintf(line, sizeof line, "%-20s %-14s %-5s %12s %12s  %s\n", "name", "kind", "dtype", "max abs", "max rel",
                  "within tolerance");
    std::cout << line;
    for (auto& r : rows) {
      std::snprintf(line, sizeof line, "%-20s %-14s %-5s %12.3g %12.3g  %s (abs %g, rel %g)\n", r.name.c_str(),
                    r.what.c_str(), std::string(dtype_name(r.dtype)).c_str(), r.c.max_abs, r.c.max_rel,
                    r.c.ok ? "yes" : "NO", r.tol.abs, r.tol.rel);
      std::cout << line;
    }
    if (o.reps > 0) {
      std::cout << "time: median " << got.median_ms << " ms over " << o.reps << " runs\n";
      for (size_t i = 0; i < got.kernel_ms.size() && i < plan.kernels.size(); ++i)
        std::cout << "  " << plan.kernels[i].name << ": " << got.kernel_ms[i] << " ms\n";
    }
  }
  return ok ? 0 : 1;
}

}  // namespace

EGFUSE_COMMAND(run, "run", "Compile a graph, run it on a backend and compare every output with the interpreter",
               [](CLI::App& sub) -> std::function<int()> {
                 auto o = std::make_shared<RunCliOptions>();
                 sub.add_option("graph", o->graph, "Graph file (.graph)")->required()->check(CLI::ExistingFile);
                 sub.add_option("--backend", o->backend, "vulkan or cuda")->check(CLI::IsMember({"vulkan", "cuda"}));
                 sub.add_option("--device", o->device, "Device index (default: a discrete GPU, else the CPU one)");
                 sub.add_option("--seed", o->seed, "Seed of the random inputs");
                 add_rules_option(sub, o->rules);
                 sub.add_flag("--unfused", o->unfused, "Run the unfused plan (one kernel per node)");
                 sub.add_option("--reps", o->reps, "Also time the plan this many times (median)");
                 sub.add_option("--emit", o->emit_dir, "Also write the kernels' code (.spvasm and .spv) to DIR");
                 sub.add_flag("--json", o->json, "Print the results as JSON");
                 return [o] { return run_command(*o); };
               });

}  // namespace egfuse::cli
