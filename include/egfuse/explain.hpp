// Explanations: for two terms proven equal, a proof as a chain of rule
// applications (egg's "flat explanations"), and a checker that replays a
// proof rule by rule on plain terms, independently of the e-graph.
//
// The e-graph must be built with EGraphOptions::explanations = true: it then
// keeps a proof forest (an edge per union, labelled with the rule and its
// direction, congruence, or constant folding) and the original children of
// every e-node.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "egfuse/egraph.hpp"
#include "egfuse/rule_ast.hpp"

namespace egfuse::eg {

struct ProofStep {
  Term term;                      // the whole term after this step (the start term for step 0)
  std::string rule;               // rule name; "constant-fold"; "" for step 0
  std::string location;           // the rule's "file:line"
  bool backward = false;          // the rule applied right to left
  std::vector<size_t> position;   // child indices from the root to the rewritten subterm
};
using Proof = std::vector<ProofStep>;

// A proof that a = b, or nullopt when they are not (yet) equal. Adds the
// terms if absent (then rebuilds). Throws egfuse::Error when explanations are
// off or the proof would exceed max_steps.
std::optional<Proof> explain(EGraph& g, const Term& a, const Term& b, size_t max_steps = 200000);
std::optional<Proof> explain_ids(const EGraph& g, Id a, Id b, size_t max_steps = 200000);

// One line per step: "(+ b a)    ; comm-add at [1] (math.rules:3)".
std::string to_string(const Proof& p);

struct ProofCheck {
  bool ok = true;
  size_t step = 0;       // the first failing step
  std::string message;
};
// Replays every step: the subterm at `position` must match the rule's side
// (left, or right when backward) and become the other side instantiated; the
// rest of the term must not change. Guards are not re-evaluated. Constant-fold
// steps are checked with the built-in folding functions (or `fold`).
ProofCheck check_proof(const Proof& p, const std::vector<rules::Rule>& rules,
                       const std::function<std::function<std::optional<double>(std::span<const double>)>(
                           const std::string&)>& fold = {});

}  // namespace egfuse::eg
