// Rule conformance: the case format (docs/conformance.md), its parser, and the
// runner behind `egfuse conform`. A case is one file holding a graph (or bare
// terms), the rule files to use, and expectations about the result.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "egfuse/diagnostics.hpp"

namespace egfuse::conform {

struct Expectation {
  // kernels, same-kernel, different-kernels, epilogue, prologue, no-prologue,
  // no-epilogue, fires, never-fires, equal, not-equal, numeric, error
  std::string kind;
  std::vector<std::string> args;  // words after the kind (terms kept whole)
  std::string op;                 // for kernels: "==" or "<="
  SourceSpan span;
};

struct Case {
  std::string name;               // from `case NAME` (defaults to the file stem)
  std::string doc;                // leading '#' comment lines
  std::shared_ptr<const SourceFile> file;
  std::vector<std::string> rule_files;  // resolved paths; empty + use_standard = standard library
  bool use_standard = true;
  std::optional<std::string> inline_rules;  // text of a `rules-text { }` block, line positions kept
  std::optional<std::string> graph_text;    // text of the graph block, line positions kept
  std::vector<std::pair<std::string, std::string>> options;  // option KEY VALUE
  std::vector<Expectation> expects;
  bool terms_only() const { return !graph_text.has_value(); }
};

// Parses a case file; problems go to diags with file:line:col.
std::optional<Case> parse_case(std::shared_ptr<const SourceFile> file, Diagnostics& diags);

struct CaseResult {
  std::string name, path;
  enum class Status { passed, failed, skipped } status = Status::passed;
  std::vector<std::string> failures;  // expected vs actual, each with the trace query that shows why
  std::string skip_reason;
  double seconds = 0;
};

struct RunConfig {
  std::vector<std::string> backends = {"interp"};  // interp, vulkan, cuda
  int jobs = 2;
  bool verbose = false;
};

// Collects *.case files under each path (recursively, sorted) and runs them in parallel.
std::vector<CaseResult> run_cases(const std::vector<std::string>& paths, const RunConfig& cfg);
CaseResult run_case(const std::string& path, const RunConfig& cfg);
std::string junit_xml(const std::vector<CaseResult>& results);

}  // namespace egfuse::conform

namespace egfuse::conform {

// Rule soundness (`egfuse conform --check-rules`): both sides of every rule are
// evaluated on random inputs of random legal shapes through the interpreter
// (tensor rules) or a scalar evaluator (rules over declared arithmetic and
// logic ops); a rule whose sides disagree is reported with the counterexample.
struct SoundnessConfig {
  int samples = 8;
  uint64_t seed = 1;
};
struct SoundnessReport {
  size_t checked = 0, unsound = 0, skipped = 0, errors = 0;
  std::string text;  // one line per rule, then a summary line
};
SoundnessReport check_rule_soundness(const std::vector<std::string>& rule_files, const SoundnessConfig& cfg);

}  // namespace egfuse::conform
