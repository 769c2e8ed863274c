// Rewriting: rules compiled to matching programs, guards, and the runner
// (schedulers, limits, stop reasons).
//
// A rule's left side is compiled once into a program for a small backtracking
// machine (egg's approach): `bind` walks the e-nodes of a class with a given op
// and arity, `compare` checks that two registers hold the same class. Search
// runs the program from every class that holds the root op. The right side is
// compiled into a post-order instantiation list.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "egfuse/egraph.hpp"
#include "egfuse/rule_ast.hpp"

namespace egfuse::eg {

// ---------------------------------------------------------------- variables
enum class VarKind : uint8_t { term, varargs, op };
struct VarInfo {
  std::string name;
  VarKind kind;
  uint32_t slot;  // first slot in a substitution: term 1 (class), varargs 2 (node, start), op 2 (op, payload)
};

// ---------------------------------------------------------------- patterns
class CompiledPattern {
 public:
  // Compiles `p`; variables are added to `vars` (shared by both sides of a rule).
  // Throws egfuse::Error on an unsupported pattern (naming its location).
  static CompiledPattern compile(const rules::Pattern& p, EGraph& g, std::vector<VarInfo>& vars);

  // Calls `yield(class, subst)` for every match in class `c` (subst has
  // `nslots` entries). Returns false when `yield` asked to stop.
  // `yield(regs)` sees the registers of one match; fill_subst() turns them into
  // a substitution. Returns false when `yield` asked to stop.
  bool search_class(const EGraph& g, Id c, std::span<Id> regs,
                    const std::function<bool(std::span<const Id>)>& yield) const;
  void fill_subst(std::span<const Id> regs, Id* subst) const;
  // Candidate classes for the root (every class for a variable root).
  std::vector<Id> candidates(const EGraph& g) const;

  struct Instr {
    enum Kind : uint8_t { bind, bind_opvar, compare, compare_varargs } kind;
    bool varargs = false;    // node arity >= fixed arity; the rest binds a varargs var
    bool bound = false;      // bind_opvar: the op var is bound already (check, don't bind)
    Sym op = 0;
    uint32_t payload = ~0u;  // ~0 = any
    int32_t attr_check = -1; // index into attr_checks_
    uint32_t arity = 0;
    uint32_t in = 0, out = 0;
    uint32_t aux = ~0u;      // bind_opvar: op-var register pair; compare_varargs: first pair
    uint32_t preg = ~0u;     // register that records the matched node's payload
    uint32_t va = ~0u;       // varargs register pair (node, first index); compare_varargs: second pair
  };
  // Post-order instantiation program (also used for guard arguments).
  struct Build {
    enum Kind : uint8_t { var, num, apply, opvar_apply } kind;
    uint32_t slot = 0;       // var: subst slot; opvar_apply: op var slot
    Sym op = 0;
    uint32_t payload = 0;
    uint32_t payload_reg = ~0u;  // inherit the payload of a matched left-side node
    std::vector<int32_t> args;   // indices of earlier Build entries; -1-slot = splice varargs at slot
  };
  static std::vector<Build> compile_build(const rules::Pattern& p, EGraph& g, const std::vector<VarInfo>& vars,
                                          const CompiledPattern* lhs);
  std::span<const Instr> program() const { return prog_; }
  uint32_t num_regs() const { return nregs_; }
  uint32_t num_slots() const { return nslots_; }
  // The payload register recorded for the left-side apply node with op `op` (first in pre-order).
  std::optional<uint32_t> payload_reg_for(Sym op) const;
  enum class RootKind : uint8_t { op, any } root_kind = RootKind::any;
  Sym root_op = 0;

  // The machine itself (defined and instantiated in pattern.cpp).
  template <class F>
  bool run(const EGraph& g, size_t pc, Id* regs, F& yield) const;

 private:
  bool attrs_match(const EGraph& g, int32_t check, uint32_t payload) const;
  std::vector<Instr> prog_;
  std::vector<std::pair<uint32_t, uint32_t>> var_regs_;  // subst slot <- register
  std::vector<std::pair<Sym, uint32_t>> payload_regs_;   // op -> register (pre-order)
  std::vector<std::vector<std::pair<std::string, std::string>>> attr_checks_;
  mutable std::vector<std::vector<int8_t>> attr_cache_;  // per check: payload -> 0 unknown, 1 yes, 2 no
  uint32_t nregs_ = 0, nslots_ = 0;
};

// Instantiates a build program: adds the e-nodes (canonically, or exactly as
// written when `uncanonical`) and returns the id of the root.
Id instantiate(EGraph& g, std::span<const CompiledPattern::Build> prog, std::span<const Id> subst,
               std::span<const Id> regs, bool uncanonical);
// Looks the instantiation up without adding anything.
std::optional<Id> lookup_instance(const EGraph& g, std::span<const CompiledPattern::Build> prog,
                                  std::span<const Id> subst, std::span<const Id> regs);

// ---------------------------------------------------------------- guards
using Shape = std::vector<int64_t>;
using GuardValue = std::variant<std::monostate, bool, int64_t, double, std::string, Shape>;
std::string to_string(const GuardValue&);

struct CompiledRule;
// What a guard function sees: the e-graph, the rule and one substitution.
struct GuardArgs {
  const EGraph& graph;
  const CompiledRule& rule;
  std::span<const Id> subst;
  std::span<const Id> regs;
  const rules::Guard& guard;
  size_t size() const { return guard.args.size(); }
  const rules::Pattern& arg(size_t i) const { return guard.args[i]; }
  // The class of argument i (a variable, or a term looked up without adding).
  std::optional<Id> term(size_t i) const;
  // The (op, payload) of argument i when it is an op variable.
  std::optional<std::pair<Sym, uint32_t>> op_var(size_t i) const;
  // The children bound by a varargs variable.
  std::span<const Id> varargs(size_t i) const;
  // Every (op, payload) argument i may stand for: an op variable's op, or the
  // ops of the nodes of the class of a term.
  std::vector<std::pair<Sym, uint32_t>> node_ops(size_t i) const;
};
using GuardFn = std::function<GuardValue(const GuardArgs&)>;

class GuardRegistry {
 public:
  // With the generic guards: is_const, is_symbol, not_equal, value, pointwise,
  // reduction, view, len, attr, shape, dtype, rank, numel, contiguous,
  // broadcasts_to, reads, reads_mutated_by (via the reads analysis).
  GuardRegistry();
  void add(std::string name, GuardFn fn);  // replaces a guard of the same name
  const GuardFn* find(const std::string& name) const;
  std::vector<std::string> names() const;

 private:
  std::map<std::string, GuardFn> fns_;
};

// A failed guard: the atom that failed and what it saw.
struct GuardFailure {
  std::string guard;   // text of the failing atom, e.g. "is_const(?a)"
  std::string values;  // e.g. "?a=class 12 (no constant)"
};
// Evaluates a guard tree; on failure fills `why` (when non-null).
bool eval_guard(const GuardRegistry& reg, const GuardArgs& args, GuardFailure* why);
std::string guard_text(const rules::Guard& g);
std::string pattern_text(const rules::Pattern& p);

// ---------------------------------------------------------------- rules
struct CompiledRule {
  std::string name, location;  // location "file:line"
  bool backward = false;        // the right-to-left direction of a <=> rule
  uint32_t rule_id = 0;         // EGraph::intern_rule
  std::vector<VarInfo> vars;
  CompiledPattern lhs;
  std::vector<CompiledPattern::Build> rhs, lhs_build;
  std::vector<uint32_t> kept_regs;  // registers the right side (or explanations) read: payloads
  std::optional<rules::Guard> guard;
  const rules::Rule* source = nullptr;  // may be null (rules built in code)
};
// Compiles a rule (both directions of a <=> rule whose right side binds every
// left variable). Throws egfuse::Error naming the rule on a bad pattern.
std::vector<CompiledRule> compile_rule(const rules::Rule& r, EGraph& g);
std::vector<CompiledRule> compile_rules(const std::vector<rules::Rule>& rs, EGraph& g);
// Rules of a named ruleset ("" = all rules) of a checked rule set.
std::vector<CompiledRule> compile_ruleset(const rules::RuleSet& rs, const std::string& ruleset, EGraph& g);
// Applies op declarations: properties (pointwise, reduction, view, commutative)
// and constant folding for declared ops with a built-in arithmetic meaning.
void declare_ops(const rules::RuleSet& rs, EGraph& g);

// Search results of one rule: flat substitutions of rule.lhs.num_slots() each,
// plus the registers (payloads of matched nodes) needed by the right side.
struct RuleMatches {
  std::vector<Id> classes;
  std::vector<Id> substs;
  std::vector<Id> regs;
  uint32_t stride = 0, reg_stride = 0;
  size_t size() const { return classes.size(); }
  std::span<const Id> subst(size_t i) const { return {substs.data() + i * stride, stride}; }
  std::span<const Id> reg(size_t i) const { return {regs.data() + i * reg_stride, reg_stride}; }  // kept_regs order
};
// Searches every candidate class; stops after `limit` matches.
RuleMatches search(const EGraph& g, const CompiledRule& r, size_t limit = ~size_t(0));

// ---------------------------------------------------------------- runner
enum class StopReason : uint8_t { saturated, iteration_limit, node_limit, time_limit, goal_reached };
std::string_view stop_reason_name(StopReason);

struct RunLimits {
  int64_t iter_limit = 30;
  int64_t node_limit = 10000;
  double time_limit_s = 5.0;
  // true: stop applying as soon as the node limit is reached (the e-graph ends
  // within one right-hand side of it); false: egg's behaviour, checked between
  // iterations only.
  bool node_limit_exact = true;
};

enum class SchedulerKind : uint8_t { simple, backoff };
struct RunnerOptions {
  RunLimits limits;
  SchedulerKind scheduler = SchedulerKind::simple;
  int64_t match_limit = 1000;  // backoff: initial match threshold per rule per iteration
  int64_t ban_length = 5;      // backoff: initial ban, in iterations
  std::ostream* progress = nullptr;   // progress lines on long runs (one per iteration after 1 s)
  const GuardRegistry* guards = nullptr;  // null: the generic guards
  std::function<bool(const EGraph&)> goal;  // checked after every rebuild
};

struct IterationReport {
  int64_t iteration = 0;
  size_t nodes = 0, classes = 0, matches = 0, applied = 0, guard_failures = 0, congruences = 0;
  double search_ms = 0, apply_ms = 0, rebuild_ms = 0;
  std::vector<std::string> banned;  // rules banned in this iteration (backoff)
};

struct RunReport {
  StopReason stop = StopReason::saturated;
  std::vector<IterationReport> iterations;
  double total_ms = 0;
  size_t nodes = 0, classes = 0;
  std::string summary() const;  // one line: stop reason, iterations, nodes, classes, time
};

class Runner {
 public:
  Runner(EGraph& g, std::vector<CompiledRule> rules, RunnerOptions opts = {});
  RunReport run();
  const std::vector<CompiledRule>& rules() const { return rules_; }

 private:
  struct RuleStats {
    int64_t times_applied = 0, banned_until = 0, times_banned = 0;
  };
  bool limit_hit(std::chrono::steady_clock::time_point start, StopReason& why) const;
  EGraph& g_;
  std::vector<CompiledRule> rules_;
  RunnerOptions opts_;
  std::vector<RuleStats> stats_;
  GuardRegistry default_guards_;
};

// Runs each phase of a schedule on `g` (rules from `rs`); one report per phase.
std::vector<RunReport> run_schedule(EGraph& g, const rules::RuleSet& rs, const rules::Schedule& s,
                                    const GuardRegistry* guards = nullptr, std::ostream* progress = nullptr);

}  // namespace egfuse::eg
