// egfuse eval: evaluate a graph with the reference interpreter on random (or
// given) inputs and print a summary of each output, or everything as JSON.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "egfuse/interp.hpp"
#include "tools/egfuse/command.hpp"
#include "tools/egfuse/common.hpp"

namespace egfuse::cli {
namespace {
struct EvalOptions {
  std::string graph;
  std::vector<std::string> rules, inputs;
  uint64_t seed = 0;
  bool json = false;
  int show = 6;
};

// NAME=FILE: a JSON array (nested arrays are flattened) or whitespace-separated numbers.
void read_input(const std::string& spec, const Graph& g, std::map<std::string, Tensor>& values) {
  auto eq = spec.find('=');
  if (eq == std::string::npos || eq == 0) throw Error("--input expects NAME=FILE, got '" + spec + "'");
  std::string name = spec.substr(0, eq), path = spec.substr(eq + 1);
  auto it = values.find(name);
  if (it == values.end() || !g.find(name)) throw Error("--input " + name + ": the graph has no input named '" + name + "'");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open file");
  std::stringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  std::vector<double> data;
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '[') {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const std::exception& e) {
      throw Error(path + ": not valid JSON: " + e.what());
    }
    std::function<void(const nlohmann::json&)> flatten = [&](const nlohmann::json& v) {
      if (v.is_array()) {
        for (auto& x : v) flatten(x);
      } else if (v.is_number() || v.is_boolean()) {
        data.push_back(v.get<double>());
      } else {
        throw Error(path + ": expected numbers in the array");
      }
    };
    flatten(j);
  } else {
    std::istringstream in(text);
    std::string tok;
    while (in >> tok) {
      char* end = nullptr;
      double v = std::strtod(tok.c_str(), &end);
      if (end != tok.c_str() + tok.size()) throw Error(path + ": '" + tok + "' is not a number");
      data.push_back(v);
    }
  }
  Tensor& t = it->second;
  if (int64_t(data.size()) != t.numel())
    throw Error(path + ": " + std::to_string(data.size()) + " values for input '" + name + "' of type " +
                to_string(t.type) + " (" + std::to_string(t.numel()) + " elements)");
  for (size_t i = 0; i < data.size(); ++i) t.data[i] = round_to(t.type.dtype, data[i]);
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string summary(const Tensor& t, int show) {
  std::string out = to_string(t.type);
  if (t.data.empty()) return out + "  (empty)";
  double lo = t.data[0], hi = t.data[0], sum = 0;
  for (double v : t.data) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    sum += v;
  }
  out += "  min " + number(lo) + "  max " + number(hi) + "  mean " + number(sum / double(t.data.size())) + "  [";
  for (int i = 0; i < show && i < int(t.data.size()); ++i) out += (i ? ", " : "") + number(t.data[size_t(i)]);
  return out + (int(t.data.size()) > show ? ", ...]" : "]");
}

nlohmann::json to_json(const std::string& name, const Tensor& t) {
  return {{"name", name}, {"dtype", std::string(dtype_name(t.type.dtype))}, {"shape", t.type.shape}, {"data", t.data}};
}
}  // namespace

EGFUSE_COMMAND(eval, "eval", "Evaluate a graph with the reference interpreter on random or given inputs", [](CLI::App& sub) {
  auto o = std::make_shared<EvalOptions>();
  sub.add_option("graph", o->graph, "Graph file (docs/graph-format.md)")->required();
  sub.add_option("--seed", o->seed, "Seed of the random inputs")->default_val(0);
  sub.add_option("--input", o->inputs,
                 "NAME=FILE: values of one input (a JSON array or whitespace-separated numbers, row-major)");
  sub.add_option("--show", o->show, "Values printed per output in the summary")->default_val(6);
  sub.add_flag("--json", o->json, "Print inputs, outputs and mutated inputs in full as JSON");
  add_rules_option(sub, o->rules);
  return std::function<int()>([o] {
    Diagnostics diags;
    TemplateRegistry reg = load_registry(o->rules, diags);
    auto g = diags.has_errors() ? std::nullopt : load_graph_file(o->graph, reg, diags, true);
    if (!g) return std::max(1, report(diags));
    report(diags);
    auto inputs = random_inputs(*g, o->seed, reg);
    for (auto& spec : o->inputs) read_input(spec, *g, inputs);
    auto given = inputs;
    auto outputs = evaluate(*g, inputs, reg);
    // Inputs whose storage a template or extern wrote.
    std::set<std::string> mutated;
    for (NodeId id = 0; id < g->size(); ++id)
      if ((*g)[id].op == Op::mutation_output) mutated.insert((*g)[storage_root(*g, id)].name);
    if (o->json) {
      nlohmann::json j = {{"graph", g->name}, {"seed", o->seed}};
      j["inputs"] = nlohmann::json::array();
      for (NodeId id : g->inputs()) j["inputs"].push_back(to_json((*g)[id].name, given.at((*g)[id].name)));
      j["outputs"] = nlohmann::json::array();
      for (auto& out : g->outputs) j["outputs"].push_back(to_json(out.name, outputs.at(out.name)));
      j["mutated_inputs"] = nlohmann::json::array();
      for (auto& m : mutated) j["mutated_inputs"].push_back(to_json(m, inputs.at(m)));
      std::cout << j.dump() << "\n";
      return 0;
    }
    std::cout << "graph " << g->name << " (seed " << o->seed << ")\n";
    for (auto& out : g->outputs) std::cout << "  output " << out.name << ": " << summary(outputs.at(out.name), o->show) << "\n";
    for (auto& m : mutated) std::cout << "  mutated " << m << ": " << summary(inputs.at(m), o->show) << "\n";
    return 0;
  });
});

}  // namespace egfuse::cli
