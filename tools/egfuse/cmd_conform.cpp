// egfuse conform: run conformance cases (docs/conformance.md), or check the
// soundness of rule files with --check-rules.
#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <thread>

#include "egfuse/conform.hpp"
#include "tools/egfuse/command.hpp"

namespace egfuse::cli {
namespace {

struct ConformArgs {
  std::vector<std::string> paths;
  std::string backends = "interp,vulkan,cuda";
  std::string junit;
  int jobs = 0;
  bool verbose = false;
  bool check_rules = false;
  int samples = 8;
  uint64_t seed = 1;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t b = 0;
  while (b <= s.size()) {
    size_t e = s.find(',', b);
    if (e == std::string::npos) e = s.size();
    if (e > b) out.push_back(s.substr(b, e - b));
    b = e + 1;
  }
  return out;
}

int run_conform(const ConformArgs& a) {
  if (a.check_rules) {
    conform::SoundnessConfig sc;
    sc.samples = a.samples;
    sc.seed = a.seed;
    auto report = conform::check_rule_soundness(a.paths, sc);
    std::cout << report.text;
    return report.unsound > 0 || report.errors > 0 ? 1 : 0;
  }
  conform::RunConfig cfg;
  cfg.backends = split(a.backends);
  cfg.jobs = a.jobs > 0 ? a.jobs : int(std::max(1u, std::thread::hardware_concurrency()));
  cfg.verbose = a.verbose;
  auto results = conform::run_cases(a.paths, cfg);
  if (results.empty()) {
    std::cerr << "egfuse conform: no .case files under the given paths\n";
    return 1;
  }
  size_t passed = 0, failed = 0, skipped = 0;
  for (auto& r : results) {
    switch (r.status) {
      case conform::CaseResult::Status::passed:
        ++passed;
        std::cout << "PASS " << r.name << " (" << r.path << ")";
        if (!r.skip_reason.empty()) std::cout << " [not run: " << r.skip_reason << "]";
        std::cout << "\n";
        break;
      case conform::CaseResult::Status::skipped:
        ++skipped;
        std::cout << "SKIP " << r.name << " (" << r.path << "): " << r.skip_reason << "\n";
        break;
      case conform::CaseResult::Status::failed:
        ++failed;
        std::cout << "FAIL " << r.name << " (" << r.path << ")\n";
        for (auto& f : r.failures) std::cout << "  " << f << "\n";
        break;
    }
  }
  if (!a.junit.empty()) {
    std::ofstream out(a.junit);
    if (!out) {
      std::cerr << "egfuse conform: cannot write " << a.junit << "\n";
      return 1;
    }
    out << conform::junit_xml(results);
  }
  std::cout << passed << " passed, " << failed << " failed, " << skipped << " skipped\n";
  return failed ? 1 : 0;
}

}  // namespace

static std::function<int()> setup_conform(CLI::App& sub) {
                 auto a = std::make_shared<ConformArgs>();
                 sub.add_option("paths", a->paths, "case files or folders (searched recursively for *.case); with --check-rules: rule files")
                     ->required();
                 sub.add_option("--backends", a->backends, "backends for `expect numeric` (interp,vulkan,cuda); others are skipped")
                     ->capture_default_str();
                 sub.add_option("--junit", a->junit, "write JUnit XML to this file");
                 sub.add_option("-j,--jobs", a->jobs, "cases run in parallel (default: number of cores)");
                 sub.add_flag("-v,--verbose", a->verbose, "print more detail");
                 sub.add_flag("--check-rules", a->check_rules,
                              "evaluate both sides of every rule on random inputs and report rules whose sides disagree");
                 sub.add_option("--samples", a->samples, "random instantiations per rule for --check-rules")->capture_default_str();
                 sub.add_option("--seed", a->seed, "random seed for --check-rules")->capture_default_str();
                 return [a] { return run_conform(*a); };
               }

EGFUSE_COMMAND(conform, "conform", "Run rule conformance cases (*.case), or check rule soundness (--check-rules)", setup_conform);

}  // namespace egfuse::cli
