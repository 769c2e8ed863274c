// Printing of patterns, guards and phases in the canonical surface syntax
// (shared by to_string, the formatter and the checker's messages).
#include <charconv>
#include <cmath>

#include "engine/rules/syntax.hpp"

namespace egfuse::rules {

std::string number_text(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string duration_text(double s) {
  double ms = s * 1000;
  if (s < 1 && std::nearbyint(ms) == ms) return number_text(ms) + "ms";
  return number_text(s) + "s";
}

bool is_symbolic_name(const std::string& n) {
  return !n.empty() && !(std::isalpha(static_cast<unsigned char>(n[0])) || n[0] == '_');
}

static void print(const Pattern& p, std::string& out) {
  switch (p.kind) {
    case Pattern::Kind::var: out += "?" + p.name; return;
    case Pattern::Kind::varargs: out += "?" + p.name + "..."; return;
    case Pattern::Kind::number: out += number_text(p.number); return;
    case Pattern::Kind::symbol: out += p.name; return;
    case Pattern::Kind::apply: break;
  }
  bool sexpr = p.sexpr || (!p.op_is_var && is_symbolic_name(p.name));
  if (sexpr) out += "(";
  if (p.op_is_var) out += "?";
  out += p.name;
  if (!p.attrs.empty()) {
    out += "{";
    for (size_t i = 0; i < p.attrs.size(); ++i) out += (i ? ", " : "") + p.attrs[i].first + "=" + p.attrs[i].second;
    out += "}";
  }
  if (sexpr) {
    for (auto& a : p.args) out += " ", print(a, out);
    out += ")";
  } else {
    out += "(";
    for (size_t i = 0; i < p.args.size(); ++i) {
      if (i) out += ", ";
      print(p.args[i], out);
    }
    out += ")";
  }
}

std::string to_string(const Pattern& p) {
  std::string out;
  print(p, out);
  return out;
}

static int precedence(const Guard& g) {
  switch (g.kind) {
    case Guard::Kind::or_: return 1;
    case Guard::Kind::and_: return 2;
    case Guard::Kind::not_: return 3;
    default: return 4;
  }
}

static void print(const Guard& g, std::string& out) {
  auto kid = [&](const Guard& k, int min_prec) {
    bool paren = precedence(k) < min_prec;
    if (paren) out += "(";
    print(k, out);
    if (paren) out += ")";
  };
  switch (g.kind) {
    case Guard::Kind::or_:
    case Guard::Kind::and_:
      for (size_t i = 0; i < g.kids.size(); ++i) {
        if (i) out += g.kind == Guard::Kind::or_ ? " or " : " and ";
        kid(g.kids[i], precedence(g) + 1);
      }
      return;
    case Guard::Kind::not_:
      out += "not ";
      kid(g.kids.at(0), 3);
      return;
    case Guard::Kind::compare:
      print(g.kids.at(0), out);
      out += " " + g.name + " ";
      print(g.kids.at(1), out);
      return;
    case Guard::Kind::call:
      if (g.name.empty()) {
        out += g.literal;
        return;
      }
      out += g.name + "(";
      for (size_t i = 0; i < g.args.size(); ++i) out += (i ? ", " : "") + to_string(g.args[i]);
      if (g.is_literal) out += (g.args.empty() ? "" : ", ") + g.literal;
      out += ")";
      return;
  }
}

std::string to_string(const Guard& g) {
  std::string out;
  print(g, out);
  return out;
}

std::string phase_text(const Phase& p) {
  std::string s = "phase " + p.name + ": ruleset " + p.ruleset;
  if (p.iter_limit) s += ", iter " + std::to_string(*p.iter_limit);
  if (p.node_limit) s += ", nodes " + std::to_string(*p.node_limit);
  if (p.time_limit_s) s += ", time " + duration_text(*p.time_limit_s);
  if (p.scheduler != "simple") s += ", scheduler " + p.scheduler;
  if (p.match_limit) s += ", match_limit " + std::to_string(*p.match_limit);
  if (p.ban_length) s += ", ban_length " + std::to_string(*p.ban_length);
  return s;
}

std::string Rule::location() const {
  if (!span.file) return "<unknown>";
  return span.file->path + ":" + std::to_string(span.line);
}

}  // namespace egfuse::rules
