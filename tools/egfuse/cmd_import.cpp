// egfuse import: read a torch.export .pt2 archive and print what was imported
// (ops met and how each was lowered, graph inputs, kernels before fusion), or
// write the graph text with -o.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <set>

#include "egfuse/import.hpp"
#include "egfuse/templates.hpp"
#include "tools/egfuse/command.hpp"
#if __has_include("egfuse/graph_text.hpp")
#include "egfuse/graph_text.hpp"
#define EGFUSE_IMPORT_HAS_GRAPH_TEXT 1
#endif

namespace egfuse::cli {
namespace {

struct ImportOptions {
  std::string model, output;
  bool json = false;
};

// Kernels of the unfused program: every node that computes (views, inputs,
// constants and mutation outputs do not).
int64_t unfused_kernels(const Graph& g) {
  int64_t k = 0;
  for (auto& n : g.nodes) {
    OpClass c = op_class(n.op);
    k += !(c == OpClass::input || c == OpClass::constant || c == OpClass::view || c == OpClass::mutation_output);
  }
  return k;
}

int run_import(const ImportOptions& o) {
  Diagnostics diags;
  ImportedProgram p = import_pt2(o.model, TemplateRegistry::builtin(), diags);
  if (diags.has_errors()) {
    std::cerr << diags.render();
    return 1;
  }
  if (diags.warning_count()) std::cerr << diags.render();
  const Graph& g = p.graph;
  int64_t weight_elems = 0;
  for (auto& [name, t] : p.weights) weight_elems += t.numel();
  std::map<std::string, int> by_op;
  int templates = 0, externs = 0;
  for (auto& n : g.nodes) {
    by_op[std::string(op_name(n.op))]++;
    templates += n.op == Op::template_;
    externs += n.op == Op::extern_;
  }
  if (!o.output.empty()) {
#ifdef EGFUSE_IMPORT_HAS_GRAPH_TEXT
    std::ofstream f(o.output);
    if (!f) throw Error(o.output + ": cannot write");
    f << print_graph(g);
#else
    throw Error("-o needs the graph text printer, which this build lacks");
#endif
  }
  if (o.json) {
    nlohmann::json j;
    j["model"] = o.model;
    j["torch_version"] = p.torch_version;
    j["schema_version"] = std::to_string(p.schema_major) + "." + std::to_string(p.schema_minor);
    j["user_inputs"] = p.user_inputs;
    j["weights"] = p.weights.size();
    j["weight_elements"] = weight_elems;
    j["aten_ops"] = p.op_counts;
    j["extern_fallbacks"] = p.extern_ops;
    j["nodes"] = g.size();
    j["nodes_by_op"] = by_op;
    j["templates"] = templates;
    j["kernels_unfused"] = unfused_kernels(g);
    nlohmann::json outs = nlohmann::json::array();
    for (auto& out : g.outputs) outs.push_back({{"name", out.name}, {"type", to_string(g[out.node].type)}});
    j["outputs"] = outs;
    j["warnings"] = p.warnings;
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << o.model << ": torch " << p.torch_version << ", schema " << p.schema_major << "." << p.schema_minor
            << "\n";
  std::cout << "inputs:";
  for (auto& u : p.user_inputs) std::cout << " " << u << ": " << to_string(g[*g.find(u)].type);
  std::cout << "\nweights: " << p.weights.size() << " tensors, " << weight_elems << " elements\n";
  std::cout << "aten ops (" << p.op_counts.size() << "):\n";
  std::set<std::string> ext(p.extern_ops.begin(), p.extern_ops.end());
  for (auto& [op, count] : p.op_counts)
    std::cout << "  " << count << "\t" << op << (ext.count(op) ? "\t[extern fallback]" : "") << "\n";
  std::cout << "graph: " << g.size() << " nodes, " << templates << " templates, " << externs << " extern kernels, "
            << unfused_kernels(g) << " kernels before fusion\n";
  for (auto& out : g.outputs) std::cout << "output " << out.name << ": " << to_string(g[out.node].type) << "\n";
  return 0;
}

}  // namespace

EGFUSE_COMMAND(import_, "import", "Import a torch.export .pt2 archive into an egfuse graph", [](CLI::App& sub) {
  auto o = std::make_shared<ImportOptions>();
  sub.add_option("model", o->model, "archive written by torch.export.save")->required();
  sub.add_option("-o,--output", o->output, "write the graph text to this file");
  sub.add_flag("--json", o->json, "print the summary as JSON");
  return [o] { return run_import(*o); };
});

}  // namespace egfuse::cli
