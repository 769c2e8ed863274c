// Parser of conformance case files (docs/conformance.md). Line oriented and
// hand-written: a case is a header of keyword lines, at most one graph block,
// at most one inline rules block, and `expect` lines. Blocks are handed on to
// the graph and rule parsers with every other line blanked, so their
// diagnostics keep the case file's own line and column numbers.
#include <algorithm>
#include <filesystem>
#include <set>

#include "egfuse/conform.hpp"

namespace egfuse::conform {
namespace {

namespace fs = std::filesystem;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Strips a trailing '#' comment that is outside quotes.
std::string_view strip_comment(std::string_view s) {
  bool quoted = false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '"') quoted = !quoted;
    if (s[i] == '#' && !quoted) return s.substr(0, i);
  }
  return s;
}

// Splits on whitespace and commas at bracket depth 0; quoted strings stay whole
// (without quotes). Returns words with their column (1-based).
std::vector<std::pair<std::string, uint32_t>> words(std::string_view s, uint32_t col0) {
  std::vector<std::pair<std::string, uint32_t>> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == ',')) ++i;
    if (i >= s.size()) break;
    size_t b = i;
    if (s[i] == '"') {
      size_t e = s.find('"', i + 1);
      if (e == std::string_view::npos) e = s.size();
      out.push_back({std::string(s.substr(i + 1, e - i - 1)), uint32_t(col0 + i)});
      i = e + 1;
      continue;
    }
    int depth = 0;
    while (i < s.size()) {
      char c = s[i];
      if (c == '(' || c == '[') ++depth;
      if (c == ')' || c == ']') --depth;
      if (depth <= 0 && (c == ' ' || c == '\t' || c == ',')) {
        // an s-expression head followed by '(' keeps going: "f (a b)" is two words
        break;
      }
      ++i;
    }
    out.push_back({std::string(s.substr(b, i - b)), uint32_t(col0 + b)});
  }
  return out;
}

int brace_delta(std::string_view line) {
  int d = 0;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') quoted = !quoted;
    if (quoted) continue;
    if (c == '#') break;
    if (c == '{') ++d;
    if (c == '}') --d;
  }
  return d;
}

const std::set<std::string>& expectation_kinds() {
  static const std::set<std::string> k = {"kernels",  "same-kernel", "different-kernels", "epilogue", "no-epilogue",
                                          "prologue", "no-prologue", "fires",             "never-fires",
                                          "equal",    "not-equal",   "numeric",           "error"};
  return k;
}

}  // namespace

std::optional<Case> parse_case(std::shared_ptr<const SourceFile> file, Diagnostics& diags) {
  Case c;
  c.file = file;
  c.name = fs::path(file->path).stem().string();
  size_t errors_before = diags.error_count();
  const size_t nlines = file->line_starts.size();
  fs::path dir = fs::path(file->path).parent_path();
  bool saw_case = false, explicit_rules = false;

  auto span = [&](uint32_t line, uint32_t col, uint32_t len = 1) {
    SourceSpan s;
    s.file = file;
    s.line = line;
    s.col = col;
    s.length = len;
    return s;
  };
  // Collects lines [first, last] as a block text with all other lines blank.
  auto block_text = [&](uint32_t first, uint32_t last) {
    std::string out;
    for (uint32_t l = 1; l <= nlines; ++l) {
      if (l >= first && l <= last) out += std::string(file->line(l));
      out += '\n';
    }
    return out;
  };

  for (uint32_t ln = 1; ln <= nlines; ++ln) {
    std::string_view raw = file->line(ln);
    std::string_view line = trim(raw);
    uint32_t col0 = uint32_t(raw.find_first_not_of(" \t") == std::string_view::npos ? 1 : raw.find_first_not_of(" \t") + 1);
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (!saw_case) c.doc += std::string(trim(line.substr(1))) + "\n";
      continue;
    }
    line = trim(strip_comment(line));
    auto ws = words(line, col0);
    const std::string& kw = ws[0].first;

    if (kw == "graph" || kw == "rules-text") {
      if (kw == "graph" && c.graph_text) {
        diags.error(span(ln, col0, 5), "E-case-dup", "a case holds at most one graph block");
      }
      if (kw == "rules-text" && c.inline_rules) {
        diags.error(span(ln, col0, 10), "E-case-dup", "a case holds at most one rules-text block");
      }
      int depth = brace_delta(line);
      if (depth <= 0) {
        diags.error(span(ln, uint32_t(col0 + line.size())), "E-case-block", "expected '{' to open the " + kw + " block");
        continue;
      }
      uint32_t first = ln, last = ln;
      while (depth > 0 && last < nlines) depth += brace_delta(file->line(++last));
      if (depth > 0) {
        diags.error(span(first, col0, uint32_t(kw.size())), "E-case-block",
                    "the " + kw + " block opened here is never closed: expected '}'");
        break;
      }
      if (kw == "graph") {
        c.graph_text = block_text(first, last);
      } else {
        // the rule text is what lies between the braces
        std::string out;
        for (uint32_t l = 1; l <= nlines; ++l) {
          if (l > first && l < last) out += std::string(file->line(l));
          out += '\n';
        }
        c.inline_rules = out;
      }
      ln = last;
      continue;
    }
    if (kw == "case") {
      if (ws.size() != 2) {
        diags.error(span(ln, col0, uint32_t(line.size())), "E-case-syntax", "expected 'case NAME'");
        continue;
      }
      c.name = ws[1].first;
      saw_case = true;
      continue;
    }
    if (kw == "rules") {
      if (ws.size() < 2) {
        diags.error(span(ln, uint32_t(col0 + line.size())), "E-case-syntax",
                    "expected 'standard' or rule file paths after 'rules'");
        continue;
      }
      if (!explicit_rules) c.use_standard = false;
      explicit_rules = true;
      for (size_t i = 1; i < ws.size(); ++i) {
        if (ws[i].first == "standard") {
          c.use_standard = true;
          continue;
        }
        fs::path p = fs::path(ws[i].first);
        if (p.is_relative()) p = dir / p;
        if (!fs::exists(p)) {
          diags.error(span(ln, ws[i].second, uint32_t(ws[i].first.size())), "E-case-rules",
                      "rule file '" + ws[i].first + "' does not exist (looked for " + p.string() + ")");
          continue;
        }
        c.rule_files.push_back(p.lexically_normal().string());
      }
      continue;
    }
    if (kw == "option") {
      if (ws.size() != 3) {
        diags.error(span(ln, col0, uint32_t(line.size())), "E-case-syntax", "expected 'option KEY VALUE'");
        continue;
      }
      c.options.push_back({ws[1].first, ws[2].first});
      continue;
    }
    if (kw == "expect") {
      if (ws.size() < 2) {
        diags.error(span(ln, uint32_t(col0 + line.size())), "E-case-syntax", "expected an expectation after 'expect'");
        continue;
      }
      Expectation e;
      e.kind = ws[1].first;
      e.span = span(ln, ws[1].second, uint32_t(e.kind.size()));
      if (!expectation_kinds().count(e.kind)) {
        std::string list;
        for (auto& k : expectation_kinds()) list += (list.empty() ? "" : ", ") + k;
        diags.error(e.span, "E-case-expect", "unknown expectation '" + e.kind + "' (expected one of: " + list + ")");
        continue;
      }
      size_t i = 2;
      if (e.kind == "kernels" && i < ws.size() && (ws[i].first == "<=" || ws[i].first == "==")) e.op = ws[i++].first;
      if (e.kind == "kernels" && e.op.empty()) e.op = "==";
      for (; i < ws.size(); ++i) e.args.push_back(ws[i].first);
      auto need = [&](size_t lo, size_t hi, const char* what) {
        if (e.args.size() < lo || e.args.size() > hi) {
          diags.error(span(ln, col0, uint32_t(line.size())), "E-case-expect",
                      "'expect " + e.kind + "' takes " + what);
          return false;
        }
        return true;
      };
      bool ok = true;
      if (e.kind == "kernels") {
        ok = need(1, 1, "a number, optionally after '<=' or '=='");
        if (ok && e.args[0].find_first_not_of("0123456789") != std::string::npos) {
          diags.error(span(ln, ws.back().second, uint32_t(ws.back().first.size())), "E-case-expect",
                      "expected a kernel count, got '" + e.args[0] + "'");
          ok = false;
        }
      } else if (e.kind == "same-kernel" || e.kind == "different-kernels") {
        ok = need(2, 64, "two or more node names");
      } else if (e.kind == "epilogue" || e.kind == "no-epilogue") {
        ok = need(1, 64, "a template node name and optionally the ops expected in its epilogue");
      } else if (e.kind == "prologue" || e.kind == "no-prologue") {
        ok = need(2, 64, "a template node name, an input name, and optionally the ops expected");
      } else if (e.kind == "fires" || e.kind == "never-fires") {
        ok = need(1, 1, "one rule name");
      } else if (e.kind == "equal" || e.kind == "not-equal") {
        ok = need(2, 2, "two terms");
      } else if (e.kind == "numeric") {
        ok = need(1, 16, "backend names (interp, vulkan, cuda), optionally 'tol ABS REL'");
      } else if (e.kind == "error") {
        ok = need(1, 1, "an error code or a quoted message fragment");
      }
      if (ok) c.expects.push_back(std::move(e));
      continue;
    }
    diags.error(span(ln, col0, uint32_t(kw.size())), "E-case-syntax",
                "unknown keyword '" + kw + "' (expected case, rules, rules-text, option, graph or expect)");
  }
  if (c.expects.empty() && diags.error_count() == errors_before)
    diags.error(span(1, 1), "E-case-empty", "a case needs at least one 'expect' line");
  if (diags.error_count() != errors_before) return std::nullopt;
  return c;
}

}  // namespace egfuse::conform
