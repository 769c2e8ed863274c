// E-graph benchmark: prints figures, never fails on timing.
//  1. egg's math rules on several seed terms, grown to 100k e-nodes (simple
//     scheduler); ratio to egg 0.11's ~190 ms on this machine class.
//  2. 30 backoff-scheduled iterations; ratio to egg's ~360 ms.
//  3. memory per e-node at 10^6 e-nodes.
//  4. trace cost: off (a null check per event site) and on into a bounded sink.
#include <chrono>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "egfuse/egraph.hpp"
#include "egfuse/rewrite.hpp"
#include "egfuse/trace.hpp"
#include "tests/egraph/sexpr_rules.hpp"

using namespace egfuse;
using namespace egfuse::eg;
using Clock = std::chrono::steady_clock;

namespace {
// The seed terms of egg's math e-matching benchmark (tests/math.rs).
const char* kSeeds[] = {
    "(i (ln x) x)",
    "(i (+ x (cos x)) x)",
    "(i (* (cos x) x) x)",
    "(d x (+ 1 (* 2 x)))",
    "(d x (- (pow x 3) (* 7 (pow x 2))))",
    "(+ (* y (+ x y)) (- (+ x 2) (+ x x)))",
    "(/ 1 (- (/ (+ 1 (sqrt five)) 2) (/ (- 1 (sqrt five)) 2)))",
};

// egg's benchmark hook: stop after the iteration in which the node count
// (sum of class node lists) passes the limit.
RunnerOptions egg_style(size_t node_target) {
  RunnerOptions o;
  o.limits = {1000, 1000000000, 600, false};
  o.goal = [node_target](const EGraph& g) { return g.num_listed_nodes() > node_target; };
  return o;
}

// CPU time of this process: the build machine is shared, so wall time is noisy.
double cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
}

struct Run {
  double ms;
  RunReport rep;
  size_t nodes, classes, bytes;
};

Run grow(const std::vector<rules::Rule>& rules, RunnerOptions o, Trace* tr = nullptr, bool prune = true) {
  EGraphOptions eo;
  eo.prune_folded = prune;  // as egg's math example does
  EGraph g(eo);
  if (tr) g.set_trace(tr);
  for (const char* s : kSeeds) g.add_term(parse_term(s));
  auto compiled = compile_rules(rules, g);
  double t0 = cpu_ms();
  Runner r(g, std::move(compiled), std::move(o));
  RunReport rep = r.run();
  double ms = cpu_ms() - t0;
  return {ms, rep, g.num_nodes(), g.num_classes(), g.memory_bytes()};
}

size_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  size_t pages = 0, resident = 0;
  f >> pages >> resident;
  return resident * 4096;
}

double best_of(int n, const std::function<double()>& f) {
  double best = 1e300;
  for (int i = 0; i < n; ++i) best = std::min(best, f());
  return best;
}
}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  bool quick = false;
  std::string only;  // --only simple|backoff|memory|trace
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") quick = true;
    else if (a == "--only" && i + 1 < argc) only = argv[++i];
    else {
      std::fprintf(stderr, "usage: bench_egraph [--quick] [--only simple|backoff|memory|trace]\n");
      return 2;
    }
  }

  auto rules = egfuse::testing::egg_math_rules();

  // 1. grow to 100k e-nodes, simple scheduler
  RunnerOptions simple = egg_style(100000);
  Run first = grow(rules, simple);
  double ms = best_of(quick ? 1 : 5, [&] { return grow(rules, simple).ms; });
  size_t matches = 0;
  for (auto& it : first.rep.iterations) matches += it.matches;
  std::printf("math rules, egg's %zu seeds, simple scheduler until > 100k e-nodes: %.1f ms (best of %d), "
              "%zu iterations, %zu e-nodes, %zu e-classes, %zu matches (CPU time)\n",
              std::size(kSeeds), ms, quick ? 1 : 5, first.rep.iterations.size(), first.nodes, first.classes, matches);
  std::printf("  egg 0.11 (~190 ms) / this run: %.2f (above 1 = faster than egg; target 2)\n", 190.0 / ms);
  double search = 0, apply = 0, rebuild = 0;
  for (auto& it : first.rep.iterations) search += it.search_ms, apply += it.apply_ms, rebuild += it.rebuild_ms;
  std::printf("  split: search %.1f ms, apply %.1f ms, rebuild %.1f ms\n", search, apply, rebuild);

  if (only == "simple") return 0;
  // 2. 30 backoff iterations
  RunnerOptions backoff;
  backoff.scheduler = SchedulerKind::backoff;
  backoff.limits = {30, 100000000, 600};
  Run b = grow(rules, backoff);
  double bms = quick ? b.ms : best_of(3, [&] { return grow(rules, backoff).ms; });
  std::printf("math rules, backoff scheduler, 30 iterations: %.1f ms, %zu e-nodes, %zu e-classes, stop: %s\n", bms,
              b.nodes, b.classes, std::string(stop_reason_name(b.rep.stop)).c_str());
  std::printf("  egg 0.11 (~360 ms) / this run: %.2f (above 1 = faster than egg)\n", 360.0 / bms);

  // 3. memory per e-node at 10^6 e-nodes
  {
    size_t before = rss_bytes();
    RunnerOptions big = egg_style(1000000);
    EGraphOptions eo;
    eo.prune_folded = true;
    EGraph g(eo);
    for (const char* s : kSeeds) g.add_term(parse_term(s));
    Runner r(g, compile_rules(rules, g), big);
    auto t0 = Clock::now();
    RunReport rep = r.run();
    double bms2 = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    size_t after = rss_bytes();
    std::printf("10^6 e-nodes: %zu e-nodes, %zu e-classes in %.0f ms; container bytes per e-node: %.1f; "
                "RSS growth per e-node: %.1f (target < 150)\n",
                g.num_nodes(), g.num_classes(), bms2, double(g.memory_bytes()) / double(g.num_nodes()),
                double(after - before) / double(g.num_nodes()));
  }

  // 4. trace cost
  {
    std::ostringstream sink;
    uint64_t events = 0;
    double on_ms;
    {
      TraceOptions to;
      to.max_bytes = 64ull << 20;
      Trace tr(sink, to);
      auto t0 = Clock::now();
      grow(rules, simple, &tr);
      on_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      events = tr.events_written() + tr.events_dropped();
    }
    // Off, the engine pays one well-predicted null check per event site.
    volatile Trace* null_trace = nullptr;
    auto t0 = Clock::now();
    uint64_t taken = 0;
    for (uint64_t i = 0; i < events; ++i)
      if (null_trace) ++taken;
    double check_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    std::printf("trace: %llu event sites in the 100k run; off: %.3f ms of null checks = %.2f%% of %.1f ms "
                "saturation (target < 3%%); on (bounded to 64 MiB): %.1f ms, %zu bytes\n",
                (unsigned long long)events, check_ms, 100.0 * check_ms / ms, ms, on_ms, sink.str().size() + taken);
  }
  return 0;
}
