// The formatter: prints a parsed file in canonical layout. It reuses the
// parser's concrete syntax (item order, byte ranges, comments), so no second
// grammar exists. Layout: one item per line group, two-space indentation inside
// blocks and for continuation lines (template clauses, `if` guards), at most one
// blank line where the source had any, comments kept where they were (own-line
// comments before the line that followed them, trailing comments at the end of
// the line they ended). Patterns print in the style of their op's declaration.
#include <functional>
#include <map>

#include "engine/rules/syntax.hpp"

namespace egfuse::rules {
namespace {

struct Line {
  std::string text;
  int indent = 0;
  size_t begin = 0, end = 0;  // source range the line stands for
  bool may_follow_blank = false;
};

size_t offset_of(const SourceSpan& s) {
  if (!s.file || s.line == 0) return 0;
  return s.file->line_starts[s.line - 1] + s.col - 1;
}

std::string op_text(const OpDecl& op) {
  std::string s = "op " + op.name;
  if (!op.attrs.empty()) {
    s += "{";
    for (size_t i = 0; i < op.attrs.size(); ++i) s += (i ? ", " : "") + op.attrs[i].name + ": " + op.attrs[i].type;
    s += "}";
  }
  if (is_symbolic_name(op.name)) s += " ";
  s += "(";
  for (size_t i = 0; i < op.params.size(); ++i) {
    s += (i ? ", " : "") + op.params[i].name;
    if (op.variadic && i + 1 == op.params.size()) s += "...";
    if (!op.params[i].type.empty()) s += ": " + op.params[i].type;
  }
  s += ")";
  if (!op.result_type.empty()) s += " -> " + op.result_type;
  for (auto& p : op.properties) s += " " + p;
  if (op.definition) s += " = " + to_string(*op.definition);
  return s;
}

std::string type_text(const std::optional<DType>& dt, const std::vector<DimExpr>& shape) {
  std::string s = dt ? std::string(dtype_name(*dt)) : "";
  s += "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + shape[i].str();
  return s + "]";
}

bool has_blank_line(const std::string& t, size_t from, size_t to) {
  bool line_empty = false;
  bool seen_newline = false;
  for (size_t i = from; i < to && i < t.size(); ++i) {
    char c = t[i];
    if (c == '\n') {
      if (seen_newline && line_empty) return true;
      seen_newline = true;
      line_empty = true;
    } else if (c != ' ' && c != '\t' && c != '\r') {
      line_empty = false;
    }
  }
  return false;
}

// Sets each application's print style from its op's declaration.
void apply_styles(ParsedFile& pf, const std::map<std::string, bool>& sexpr_of) {
  std::function<void(Pattern&)> walk = [&](Pattern& p) {
    if (p.kind == Pattern::Kind::apply && !p.op_is_var) {
      auto it = sexpr_of.find(p.name);
      if (it != sexpr_of.end()) p.sexpr = it->second;
    }
    for (auto& a : p.args) walk(a);
  };
  std::function<void(Guard&)> gwalk = [&](Guard& g) {
    for (auto& a : g.args) walk(a);
    for (auto& k : g.kids) gwalk(k);
  };
  for (auto& op : pf.ops)
    if (op.definition) walk(*op.definition);
  for (auto& r : pf.rules) {
    walk(r.lhs);
    walk(r.rhs);
    if (r.guard) gwalk(*r.guard);
  }
}

bool sexpr_style(const OpDecl& op) {
  if (is_symbolic_name(op.name)) return true;
  if (!op.result_type.empty()) return false;
  for (auto& p : op.params)
    if (!p.type.empty()) return false;
  return true;
}

}  // namespace

std::optional<std::string> format_rules(const std::string& path, const std::string& text, Diagnostics& diags) {
  auto file = make_source(path, text);
  ParsedFile pf = parse_file(file, diags);
  if (!pf.ok) return std::nullopt;

  // Op styles come from the declarations of this file and of what it includes.
  std::map<std::string, bool> sexpr_of;
  {
    Diagnostics quiet;
    std::vector<ParsedFile> all;
    if (!pf.includes.empty()) all = parse_with_includes({file}, quiet);
    for (auto& f : all)
      for (auto& t : f.templates) sexpr_of[t.kind.name] = false;
    for (auto& f : all)
      for (auto& op : f.ops) sexpr_of[op.name] = sexpr_style(op);
    for (auto& t : pf.templates) sexpr_of[t.kind.name] = false;
    for (auto& op : pf.ops) sexpr_of[op.name] = sexpr_style(op);
  }
  apply_styles(pf, sexpr_of);

  std::vector<Line> lines;
  for (const Item& it : pf.items) {
    int ind = it.depth;
    switch (it.kind) {
      case Item::Kind::include:
        lines.push_back({"include \"" + pf.includes[it.index].path + "\"", ind, it.begin, it.end, true});
        break;
      case Item::Kind::op:
        lines.push_back({op_text(pf.ops[it.index]), ind, it.begin, it.end, true});
        break;
      case Item::Kind::template_: {
        const TemplateKind& k = pf.templates[it.index].kind;
        std::string h = "template " + k.name + "(";
        for (size_t i = 0; i < k.inputs.size(); ++i)
          h += (i ? ", " : "") + k.inputs[i].name + ": " + type_text(k.inputs[i].dtype, k.inputs[i].shape);
        h += ") -> " + type_text(k.out_dtype, k.out_shape);
        const auto& clauses = pf.template_clauses[it.index];
        size_t hend = clauses.empty() ? it.end : clauses.front().begin;
        lines.push_back({h, ind, it.begin, hend, true});
        for (auto& c : clauses) lines.push_back({c.text, ind + 1, c.begin, c.end, false});
        break;
      }
      case Item::Kind::rule: {
        const Rule& r = pf.rules[it.index];
        std::string h = "rule " + r.name + ": " + to_string(r.lhs) + (r.bidirectional ? " <=> " : " => ") + to_string(r.rhs);
        if (r.guard) {
          // The guard's range starts at its `if` keyword.
          size_t gb = offset_of(r.guard->span);
          size_t kw = text.rfind("if", gb);
          if (kw != std::string::npos && kw >= it.begin) gb = kw;
          lines.push_back({h, ind, it.begin, gb, true});
          lines.push_back({"if " + to_string(*r.guard), ind + 1, gb, it.end, false});
        } else {
          lines.push_back({h, ind, it.begin, it.end, true});
        }
        break;
      }
      case Item::Kind::ruleset_open:
        lines.push_back({"ruleset " + pf.rulesets[it.index].name + " {", ind, it.begin, it.end, true});
        break;
      case Item::Kind::use: {
        std::string s = "use ";
        const Use& u = pf.uses[it.index];
        for (size_t i = 0; i < u.names.size(); ++i) s += (i ? ", " : "") + u.names[i].first;
        lines.push_back({s, ind, it.begin, it.end, true});
        break;
      }
      case Item::Kind::schedule_open:
        lines.push_back({"schedule " + pf.schedules[it.index].name + " {", ind, it.begin, it.end, true});
        break;
      case Item::Kind::phase: {
        auto [si, pi] = pf.phase_owner[it.index];
        lines.push_back({phase_text(pf.schedules[si].phases[pi]), ind, it.begin, it.end, true});
        break;
      }
      case Item::Kind::close:
        lines.push_back({"}", ind, it.begin, it.end, false});
        break;
    }
  }

  // Interleave comments.
  std::string out;
  size_t ci = 0;
  size_t prev_end = 0;
  bool first = true;
  auto indent = [](int n) { return std::string(size_t(n) * 2, ' '); };
  auto comment_text = [&](const Comment& c) { return text.substr(c.begin, c.end - c.begin); };
  auto is_trailing = [&](const Comment& c) {
    size_t ls = text.rfind('\n', c.begin == 0 ? 0 : c.begin - 1);
    ls = (ls == std::string::npos || c.begin == 0) ? 0 : ls + 1;
    for (size_t i = ls; i < c.begin; ++i)
      if (text[i] != ' ' && text[i] != '\t') return true;
    return false;
  };
  auto blank_before = [&](size_t at, bool allowed) {
    if (!first && allowed && has_blank_line(text, prev_end, at)) out += "\n";
  };
  for (size_t li = 0; li < lines.size(); ++li) {
    const Line& ln = lines[li];
    while (ci < pf.comments.size() && pf.comments[ci].begin < ln.begin) {
      const Comment& c = pf.comments[ci];
      if (is_trailing(c) && !first) {  // belongs to the previous line
        while (!out.empty() && out.back() == '\n') out.pop_back();
        out += " " + comment_text(c) + "\n";
      } else {
        blank_before(c.begin, true);
        out += indent(ln.indent) + comment_text(c) + "\n";
      }
      first = false;
      prev_end = c.end;
      ++ci;
    }
    blank_before(ln.begin, ln.may_follow_blank);
    out += indent(ln.indent) + ln.text;
    // Trailing comments that start inside this line's range.
    while (ci < pf.comments.size() && pf.comments[ci].begin < ln.end && is_trailing(pf.comments[ci])) {
      out += " " + comment_text(pf.comments[ci]);
      prev_end = pf.comments[ci].end;
      ++ci;
    }
    // Own-line comments inside the range (e.g. between the lines of a rule) go after it.
    out += "\n";
    first = false;
    prev_end = std::max(prev_end, ln.end);
  }
  while (ci < pf.comments.size()) {
    const Comment& c = pf.comments[ci];
    if (is_trailing(c) && !first) {
      while (!out.empty() && out.back() == '\n') out.pop_back();
      out += " " + comment_text(c) + "\n";
    } else {
      blank_before(c.begin, true);
      out += comment_text(c) + "\n";
    }
    first = false;
    prev_end = c.end;
    ++ci;
  }
  return out;
}

}  // namespace egfuse::rules
