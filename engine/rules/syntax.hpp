// Internal to engine/rules: one parsed file with its concrete syntax (item
// order, byte ranges, comments), shared by the parser, checker and formatter.
#pragma once

#include <string>
#include <vector>

#include "egfuse/rule_ast.hpp"

namespace egfuse::rules {

struct Comment {
  size_t begin = 0, end = 0;  // byte range of "// ..." (without the newline)
  bool doc = false;           // "///"
};

// A top-level item in source order. `index` points into the ParsedFile vector
// of its kind (for use: into `uses`; for include: into `includes`).
struct Item {
  enum class Kind : uint8_t { include, op, template_, rule, ruleset_open, use, schedule_open, phase, close };
  Kind kind;
  size_t index = 0;
  size_t begin = 0, end = 0;  // byte range of the item's text
  int depth = 0;              // 1 inside a ruleset/schedule block
};

struct Include {
  std::string path;
  SourceSpan span;
};

// `use a, b` inside ruleset `ruleset` (index into rulesets).
struct Use {
  size_t ruleset = 0;
  std::vector<std::pair<std::string, SourceSpan>> names;
};

struct TemplateClause {
  std::string text;  // canonical text of the clause ("prologue a, b")
  size_t begin = 0, end = 0;
};

struct ParsedFile {
  std::shared_ptr<const SourceFile> file;
  std::vector<Include> includes;
  std::vector<OpDecl> ops;
  std::vector<TemplateDecl> templates;
  std::vector<std::vector<TemplateClause>> template_clauses;  // per template, source order
  std::vector<Rule> rules;
  std::vector<Ruleset> rulesets;  // one per block; a name may be reopened
  std::vector<Use> uses;
  std::vector<Schedule> schedules;  // phases are also items
  std::vector<std::pair<size_t, size_t>> phase_owner;  // per phase item: schedule index, phase index
  std::vector<Item> items;
  std::vector<Comment> comments;
  bool ok = true;  // no syntax error
};

// parser.cpp: parse one file (no includes followed). Syntax errors go to diags.
ParsedFile parse_file(std::shared_ptr<const SourceFile> file, Diagnostics& diags);
// Where an include resolves: next to the including file, else the standard
// library directory. Empty when not found.
std::string resolve_include(const std::string& including_file, const std::string& name);
// parser.cpp: parse `paths` and every file they include (each file once).
std::vector<ParsedFile> parse_with_includes(const std::vector<std::shared_ptr<const SourceFile>>& roots,
                                            Diagnostics& diags);

// checker.cpp: merge parsed files into a RuleSet and check it.
RuleSet check_files(std::vector<ParsedFile> files, Diagnostics& diags);

// print.cpp helpers shared with the formatter.
std::string number_text(double v);
std::string duration_text(double seconds);
std::string phase_text(const Phase& p);
bool is_symbolic_name(const std::string& name);

}  // namespace egfuse::rules
