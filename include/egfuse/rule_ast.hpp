// The checked rule set: the contract between the rule-language front end
// (engine/rules: lexer/grammar, parser, checker, formatter) and its consumers
// (the e-graph rewriter, fusion, conform, lsp, trace). Every item keeps its
// name and source span so traces and generated code can point back at it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "egfuse/diagnostics.hpp"
#include "egfuse/templates.hpp"

namespace egfuse::rules {

// ---------------------------------------------------------------- patterns
// ?x            variable
// ?xs...        variadic variable (matches zero or more trailing args)
// (f a b)  or  f(a, b)   application of an op / template kind; an op may be a
//                        variable (?p) to match any op (guarded e.g. by pointwise(?p))
// 3, -1.5       numeric literal;  foo  symbol (a 0-ary op)
// attrs: f{axes=[1]}(x) literal attributes that must match
struct Pattern {
  enum class Kind : uint8_t { var, varargs, apply, number, symbol } kind = Kind::apply;
  std::string name;          // var/varargs name without '?', op name, or symbol
  bool op_is_var = false;    // apply whose head is a variable: name is that variable
  double number = 0;
  std::vector<Pattern> args;
  std::vector<std::pair<std::string, std::string>> attrs;  // key, literal text
  SourceSpan span;
  // Printed as an s-expression `(f a b)` rather than `f(a, b)`. The checker sets
  // it from the op's declaration (untyped and symbolic ops print as s-expressions).
  bool sexpr = false;
};

// ---------------------------------------------------------------- guards
struct Guard {
  enum class Kind : uint8_t { and_, or_, not_, call, compare } kind = Kind::call;
  std::string name;          // call: guard function (pointwise, shape, ...); compare: operator text
  std::vector<Guard> kids;   // and/or/not operands; compare: two operands
  // call arguments / compare operands that are terms:
  std::vector<Pattern> args;
  std::string literal;       // a literal operand (shape "[M, N]", dtype "f16", number, string)
  bool is_literal = false;
  SourceSpan span;
};

// ---------------------------------------------------------------- declarations
struct OpParam {
  std::string name;
  std::string type;          // "" for untyped; else e.g. "T" or "f32[M, K]"
};

struct OpDecl {
  std::string name;
  std::vector<OpParam> params;
  bool variadic = false;
  std::string result_type;   // "" untyped
  std::vector<std::string> properties;  // pointwise, reduction, commutative, associative, view ...
  std::optional<Pattern> definition;    // composite: decomposition over params (params as ?vars)
  std::vector<OpParam> attrs;           // declared attributes: name, kind (int, ints, float, bool, dtype, str)
  std::string doc;
  SourceSpan span;
  bool primitive() const { return !definition.has_value(); }
};

struct TemplateDecl {
  TemplateKind kind;         // kind.span and kind.doc filled
  SourceSpan span;
};

struct Rule {
  std::string name;
  std::string doc;           // from '///' comments
  Pattern lhs, rhs;
  bool bidirectional = false;
  std::optional<Guard> guard;
  // Set by the checker for a <=> rule whose right side does not bind every
  // variable of the left side: only the forward direction is applied.
  bool reverse_unbound = false;
  std::string ruleset;       // ruleset it belongs to ("" = default)
  SourceSpan span;
  std::string location() const;  // "file:line"
};

struct Ruleset {
  std::string name;
  std::vector<std::string> rules;  // rule names, in declaration order
  std::string doc;
  SourceSpan span;
};

struct Phase {
  std::string name;
  std::string ruleset;
  std::optional<int64_t> iter_limit, node_limit;
  std::optional<double> time_limit_s;
  std::string scheduler = "simple";  // simple | backoff
  std::optional<int64_t> match_limit, ban_length;  // backoff parameters
  SourceSpan span;
};

struct Schedule {
  std::string name;
  std::vector<Phase> phases;
  SourceSpan span;
};

// The result of parsing + checking a set of files (includes resolved).
struct RuleSet {
  std::vector<std::shared_ptr<const SourceFile>> files;
  std::vector<OpDecl> ops;
  std::vector<TemplateDecl> templates;
  std::vector<Rule> rules;
  std::vector<Ruleset> rulesets;
  std::vector<Schedule> schedules;

  const OpDecl* find_op(const std::string& n) const;
  const Rule* find_rule(const std::string& n) const;
  const Ruleset* find_ruleset(const std::string& n) const;
  const Schedule* find_schedule(const std::string& n) const;
  // Adds every declared template kind to `reg` (reports duplicates to diags).
  void register_templates(TemplateRegistry& reg, Diagnostics& diags) const;
};

// Front end entry points (engine/rules). load_rules parses each file and its
// includes, then checks; all problems go to diags (not only the first).
RuleSet load_rules(const std::vector<std::string>& paths, Diagnostics& diags);
RuleSet load_rules_from_text(const std::string& path, const std::string& text, Diagnostics& diags);
// The standard library's directory (source tree or install prefix).
std::string standard_rules_dir();
std::vector<std::string> standard_rule_files();  // ops, templates, fusion, mutation, algebra

// Formatter: canonical layout, idempotent, keeps comments. Returns nullopt and
// reports to diags when the text does not parse.
std::optional<std::string> format_rules(const std::string& path, const std::string& text, Diagnostics& diags);

// Printing of patterns and guards in the canonical surface syntax.
std::string to_string(const Pattern&);
std::string to_string(const Guard&);

}  // namespace egfuse::rules
