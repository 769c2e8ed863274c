// A lexical index of one rule file: tokens, top-level items, and every
// declaration and use of a name (ops, templates, rules, rulesets, schedules,
// phases, guard functions, pattern variables) with its byte range. It works on
// text that does not parse, so navigation keeps working while a file is being
// edited; the checked RuleSet supplies the meaning (docs, signatures).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace egfuse::lsp {

struct Token {
  enum class Kind : uint8_t { ident, var, varargs, keyword, symop, arrow, punct, string, number, comment, other };
  Kind kind;
  size_t begin, end;
};

// `callee` is an op or a template kind: both are heads of pattern applications.
enum class SymKind : uint8_t { callee, rule, ruleset, schedule, phase, var, guard, include };
const char* sym_kind_name(SymKind k);

struct Occurrence {
  SymKind kind;
  std::string name;    // without '?' / '...' for variables
  size_t begin, end;   // the name's bytes (a variable's include its '?')
  bool decl = false;   // declaration (a variable's first occurrence in its item)
  size_t item = 0;     // index of the enclosing item
};

struct Item {
  enum class Kind : uint8_t { include, op, template_, rule, ruleset_open, use, schedule_open, phase, close, stray };
  Kind kind;
  size_t begin = 0, end = 0;       // from the keyword to the end of the last token
  std::string name;                // declared name ("" if none)
  size_t name_begin = 0, name_end = 0;
  size_t body = SIZE_MAX;          // rule: after ':'; op: after '=' (patterns start)
  size_t guard = SIZE_MAX;         // rule: at 'if'
  size_t parent = SIZE_MAX;        // enclosing ruleset/schedule block item
};

// Names known from the checked rule set (and this file's own declarations),
// used to classify identifiers that could be several things.
struct KnownNames {
  std::set<std::string> callees, rules, rulesets;
};

struct FileIndex {
  std::vector<Token> tokens;
  std::vector<Item> items;
  std::vector<Occurrence> occurrences;  // in source order

  // The occurrence whose range holds `offset` (its end included).
  const Occurrence* occurrence_at(size_t offset) const;
  // The item that contains `offset`, or the last item before it; SIZE_MAX if none.
  size_t item_at(size_t offset) const;
  // The token that contains or ends at `offset`; nullptr if none.
  const Token* token_at(size_t offset) const;
};

FileIndex index_file(std::string_view text, const KnownNames& known);

// Reserved words of the rule language and the guard functions the checker knows
// (name, argument summary, one-line meaning).
const std::vector<std::string>& rule_keywords();
struct GuardInfo {
  std::string name, args, doc;
};
const std::vector<GuardInfo>& guard_functions();
const GuardInfo* find_guard(std::string_view name);

bool is_identifier(std::string_view s, bool allow_dashes);

}  // namespace egfuse::lsp
