// Lexical index of a rule file (see index.hpp). The token rules follow the
// grammar in engine/rules/grammar.hpp; what matters here is only where names are.
#include "engine/lsp/index.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

namespace egfuse::lsp {

const char* sym_kind_name(SymKind k) {
  switch (k) {
    case SymKind::callee: return "op";
    case SymKind::rule: return "rule";
    case SymKind::ruleset: return "ruleset";
    case SymKind::schedule: return "schedule";
    case SymKind::phase: return "phase";
    case SymKind::var: return "pattern variable";
    case SymKind::guard: return "guard";
    case SymKind::include: return "include";
  }
  return "?";
}

const std::vector<std::string>& rule_keywords() {
  static const std::vector<std::string> k = {"and",  "if",  "include", "not",      "op",      "or",
                                             "phase", "rule", "ruleset", "schedule", "template", "use"};
  return k;
}

// Mirrors the checker's table of guard functions (engine/rules/checker.cpp);
// tests/lsp checks that the checker accepts every name listed here.
const std::vector<GuardInfo>& guard_functions() {
  static const std::vector<GuardInfo> g = {
      {"allowed_prologue", "(?t, pos)", "true when input `pos` of template ?t accepts a fused prologue"},
      {"attr", "(?n, key)", "the value of attribute `key` of node ?n"},
      {"broadcasts_to", "(?x, shape)", "true when ?x broadcasts to `shape`"},
      {"contiguous", "(?x)", "true when ?x has a contiguous layout"},
      {"dtype", "(?x)", "the dtype of ?x"},
      {"epilogue_allowed", "(?t)", "true when template ?t accepts a fused epilogue"},
      {"is_const", "(?x)", "true when ?x is a constant"},
      {"is_symbol", "(?x)", "true when ?x is a symbol (a 0-ary op)"},
      {"is_template", "(?t, kind)", "true when ?t is a template (of kind `kind` when given)"},
      {"len", "(?xs...)", "the number of terms a variadic variable matched"},
      {"mutates", "(?t, pos)", "true when template ?t mutates an input (input `pos` when given)"},
      {"not_equal", "(?x, ?y)", "true when ?x and ?y are different terms"},
      {"numel", "(?x)", "the number of elements of ?x"},
      {"pointwise", "(?op)", "true when the op is pointwise"},
      {"rank", "(?x)", "the rank of ?x"},
      {"reads", "(?n, ?x)", "true when ?n reads ?x"},
      {"reads_mutated_by", "(?x, ?t)", "true when ?x reads a buffer that template ?t mutates"},
      {"reduction", "(?op)", "true when the op is a reduction"},
      {"shape", "(?x)", "the shape of ?x"},
      {"value", "(?x)", "the numeric value of constant ?x"},
      {"view", "(?op)", "true when the op is a view"},
  };
  return g;
}

const GuardInfo* find_guard(std::string_view name) {
  for (auto& g : guard_functions())
    if (g.name == name) return &g;
  return nullptr;
}

namespace {
bool ident_first(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool ident_other(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool symop_char(char c) { return std::string_view("+-*/&|~^%<>=!").find(c) != std::string_view::npos; }

std::vector<Token> lex(std::string_view t) {
  std::vector<Token> out;
  out.reserve(t.size() / 4);
  size_t i = 0, n = t.size();
  auto starts = [&](size_t at, std::string_view s) { return t.substr(at, s.size()) == s; };
  while (i < n) {
    char c = t[i];
    size_t b = i;
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    Token::Kind k = Token::Kind::other;
    if (starts(i, "//")) {
      while (i < n && t[i] != '\n') ++i;
      k = Token::Kind::comment;
    } else if (c == '"') {
      ++i;
      while (i < n && t[i] != '"' && t[i] != '\n') ++i;
      if (i < n && t[i] == '"') ++i;
      k = Token::Kind::string;
    } else if (c == '?' && i + 1 < n && ident_first(t[i + 1])) {
      ++i;
      while (i < n && ident_other(t[i])) ++i;
      k = Token::Kind::var;
      if (starts(i, "...")) i += 3, k = Token::Kind::varargs;
    } else if (ident_first(c)) {
      while (i < n && ident_other(t[i])) ++i;
      // Inner dashes: inline-pointwise (a dash must be followed by a name character).
      while (i + 1 < n && t[i] == '-' && ident_other(t[i + 1])) {
        ++i;
        while (i < n && ident_other(t[i])) ++i;
      }
      k = Token::Kind::ident;
      std::string_view w = t.substr(b, i - b);
      for (auto& kw : rule_keywords())
        if (w == kw) k = Token::Kind::keyword;
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '-' && i + 1 < n && std::isdigit(static_cast<unsigned char>(t[i + 1])) &&
                (out.empty() || out.back().kind == Token::Kind::punct || out.back().kind == Token::Kind::symop ||
                 out.back().kind == Token::Kind::arrow || out.back().kind == Token::Kind::keyword))) {
      ++i;
      while (i < n && (ident_other(t[i]) || t[i] == '.')) ++i;
      k = Token::Kind::number;
    } else if (starts(i, "<=>") || starts(i, "=>")) {
      i += t[i] == '<' ? 3 : 2;
      k = Token::Kind::arrow;
    } else if (starts(i, "...")) {
      i += 3;
      k = Token::Kind::punct;
    } else if (symop_char(c)) {
      while (i < n && symop_char(t[i]) && !starts(i, "=>") && !starts(i, "<=>") && !starts(i, "//")) ++i;
      if (i == b) ++i;
      k = Token::Kind::symop;
    } else if (std::string_view("(){}[],:").find(c) != std::string_view::npos) {
      ++i;
      k = Token::Kind::punct;
    } else {
      // One UTF-8 sequence of anything else.
      ++i;
      while (i < n && (static_cast<unsigned char>(t[i]) & 0xC0) == 0x80) ++i;
    }
    out.push_back({k, b, i});
  }
  return out;
}
}  // namespace

bool is_identifier(std::string_view s, bool allow_dashes) {
  if (s.empty() || !ident_first(s[0])) return false;
  for (size_t i = 1; i < s.size(); ++i) {
    if (ident_other(s[i])) continue;
    if (allow_dashes && s[i] == '-' && i + 1 < s.size() && ident_other(s[i + 1])) continue;
    return false;
  }
  for (auto& kw : rule_keywords())
    if (s == kw) return false;
  return true;
}

FileIndex index_file(std::string_view text, const KnownNames& known_in) {
  FileIndex fx;
  fx.tokens = lex(text);
  // Significant tokens only (comments dropped).
  std::vector<const Token*> tk;
  for (auto& t : fx.tokens)
    if (t.kind != Token::Kind::comment) tk.push_back(&t);
  auto word = [&](size_t i) { return text.substr(tk[i]->begin, tk[i]->end - tk[i]->begin); };
  auto is = [&](size_t i, Token::Kind k, std::string_view w = {}) {
    return i < tk.size() && tk[i]->kind == k && (w.empty() || word(i) == w);
  };

  // Pass 1: items and their declared names.
  std::vector<size_t> item_first;  // first significant token of each item
  size_t block = SIZE_MAX;
  for (size_t i = 0; i < tk.size(); ++i) {
    std::string_view w = word(i);
    std::optional<Item::Kind> k;
    if (tk[i]->kind == Token::Kind::keyword) {
      if (w == "include") k = Item::Kind::include;
      else if (w == "op") k = Item::Kind::op;
      else if (w == "template") k = Item::Kind::template_;
      else if (w == "rule") k = Item::Kind::rule;
      else if (w == "use") k = Item::Kind::use;
      else if (w == "schedule") k = Item::Kind::schedule_open;
      else if (w == "phase") k = Item::Kind::phase;
      else if (w == "ruleset" && (fx.items.empty() || fx.items.back().kind != Item::Kind::phase))
        k = Item::Kind::ruleset_open;
    } else if (is(i, Token::Kind::punct, "}")) {
      k = Item::Kind::close;
    } else if (fx.items.empty()) {
      k = Item::Kind::stray;
    }
    if (k) {
      Item it;
      it.kind = *k;
      it.begin = tk[i]->begin;
      it.parent = block;
      bool named = *k != Item::Kind::include && *k != Item::Kind::use && *k != Item::Kind::close &&
                   *k != Item::Kind::stray;
      if (named && i + 1 < tk.size() &&
          (tk[i + 1]->kind == Token::Kind::ident || (*k == Item::Kind::op && tk[i + 1]->kind == Token::Kind::symop))) {
        it.name = std::string(word(i + 1));
        it.name_begin = tk[i + 1]->begin;
        it.name_end = tk[i + 1]->end;
      }
      if (*k == Item::Kind::ruleset_open || *k == Item::Kind::schedule_open) block = fx.items.size();
      if (*k == Item::Kind::close) {
        it.parent = SIZE_MAX;
        block = SIZE_MAX;
      }
      fx.items.push_back(std::move(it));
      item_first.push_back(i);
    }
    fx.items.back().end = tk[i]->end;
  }

  KnownNames known = known_in;
  for (auto& it : fx.items) {
    if (it.name.empty()) continue;
    if (it.kind == Item::Kind::op || it.kind == Item::Kind::template_) known.callees.insert(it.name);
    if (it.kind == Item::Kind::rule) known.rules.insert(it.name);
    if (it.kind == Item::Kind::ruleset_open) known.rulesets.insert(it.name);
  }

  // Pass 2: occurrences, item by item.
  fx.occurrences.reserve(tk.size() / 2);
  for (size_t ii = 0; ii < fx.items.size(); ++ii) {
    Item& it = fx.items[ii];
    size_t first = item_first[ii], last = ii + 1 < item_first.size() ? item_first[ii + 1] : tk.size();
    auto add = [&](SymKind k, std::string name, const Token& t, bool decl) {
      fx.occurrences.push_back({k, std::move(name), t.begin, t.end, decl, ii});
    };
    std::set<std::string> seen_vars;
    auto add_var = [&](size_t i) {
      std::string_view w = word(i);
      std::string name(w.substr(1, tk[i]->kind == Token::Kind::varargs ? w.size() - 4 : w.size() - 1));
      Token t = *tk[i];
      if (tk[i]->kind == Token::Kind::varargs) t.end -= 3;
      bool decl = seen_vars.insert(name).second;
      add(SymKind::var, std::move(name), t, decl);
    };
    switch (it.kind) {
      case Item::Kind::include:
        if (is(first + 1, Token::Kind::string)) {
          std::string_view s = word(first + 1);
          Token t = *tk[first + 1];
          add(SymKind::include, std::string(s.substr(1, s.size() >= 2 && s.back() == '"' ? s.size() - 2 : s.size() - 1)),
              t, false);
        }
        break;
      case Item::Kind::template_:
        if (!it.name.empty()) add(SymKind::callee, it.name, *tk[first + 1], true);
        break;
      case Item::Kind::ruleset_open:
        if (!it.name.empty()) add(SymKind::ruleset, it.name, *tk[first + 1], true);
        break;
      case Item::Kind::schedule_open:
        if (!it.name.empty()) add(SymKind::schedule, it.name, *tk[first + 1], true);
        break;
      case Item::Kind::use:
        for (size_t i = first + 1; i < last; ++i) {
          if (tk[i]->kind != Token::Kind::ident) continue;
          std::string w(word(i));
          bool is_rule = known.rules.count(w) || !known.rulesets.count(w);
          add(is_rule ? SymKind::rule : SymKind::ruleset, w, *tk[i], false);
        }
        break;
      case Item::Kind::phase:
        if (!it.name.empty()) add(SymKind::phase, it.name, *tk[first + 1], true);
        for (size_t i = first + 2; i + 1 < last; ++i)
          if (is(i, Token::Kind::keyword, "ruleset") && is(i + 1, Token::Kind::ident))
            add(SymKind::ruleset, std::string(word(i + 1)), *tk[i + 1], false);
        break;
      case Item::Kind::op: {
        if (it.name.empty()) break;
        add(SymKind::callee, it.name, *tk[first + 1], true);
        // Parameters: names at the start of each argument of the first (...)
        // group; the definition refers to them as ?name.
        size_t i = first + 2;
        if (is(i, Token::Kind::punct, "{"))
          while (i < last && !is(i, Token::Kind::punct, "}")) ++i;
        while (i < last && !is(i, Token::Kind::punct, "(")) ++i;
        int depth = 0;
        for (; i < last; ++i) {
          if (is(i, Token::Kind::punct, "(") || is(i, Token::Kind::punct, "[")) ++depth;
          if (is(i, Token::Kind::punct, ")") || is(i, Token::Kind::punct, "]")) {
            if (--depth == 0) break;
          }
          if (depth == 1 && tk[i]->kind == Token::Kind::ident &&
              (is(i - 1, Token::Kind::punct, "(") || is(i - 1, Token::Kind::punct, ","))) {
            seen_vars.insert(std::string(word(i)));
            add(SymKind::var, std::string(word(i)), *tk[i], true);
          }
        }
        for (; i < last; ++i)
          if (is(i, Token::Kind::symop, "=")) {
            it.body = tk[i]->end;
            break;
          }
        int braces = 0;
        for (++i; i < last; ++i) {
          auto k = tk[i]->kind;
          if (is(i, Token::Kind::punct, "{")) ++braces;
          if (is(i, Token::Kind::punct, "}")) --braces;
          if (k == Token::Kind::var || k == Token::Kind::varargs) add_var(i);
          else if (braces == 0 && (k == Token::Kind::ident || k == Token::Kind::symop))
            add(SymKind::callee, std::string(word(i)), *tk[i], false);
        }
        break;
      }
      case Item::Kind::rule: {
        if (!it.name.empty()) add(SymKind::rule, it.name, *tk[first + 1], true);
        size_t i = first + 1;
        while (i < last && !is(i, Token::Kind::punct, ":")) ++i;
        if (i < last) it.body = tk[i]->end;
        bool guard = false;
        int braces = 0;
        for (++i; i < last; ++i) {
          auto k = tk[i]->kind;
          std::string_view w = word(i);
          if (is(i, Token::Kind::keyword, "if")) {
            guard = true;
            it.guard = tk[i]->begin;
            continue;
          }
          if (is(i, Token::Kind::punct, "{")) ++braces;
          if (is(i, Token::Kind::punct, "}")) --braces;
          if (k == Token::Kind::var || k == Token::Kind::varargs) {
            add_var(i);
          } else if (braces > 0) {
            continue;  // attribute keys and values
          } else if (!guard && (k == Token::Kind::ident || k == Token::Kind::symop)) {
            add(SymKind::callee, std::string(w), *tk[i], false);
          } else if (guard && k == Token::Kind::ident) {
            bool call = is(i + 1, Token::Kind::punct, "(") && tk[i + 1]->begin == tk[i]->end;
            if (call && find_guard(w)) add(SymKind::guard, std::string(w), *tk[i], false);
            else if (call || known.callees.count(std::string(w))) add(SymKind::callee, std::string(w), *tk[i], false);
          }
        }
        break;
      }
      case Item::Kind::close:
      case Item::Kind::stray:
        break;
    }
  }
  return fx;
}

const Occurrence* FileIndex::occurrence_at(size_t offset) const {
  auto it = std::upper_bound(occurrences.begin(), occurrences.end(), offset,
                             [](size_t off, const Occurrence& o) { return off < o.begin; });
  // Candidates: the last occurrence starting at or before offset.
  if (it == occurrences.begin()) return nullptr;
  const Occurrence& o = *std::prev(it);
  return offset <= o.end ? &o : nullptr;
}

size_t FileIndex::item_at(size_t offset) const {
  auto it = std::upper_bound(items.begin(), items.end(), offset, [](size_t off, const Item& x) { return off < x.begin; });
  if (it == items.begin()) return SIZE_MAX;
  return size_t(std::prev(it) - items.begin());
}

const Token* FileIndex::token_at(size_t offset) const {
  auto it = std::upper_bound(tokens.begin(), tokens.end(), offset, [](size_t off, const Token& t) { return off < t.begin; });
  if (it == tokens.begin()) return nullptr;
  const Token& t = *std::prev(it);
  return offset <= t.end ? &t : nullptr;
}

}  // namespace egfuse::lsp
