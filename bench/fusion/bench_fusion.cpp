// Fusion benchmark: compile time of generated transformer-like graphs from
// about 1k to 10k nodes (24 heads per layer, 3..24 layers). Prints, per size,
// the time of each stage and the time per 1k nodes, so growth can be read off.
#include <chrono>
#include <ctime>
#include <cstdio>
#include <filesystem>

#include "bench/fusion/transformer.hpp"
#include "egfuse/fusion.hpp"
#include "egfuse/graph_text.hpp"

using namespace egfuse;

int main() {
  const TemplateRegistry& reg = TemplateRegistry::builtin();
  Diagnostics rd;
  std::vector<std::string> files;
  for (auto& f : rules::standard_rule_files())
    if (std::filesystem::exists(f)) files.push_back(f);
  rules::RuleSet rs = rules::load_rules(files, rd);
  if (rd.has_errors()) {
    std::fprintf(stderr, "%s", rd.render().c_str());
    return 1;
  }
  std::printf("%8s %7s %8s %8s %9s %9s %9s %9s %9s %9s %9s %11s %9s %s\n", "nodes", "layers", "kernels", "fused",
              "enodes", "parse_ms", "encode_ms", "sat_ms", "extr_ms", "plan_ms", "total_ms", "ms/1knodes", "cpu_ms",
              "stop");
  for (int layers : {3, 6, 12, 24}) {
    bench::TransformerShape shape;
    shape.layers = layers;
    shape.heads = 24;
    shape.dim = 384;
    Graph g = bench::transformer(shape, reg);
    std::string text = print_graph(g);
    auto t0 = std::chrono::steady_clock::now();
    std::clock_t c0 = std::clock();
    Diagnostics d;
    auto parsed = parse_graph("transformer.graph", text, reg, d);
    double parse_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!parsed) {
      std::fprintf(stderr, "%s", d.render().c_str());
      return 1;
    }
    CompileOptions opts;
    auto r = compile_graph(*parsed, rs, reg, opts, d);
    if (!r.ok) {
      std::fprintf(stderr, "%s", d.render().c_str());
      return 1;
    }
    double cpu_ms = 1000.0 * double(std::clock() - c0) / CLOCKS_PER_SEC;
    auto& t = r.stats.times;
    double total = parse_ms + t.total_ms();
    std::printf("%8zu %7d %8zu %8zu %9zu %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %11.2f %9.1f %s\n", parsed->size(), layers,
                r.stats.kernels_before, r.stats.kernels_after, r.stats.egraph_nodes, parse_ms, t.encode_ms,
                t.saturate_ms, t.extract_ms, t.plan_ms + t.validate_ms, total,
                total / (double(parsed->size()) / 1000), cpu_ms, r.stats.stop_reason.c_str());
  }
  return 0;
}
