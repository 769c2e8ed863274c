// Parse + check a rule file of 10,000 rules generated at run time and print
// the time (best and median of several runs). Target: under 200 ms.
// Usage: bench_rules [RULES] [RUNS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <string>
#include <vector>

#include "egfuse/rule_ast.hpp"
#include "engine/rules/syntax.hpp"

namespace {

// A mix like real rule files: call and s-expression patterns, variadic
// fusion-style rules, guards with and/or/not and comparisons, doc comments,
// rulesets and a schedule.
std::string generate(int n) {
  std::string s = "// generated\n";
  const int nops = 40;
  for (int i = 0; i < nops; ++i) {
    std::string k = std::to_string(i);
    s += "op f" + k + "{k: int}(a: T, b: T) -> T pointwise\n";
    s += "op g" + k + "(x: T) -> T pointwise\n";
    s += "op h" + k + "(a, b) commutative\n";
  }
  s += "op buf(e: T) -> T\n";
  int per_set = 500;
  for (int i = 0; i < n; ++i) {
    if (i % per_set == 0) s += (i ? "}\n" : "") + std::string("ruleset set") + std::to_string(i / per_set) + " {\n";
    std::string a = std::to_string(i % nops), b = std::to_string((i * 7 + 3) % nops), c = std::to_string((i * 13 + 5) % nops);
    std::string id = std::to_string(i);
    switch (i % 5) {
      case 0:
        s += "  /// Rule " + id + ".\n  rule r" + id + ": f" + a + "(g" + b + "(?x), " + id + ") => f" + a + "(" + id + ", g" + b +
             "(?x))\n    if rank(?x) == 2 and not is_const(?x)\n";
        break;
      case 1:
        s += "  rule r" + id + ": (h" + a + " ?a (h" + b + " ?b " + id + ")) => (h" + b + " (h" + a + " ?a ?b) " + id + ")\n";
        break;
      case 2:
        s += "  rule r" + id + ": ?p(?xs..., buf(f" + a + "(?q, " + id + ")), ?ys...) => ?p(?xs..., f" + a + "(?q, " + id +
             "), ?ys...)\n    if pointwise(?p) and (dtype(?q) == f16 or dtype(?q) == bf16)\n";
        break;
      case 3:
        s += "  rule r" + id + ": f" + a + "{k=" + id + "}(?x, g" + c + "(?x)) => g" + c + "(f" + b +
             "{k=1}(?x, ?x))  // trailing\n";
        break;
      default:
        s += "  rule r" + id + ": g" + a + "(g" + b + "(g" + c + "(?x))) => g" + c + "(?x)\n    if numel(?x) <= " + id +
             " and shape(?x) == [M, N]\n";
    }
  }
  s += "}\nschedule default {\n";
  for (int i = 0; i < (n + per_set - 1) / per_set; ++i)
    s += "  phase p" + std::to_string(i) + ": ruleset set" + std::to_string(i) + ", iter 10, nodes 100000, time 2s\n";
  s += "}\n";
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 10000;
  int runs = argc > 2 ? std::atoi(argv[2]) : 7;
  std::string text = generate(n);
  std::vector<double> ms, cpu_ms;
  size_t rules = 0, diags_n = 0;
  for (int r = 0; r < runs; ++r) {
    egfuse::Diagnostics diags;
    std::clock_t c0 = std::clock();
    auto t0 = std::chrono::steady_clock::now();
    auto rs = egfuse::rules::load_rules_from_text("generated.rules", text, diags);
    auto t1 = std::chrono::steady_clock::now();
    std::clock_t c1 = std::clock();
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    cpu_ms.push_back(1000.0 * double(c1 - c0) / CLOCKS_PER_SEC);
    rules = rs.rules.size();
    diags_n = diags.all().size();
    if (diags.has_errors()) {
      std::fprintf(stderr, "%s", diags.render().c_str());
      return 1;
    }
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu_ms.begin(), cpu_ms.end());
  // Split: parsing alone, then checking.
  double parse_ms = 1e9, check_ms = 1e9;
  for (int r = 0; r < 3; ++r) {
    egfuse::Diagnostics diags;
    auto t0 = std::chrono::steady_clock::now();
    auto files = egfuse::rules::parse_with_includes({egfuse::make_source("generated.rules", text)}, diags);
    auto t1 = std::chrono::steady_clock::now();
    auto rs = egfuse::rules::check_files(std::move(files), diags);
    auto t2 = std::chrono::steady_clock::now();
    parse_ms = std::min(parse_ms, std::chrono::duration<double, std::milli>(t1 - t0).count());
    check_ms = std::min(check_ms, std::chrono::duration<double, std::milli>(t2 - t1).count());
  }
  egfuse::Diagnostics fd;
  auto t0 = std::chrono::steady_clock::now();
  auto formatted = egfuse::rules::format_rules("generated.rules", text, fd);
  auto t1 = std::chrono::steady_clock::now();
  std::printf("rules: %zu rules, %zu bytes, %zu diagnostics\n", rules, text.size(), diags_n);
  std::printf("parse+check: best %.1f ms, median %.1f ms over %d runs (target < 200 ms)\n", ms.front(),
              ms[ms.size() / 2], runs);
  std::printf("  cpu time: best %.1f ms, median %.1f ms (wall time suffers on a loaded machine)\n", cpu_ms.front(),
              cpu_ms[cpu_ms.size() / 2]);
  std::printf("  of which parse %.1f ms, check %.1f ms (best of 3)\n", parse_ms, check_ms);
  std::printf("format: %.1f ms (%s)\n", std::chrono::duration<double, std::milli>(t1 - t0).count(),
              formatted ? "ok" : "failed");
  return ms[ms.size() / 2] < 200 ? 0 : 2;
}
