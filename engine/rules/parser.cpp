// Parser of the rule language: runs grammar.hpp item by item, keeps a parse tree
// of the selected rules, and turns it into the AST. The only PEGTL translation
// unit of the front end. Error recovery: after a syntax error the parser skips
// to the next line that starts a top-level item, so one run reports every
// broken item of a file.
#include <algorithm>
#include <charconv>
#include <functional>
#include <filesystem>
#include <map>
#include <set>
#include <tao/pegtl/contrib/parse_tree.hpp>

#include "engine/rules/grammar.hpp"
#include "engine/rules/syntax.hpp"

namespace egfuse::rules {
namespace {

namespace g = grammar;
namespace pegtl = tao::pegtl;
namespace pt = tao::pegtl::parse_tree;

template <class Rule>
using selector = pt::selector<
    Rule,
    pt::store_content::on<g::dim_var, g::dim_int, g::dim_mulop, g::dim_addop, g::dim_term, g::dim_expr, g::shape_lit,
                          g::attr_key, g::attr_value, g::attr, g::attrs, g::head_name, g::head_var, g::p_call,
                          g::p_var_call, g::p_sexpr, g::p_varargs, g::p_var, g::p_number, g::p_symbol, g::g_fname,
                          g::g_call, g::g_literal, g::g_cmpop, g::g_compare, g::g_not, g::g_and, g::g_or,
                          g::include_path, g::include_decl, g::op_name, g::param_name, g::param_variadic,
                          g::param_type, g::op_param, g::attr_decl, g::attr_kind, g::result_type, g::op_property,
                          g::op_definition, g::op_decl, g::tmpl_name, g::dtype_name, g::tmpl_input, g::tmpl_output,
                          g::clause_name, g::c_prologue, g::c_epilogue, g::c_mutates, g::c_impl, g::cost_key,
                          g::cost_item, g::c_cost, g::c_backends, g::c_extern, g::template_decl, g::rule_name,
                          g::arrow, g::lhs, g::rhs, g::guard_clause, g::rule_decl, g::ruleset_name, g::ruleset_open,
                          g::use_name, g::use_decl, g::schedule_name, g::schedule_open, g::phase_name,
                          g::setting_key, g::setting_value, g::phase_setting, g::phase_decl, g::block_close>>;

// What a failed `must<R>` expected, in words.
template <class R>
struct expected {
  static std::string text() { return std::string(pegtl::demangle<R>()); }
};
template <char... C>
struct expected<g::sym<C...>> {
  static std::string text() { return std::string("'") + std::string{C...} + "'"; }
};
template <char... C>
struct expected<pegtl::ascii::one<C...>> {
  static std::string text() { return std::string("'") + std::string{C...} + "'"; }
};
#define EGFUSE_EXPECTED(R, msg) \
  template <>                   \
  struct expected<R> {          \
    static std::string text() { return msg; } \
  };
EGFUSE_EXPECTED(g::item, "a declaration (include, op, template, rule, ruleset, use, schedule, phase)")
EGFUSE_EXPECTED(g::dim_expr, "a dimension expression (a number, a shape variable, or (expr))")
EGFUSE_EXPECTED(g::dim_atom, "a number, a shape variable or '('")
EGFUSE_EXPECTED(g::dim_term, "a dimension term")
EGFUSE_EXPECTED(g::attr_value, "an attribute value (number, name, string or [list])")
EGFUSE_EXPECTED(g::sexpr_head, "an op name or ?variable after '('")
EGFUSE_EXPECTED(g::pattern, "a pattern")
EGFUSE_EXPECTED(g::lhs, "a pattern (the rule's left side)")
EGFUSE_EXPECTED(g::rhs, "a pattern (the rule's right side)")
EGFUSE_EXPECTED(g::arrow, "'=>' or '<=>'")
EGFUSE_EXPECTED(g::g_or, "a guard expression")
EGFUSE_EXPECTED(g::guard_expr, "a guard expression after 'if'")
EGFUSE_EXPECTED(g::g_unary, "a guard after 'not'")
EGFUSE_EXPECTED(g::g_rhs_operand, "a guard call or literal after the comparison operator")
EGFUSE_EXPECTED(g::include_path, "a quoted file name")
EGFUSE_EXPECTED(g::op_name, "an op name")
EGFUSE_EXPECTED(g::op_params, "'(' and the op's parameters")
EGFUSE_EXPECTED(g::param_type, "a type (T, f32, [M, K], f32[M, K])")
EGFUSE_EXPECTED(g::result_type, "a result type after '->'")
EGFUSE_EXPECTED(g::attr_kind, "an attribute kind (int, ints, float, bool, dtype, str)")
EGFUSE_EXPECTED(g::tmpl_name, "a template kind name")
EGFUSE_EXPECTED(g::tmpl_inputs, "'(' and the template's inputs")
EGFUSE_EXPECTED(g::tensor_type, "a tensor type (f32[M, K] or [M, K])")
EGFUSE_EXPECTED(g::tmpl_output, "the output type ([M, N] or f32[M, N])")
EGFUSE_EXPECTED(g::shape_lit, "a shape in brackets: [M, K]")
EGFUSE_EXPECTED(g::name_list, "a list of input names")
EGFUSE_EXPECTED(g::clause_name, "a name")
EGFUSE_EXPECTED(g::cost_item, "'flops' or 'bytes' and a formula")
EGFUSE_EXPECTED(g::rule_name, "a rule name")
EGFUSE_EXPECTED(g::ruleset_name, "a ruleset name")
EGFUSE_EXPECTED(g::schedule_name, "a schedule name")
EGFUSE_EXPECTED(g::phase_name, "a phase name")
EGFUSE_EXPECTED(g::setting_value, "a value (number, duration such as 2s or 500ms, or name)")
#undef EGFUSE_EXPECTED
template <class R, class S>
struct expected<pegtl::list<R, S>> {
  static std::string text() { return expected<R>::text(); }
};
template <>
struct expected<pegtl::list<g::phase_setting, g::sym<','>>> {
  static std::string text() { return "a phase setting (ruleset, iter, nodes, time, scheduler, match_limit, ban_length)"; }
};
template <>
struct expected<pegtl::list<pegtl::seq<g::use_name, g::sp>, g::sym<','>>> {
  static std::string text() { return "a rule or ruleset name"; }
};

template <class Rule>
struct control : pegtl::normal<Rule> {
  template <class Input, class... States>
  [[noreturn]] static void raise(const Input& in, States&&...) {
    throw pegtl::parse_error("expected " + expected<Rule>::text(), in);
  }
};

using Node = pt::node;

// The token at `off`, for "found ..." in messages.
std::string token_at(const std::string& text, size_t off) {
  if (off >= text.size()) return "end of file";
  char c = text[off];
  if (c == '\n' || c == '\r') return "end of line";
  auto is_id = [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_'; };
  size_t e = off;
  if (is_id(c)) {
    while (e < text.size() && is_id(text[e])) ++e;
  } else {
    e = off + 1;
  }
  return "'" + text.substr(off, e - off) + "'";
}

class Converter {
 public:
  Converter(ParsedFile& pf, Diagnostics& diags) : pf_(pf), diags_(diags), text_(pf.file->text) {}

  size_t off(const pegtl::internal::iterator& it) const { return size_t(it.data - text_.data()); }
  size_t begin(const Node& n) const { return off(n.m_begin); }
  // End of a node without the spacing (and comments) some rules consume after it.
  size_t end(const Node& n) const {
    size_t e = off(n.m_end), b = off(n.m_begin);
    for (;;) {
      while (e > b && std::isspace(static_cast<unsigned char>(text_[e - 1]))) --e;
      auto it = std::upper_bound(pf_.comments.begin(), pf_.comments.end(), e - 1,
                                 [](size_t x, const Comment& c) { return x < c.begin; });
      if (e == b || it == pf_.comments.begin()) return e;
      --it;
      if (e - 1 >= it->begin && e - 1 < it->end && it->begin >= b) e = it->begin;
      else return e;
    }
  }
  SourceSpan span(const Node& n) const {
    size_t b = begin(n), e = end(n);
    size_t eol = text_.find('\n', b);
    if (eol != std::string::npos && eol < e) e = eol;
    return span_at(pf_.file, b, uint32_t(std::max<size_t>(1, e - b)));
  }
  static std::string str(const Node& n) { return n.string(); }

  void error(const SourceSpan& s, std::string code, std::string msg) {
    diags_.error(s, std::move(code), std::move(msg));
    pf_.ok = false;
  }

  // ------------------------------------------------------------ dims
  DimExpr dim(const Node& n) {
    if (n.is_type<g::dim_int>()) {
      int64_t v = 0;
      auto s = n.string_view();
      auto r = std::from_chars(s.data(), s.data() + s.size(), v);
      if (r.ec != std::errc()) error(span(n), "E-number", "integer out of range");
      return DimExpr::number(v);
    }
    if (n.is_type<g::dim_var>()) return DimExpr::variable(str(n));
    // dim_term / dim_expr: operands interleaved with operators, left-associative.
    DimExpr acc = dim(*n.children[0]);
    for (size_t i = 1; i + 1 < n.children.size(); i += 2) {
      char op = n.children[i]->string_view()[0];
      auto k = op == '*' ? DimExpr::Kind::mul : op == '/' ? DimExpr::Kind::div : op == '+' ? DimExpr::Kind::add
                                                                                             : DimExpr::Kind::sub;
      acc = DimExpr::binary(k, std::move(acc), dim(*n.children[i + 1]));
    }
    return acc;
  }
  std::vector<DimExpr> shape(const Node& n) {
    std::vector<DimExpr> out;
    for (auto& c : n.children) out.push_back(dim(*c));
    return out;
  }
  static std::string shape_text(const std::vector<DimExpr>& s) {
    std::string t = "[";
    for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + s[i].str();
    return t + "]";
  }

  // ------------------------------------------------------------ patterns
  Pattern pattern(const Node& n) {
    Pattern p;
    p.span = span(n);
    if (n.is_type<g::p_number>()) {
      p.kind = Pattern::Kind::number;
      auto s = n.string_view();
      p.number = std::strtod(std::string(s).c_str(), nullptr);
      p.name = number_text(p.number);
    } else if (n.is_type<g::p_var>()) {
      p.kind = Pattern::Kind::var;
      p.name = str(n).substr(1);
    } else if (n.is_type<g::p_varargs>()) {
      p.kind = Pattern::Kind::varargs;
      std::string s = str(n);
      p.name = s.substr(1, s.size() - 4);
    } else if (n.is_type<g::p_symbol>()) {
      p.kind = Pattern::Kind::symbol;
      p.name = str(n);
    } else {  // p_call, p_var_call, p_sexpr
      p.kind = Pattern::Kind::apply;
      p.sexpr = n.is_type<g::p_sexpr>();
      const Node& head = *n.children.at(0);
      p.op_is_var = head.is_type<g::head_var>();
      p.name = p.op_is_var ? str(head).substr(1) : str(head);
      for (size_t i = 1; i < n.children.size(); ++i) {
        const Node& c = *n.children[i];
        if (c.is_type<g::attrs>())
          attrs(c, p);
        else
          p.args.push_back(pattern(c));
      }
    }
    return p;
  }
  void attrs(const Node& n, Pattern& p) {
    for (auto& a : n.children) {
      std::string key = str(*a->children.at(0));
      const Node& v = *a->children.at(1);
      for (auto& [k, val] : p.attrs)
        if (k == key) error(span(*a->children[0]), "E-duplicate-attr", "attribute '" + key + "' is given twice");
      p.attrs.emplace_back(key, attr_text(v));
    }
  }
  // Canonical text of an attribute value: lists as "[1, 2]", numbers shortest.
  static std::string attr_text(const Node& v) {
    std::string s = v.string();
    if (s.empty() || s[0] != '[') return canonical_scalar(s);
    std::string out = "[";
    std::string item;
    bool first = true;
    auto flush = [&] {
      size_t b = item.find_first_not_of(" \t\r\n"), e = item.find_last_not_of(" \t\r\n");
      if (b == std::string::npos) return;
      out += (first ? "" : ", ") + canonical_scalar(item.substr(b, e - b + 1));
      first = false;
      item.clear();
    };
    for (size_t i = 1; i + 1 < s.size(); ++i) {
      if (s[i] == ',') flush(), item.clear();
      else item += s[i];
    }
    flush();
    return out + "]";
  }
  static std::string canonical_scalar(const std::string& s) {
    if (!s.empty() && (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-'))
      return number_text(std::strtod(s.c_str(), nullptr));
    return s;
  }

  // ------------------------------------------------------------ guards
  Guard guard(const Node& n) {
    Guard gd;
    gd.span = span(n);
    if (n.is_type<g::g_or>() || n.is_type<g::g_and>()) {
      if (n.children.size() == 1) return guard(*n.children[0]);
      gd.kind = n.is_type<g::g_or>() ? Guard::Kind::or_ : Guard::Kind::and_;
      for (auto& c : n.children) gd.kids.push_back(guard(*c));
    } else if (n.is_type<g::g_not>()) {
      gd.kind = Guard::Kind::not_;
      gd.kids.push_back(guard(*n.children.at(0)));
    } else if (n.is_type<g::g_compare>()) {
      if (n.children.size() == 1) return guard(*n.children[0]);
      gd.kind = Guard::Kind::compare;
      gd.name = str(*n.children.at(1));
      gd.kids.push_back(guard(*n.children.at(0)));
      gd.kids.push_back(guard(*n.children.at(2)));
    } else if (n.is_type<g::g_call>()) {
      gd.kind = Guard::Kind::call;
      gd.name = str(*n.children.at(0));
      for (size_t i = 1; i < n.children.size(); ++i) {
        const Node& c = *n.children[i];
        if (c.is_type<g::shape_lit>()) {
          if (i + 1 != n.children.size())
            error(span(c), "E-guard-literal", "a shape literal must be the last argument of '" + gd.name + "'");
          gd.literal = shape_text(shape(c));
          gd.is_literal = true;
        } else {
          gd.args.push_back(pattern(c));
        }
      }
    } else if (n.is_type<g::g_literal>()) {
      gd.kind = Guard::Kind::call;
      gd.is_literal = true;
      const Node* c = n.children.empty() ? nullptr : n.children[0].get();
      gd.literal = c && c->is_type<g::shape_lit>() ? shape_text(shape(*c)) : canonical_scalar(str(n));
    }
    return gd;
  }

  // ------------------------------------------------------------ declarations
  std::string type_text(const Node& n) {
    std::string s = str(n);
    size_t br = s.find('[');
    std::string head = s.substr(0, br);
    while (!head.empty() && std::isspace(static_cast<unsigned char>(head.back()))) head.pop_back();
    if (br == std::string::npos) return head;
    return head + shape_text(shape(*n.children.at(0)));
  }

  void op_decl(const Node& n, std::string doc) {
    OpDecl op;
    op.doc = std::move(doc);
    bool seen_variadic = false;
    for (auto& cp : n.children) {
      const Node& c = *cp;
      if (c.is_type<g::op_name>()) {
        op.name = str(c);
        op.span = span(c);
      } else if (c.is_type<g::attr_decl>()) {
        op.attrs.push_back({str(*c.children.at(0)), str(*c.children.at(1))});
      } else if (c.is_type<g::op_param>()) {
        OpParam prm;
        prm.name = str(*c.children.at(0));
        if (seen_variadic) error(span(*c.children[0]), "E-variadic", "only the last parameter may be variadic");
        for (size_t i = 1; i < c.children.size(); ++i) {
          if (c.children[i]->is_type<g::param_variadic>()) {
            seen_variadic = true;
            op.variadic = true;
          } else {
            prm.type = type_text(*c.children[i]);
          }
        }
        op.params.push_back(std::move(prm));
      } else if (c.is_type<g::result_type>()) {
        op.result_type = type_text(c);
      } else if (c.is_type<g::op_property>()) {
        op.properties.push_back(str(c));
      } else if (c.is_type<g::op_definition>()) {
        op.definition = pattern(*c.children.at(0));
      }
    }
    pf_.ops.push_back(std::move(op));
  }

  void template_decl(const Node& n, std::string doc) {
    TemplateKind k;
    k.doc = std::move(doc);
    k.epilogue = false;
    std::vector<TemplateClause> clauses;
    std::vector<std::pair<std::string, SourceSpan>> prologue_names, mutated_names;
    bool saw_impl = false, saw_backends = false;
    auto dtype_of = [&](const Node& d) -> std::optional<DType> {
      auto dt = parse_dtype(d.string_view());
      if (!dt) error(span(d), "E-unknown-dtype", "unknown dtype '" + str(d) + "' (known: f32, f16, bf16, i32, i64, bool)");
      return dt;
    };
    for (auto& cp : n.children) {
      const Node& c = *cp;
      TemplateClause cl{"", begin(c), end(c)};
      if (c.is_type<g::tmpl_name>()) {
        k.name = str(c);
        k.span = span(c);
        continue;
      } else if (c.is_type<g::tmpl_input>()) {
        TemplateInput in;
        in.name = str(*c.children.at(0));
        for (size_t i = 1; i < c.children.size(); ++i) {
          if (c.children[i]->is_type<g::dtype_name>()) in.dtype = dtype_of(*c.children[i]);
          else in.shape = shape(*c.children[i]);
        }
        for (auto& o : k.inputs)
          if (o.name == in.name) error(span(*c.children[0]), "E-duplicate-input", "input '" + in.name + "' is declared twice");
        k.inputs.push_back(std::move(in));
        continue;
      } else if (c.is_type<g::tmpl_output>()) {
        for (auto& oc : c.children) {
          if (oc->is_type<g::dtype_name>()) k.out_dtype = dtype_of(*oc);
          else k.out_shape = shape(*oc);
        }
        continue;
      } else if (c.is_type<g::c_prologue>() || c.is_type<g::c_mutates>() || c.is_type<g::c_backends>()) {
        const char* kw = c.is_type<g::c_prologue>() ? "prologue" : c.is_type<g::c_mutates>() ? "mutates" : "backends";
        cl.text = kw;
        std::vector<std::string> names;
        for (auto& nm : c.children) {
          cl.text += (names.empty() ? " " : ", ") + str(*nm);
          names.push_back(str(*nm));
          if (c.is_type<g::c_prologue>()) prologue_names.emplace_back(str(*nm), span(*nm));
          if (c.is_type<g::c_mutates>()) mutated_names.emplace_back(str(*nm), span(*nm));
        }
        if (c.is_type<g::c_backends>()) {
          if (!saw_backends) k.backends.clear();
          saw_backends = true;
          for (auto& b : names) k.backends.push_back(b);
        }
      } else if (c.is_type<g::c_epilogue>()) {
        cl.text = "epilogue";
        k.epilogue = true;
      } else if (c.is_type<g::c_extern>()) {
        cl.text = "extern";
        k.is_extern = true;
      } else if (c.is_type<g::c_impl>()) {
        k.impl = str(*c.children.at(0));
        if (saw_impl) error(span(c), "E-duplicate-clause", "template '" + k.name + "' has two impl clauses");
        saw_impl = true;
        cl.text = "impl " + k.impl;
      } else if (c.is_type<g::c_cost>()) {
        cl.text = "cost";
        for (auto& item : c.children) {
          std::string key = str(*item->children.at(0));
          DimExpr e = dim(*item->children.at(1));
          cl.text += " " + key + " " + e.str();
          (key == "flops" ? k.flops : k.bytes) = e;
        }
      }
      clauses.push_back(std::move(cl));
    }
    auto mark = [&](const std::vector<std::pair<std::string, SourceSpan>>& names, bool TemplateInput::*field,
                    const char* what) {
      for (auto& [nm, sp] : names) {
        bool found = false;
        for (auto& in : k.inputs)
          if (in.name == nm) in.*field = found = true;
        if (!found) {
          std::string known;
          for (auto& in : k.inputs) known += (known.empty() ? "" : ", ") + in.name;
          error(sp, "E-unknown-input",
                std::string(what) + " names '" + nm + "', which is not an input of '" + k.name + "' (inputs: " + known + ")");
        }
      }
    };
    mark(prologue_names, &TemplateInput::prologue, "prologue");
    mark(mutated_names, &TemplateInput::mutated, "mutates");
    SourceSpan ks = k.span;
    pf_.templates.push_back({std::move(k), ks});
    pf_.template_clauses.push_back(std::move(clauses));
  }

  void rule_decl(const Node& n, std::string doc, const std::string& ruleset) {
    Rule r;
    r.doc = std::move(doc);
    r.ruleset = ruleset;
    for (auto& cp : n.children) {
      const Node& c = *cp;
      if (c.is_type<g::rule_name>()) {
        r.name = str(c);
        r.span = span(c);
      } else if (c.is_type<g::lhs>()) {
        r.lhs = pattern(*c.children.at(0));
      } else if (c.is_type<g::arrow>()) {
        r.bidirectional = c.string_view() == "<=>";
      } else if (c.is_type<g::rhs>()) {
        r.rhs = pattern(*c.children.at(0));
      } else if (c.is_type<g::guard_clause>()) {
        r.guard = guard(*c.children.at(0));
      }
    }
    pf_.rules.push_back(std::move(r));
  }

  void phase_decl(const Node& n, Schedule& s) {
    Phase ph;
    std::map<std::string, SourceSpan> seen;
    for (auto& cp : n.children) {
      const Node& c = *cp;
      if (c.is_type<g::phase_name>()) {
        ph.name = str(c);
        ph.span = span(c);
        continue;
      }
      const Node& keyn = *c.children.at(0);
      const Node& valn = *c.children.at(1);
      std::string key = str(keyn), val = str(valn);
      SourceSpan ks = span(keyn), vs = span(valn);
      if (auto it = seen.find(key); it != seen.end()) {
        Diagnostic d{Severity::error, "E-duplicate-setting", "phase setting '" + key + "' is given twice", ks, {}};
        d.notes.emplace_back(it->second, "first given here");
        diags_.add(std::move(d));
        pf_.ok = false;
        continue;
      }
      seen.emplace(key, ks);
      bool is_int = !val.empty() && std::all_of(val.begin(), val.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); });
      auto need_int = [&](std::optional<int64_t>& dst) {
        if (!is_int) return error(vs, "E-setting-value", "'" + key + "' needs a non-negative integer, found '" + val + "'");
        dst = std::strtoll(val.c_str(), nullptr, 10);
      };
      if (key == "ruleset") {
        if (is_int || valn.string_view().find_first_of("0123456789") == 0)
          error(vs, "E-setting-value", "'ruleset' needs a ruleset name, found '" + val + "'");
        ph.ruleset = val;
      } else if (key == "iter") {
        need_int(ph.iter_limit);
      } else if (key == "nodes") {
        need_int(ph.node_limit);
      } else if (key == "match_limit") {
        need_int(ph.match_limit);
      } else if (key == "ban_length") {
        need_int(ph.ban_length);
      } else if (key == "time") {
        double scale = 1;
        std::string num = val;
        if (num.size() > 2 && num.substr(num.size() - 2) == "ms") scale = 1e-3, num.resize(num.size() - 2);
        else if (num.size() > 1 && num.back() == 's') num.pop_back();
        else
          error(vs, "E-setting-value", "'time' needs a duration with a unit (2s, 500ms), found '" + val + "'");
        char* endp = nullptr;
        double v = std::strtod(num.c_str(), &endp);
        if (endp == num.c_str() || v < 0) error(vs, "E-setting-value", "'time' needs a duration such as 2s or 500ms, found '" + val + "'");
        ph.time_limit_s = v * scale;
      } else if (key == "scheduler") {
        if (val != "simple" && val != "backoff")
          error(vs, "E-setting-value", "unknown scheduler '" + val + "' (known: simple, backoff)");
        ph.scheduler = val;
      } else {
        error(ks, "E-unknown-setting",
              "unknown phase setting '" + key + "' (known: ruleset, iter, nodes, time, scheduler, match_limit, ban_length)");
      }
    }
    if (ph.ruleset.empty() && !seen.count("ruleset"))
      error(ph.span, "E-phase-ruleset", "phase '" + ph.name + "' does not name a ruleset (add 'ruleset NAME')");
    s.phases.push_back(std::move(ph));
  }

  ParsedFile& pf_;
  Diagnostics& diags_;
  const std::string& text_;
};

std::vector<Comment> scan_comments(const std::string& t) {
  std::vector<Comment> out;
  bool in_string = false;
  for (size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (in_string) {
      if (c == '"' || c == '\n') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '/' && i + 1 < t.size() && t[i + 1] == '/') {
      size_t e = t.find('\n', i);
      if (e == std::string::npos) e = t.size();
      size_t ce = e;
      while (ce > i && (t[ce - 1] == '\r' || t[ce - 1] == ' ' || t[ce - 1] == '\t')) --ce;
      bool doc = i + 2 < t.size() && t[i + 2] == '/' && !(i + 3 < t.size() && t[i + 3] == '/');
      out.push_back({i, ce, doc});
      i = e;
    }
  }
  return out;
}

// The doc comment of an item starting at `item_begin`: the run of `///` lines
// right before it.
std::string doc_before(const std::string& t, const std::vector<Comment>& comments, size_t item_begin) {
  auto it = std::lower_bound(comments.begin(), comments.end(), item_begin,
                             [](const Comment& c, size_t b) { return c.begin < b; });
  std::vector<std::string> lines;
  size_t next = item_begin;
  while (it != comments.begin()) {
    --it;
    // Only whitespace, at most one newline, between this comment and what follows.
    std::string_view gap(t.data() + it->end, next - it->end);
    if (gap.find_first_not_of(" \t\r\n") != std::string_view::npos || std::count(gap.begin(), gap.end(), '\n') > 1) break;
    if (!it->doc) break;
    std::string line = t.substr(it->begin + 3, it->end - it->begin - 3);
    if (!line.empty() && line[0] == ' ') line.erase(0, 1);
    lines.push_back(line);
    next = it->begin;
  }
  std::string doc;
  for (auto r = lines.rbegin(); r != lines.rend(); ++r) doc += (doc.empty() ? "" : "\n") + *r;
  return doc;
}

bool starts_item(std::string_view line) {
  size_t i = line.find_first_not_of(" \t");
  if (i == std::string_view::npos) return false;
  line.remove_prefix(i);
  if (line[0] == '}') return true;
  static const char* kws[] = {"include", "op", "template", "rule", "ruleset", "schedule", "use", "phase"};
  for (const char* k : kws) {
    std::string_view kw(k);
    if (line.substr(0, kw.size()) == kw &&
        (line.size() == kw.size() || !(std::isalnum(static_cast<unsigned char>(line[kw.size()])) || line[kw.size()] == '_' || line[kw.size()] == '-')))
      return true;
  }
  return false;
}

}  // namespace

ParsedFile parse_file(std::shared_ptr<const SourceFile> file, Diagnostics& diags) {
  ParsedFile pf;
  pf.file = file;
  const std::string& t = file->text;
  pf.comments = scan_comments(t);
  Converter cv(pf, diags);

  struct Block {
    Item::Kind kind;
    size_t index;
    SourceSpan open;
  };
  std::optional<Block> block;

  auto position_of = [&](size_t off, size_t& line, size_t& col) {
    auto itl = std::upper_bound(file->line_starts.begin(), file->line_starts.end(), off);
    line = size_t(itl - file->line_starts.begin());
    col = off - file->line_starts[line - 1] + 1;
  };
  // Leading spacing.
  size_t pos = 0;
  {
    pegtl::memory_input<> in(t.data(), t.data() + t.size(), file->path);
    pegtl::parse<g::sp>(in);
    pos = size_t(in.current() - t.data());
  }
  while (pos < t.size()) {
    size_t line = 1, col = 1;
    position_of(pos, line, col);
    pegtl::memory_input<> in(t.data() + pos, t.data() + t.size(), file->path, pos, line, col);
    std::unique_ptr<Node> root;
    try {
      root = pt::parse<g::top_item, selector, pegtl::nothing, control>(in);
    } catch (const pegtl::parse_error& e) {
      size_t eoff = e.positions().empty() ? pos : e.positions().front().byte;
      std::string msg(e.message());
      Diagnostic d{Severity::error, "E-syntax", msg + ", found " + token_at(t, eoff), span_at(file, eoff), {}};
      diags.add(std::move(d));
      pf.ok = false;
      // Resume at the next line that starts an item.
      size_t p = t.find('\n', std::max(eoff, pos));
      while (p != std::string::npos) {
        size_t e2 = t.find('\n', p + 1);
        std::string_view ln(t.data() + p + 1, (e2 == std::string::npos ? t.size() : e2) - p - 1);
        if (starts_item(ln)) break;
        p = e2;
      }
      pos = p == std::string::npos ? t.size() : p + 1;
      continue;
    }
    size_t next = size_t(in.current() - t.data());
    if (!root || root->children.empty()) {  // cannot happen: top_item always produces an item
      pos = next > pos ? next : t.size();
      continue;
    }
    const Node& n = *root->children[0];
    Item it{Item::Kind::close, 0, cv.begin(n), cv.end(n), block ? 1 : 0};
    std::string doc = doc_before(t, pf.comments, it.begin);
    auto top_only = [&](const char* what) {
      if (!block) return;
      Diagnostic d{Severity::error, "E-nesting", std::string(what) + " must be at top level, not inside a block", cv.span(n), {}};
      d.notes.emplace_back(block->open, "the block opened here is not closed with '}'");
      diags.add(std::move(d));
      pf.ok = false;
    };
    if (n.is_type<g::include_decl>()) {
      top_only("include");
      std::string p = n.children.at(0)->string();
      pf.includes.push_back({p.substr(1, p.size() - 2), cv.span(*n.children[0])});
      it.kind = Item::Kind::include;
      it.index = pf.includes.size() - 1;
    } else if (n.is_type<g::op_decl>()) {
      top_only("an op declaration");
      cv.op_decl(n, doc);
      it.kind = Item::Kind::op;
      it.index = pf.ops.size() - 1;
    } else if (n.is_type<g::template_decl>()) {
      top_only("a template declaration");
      cv.template_decl(n, doc);
      it.kind = Item::Kind::template_;
      it.index = pf.templates.size() - 1;
    } else if (n.is_type<g::rule_decl>()) {
      std::string rs;
      if (block && block->kind == Item::Kind::schedule_open)
        cv.error(cv.span(n), "E-nesting", "a rule cannot be inside a schedule (close it with '}' first)");
      else if (block)
        rs = pf.rulesets[block->index].name;
      cv.rule_decl(n, doc, rs);
      it.kind = Item::Kind::rule;
      it.index = pf.rules.size() - 1;
      if (block && block->kind == Item::Kind::ruleset_open) pf.rulesets[block->index].rules.push_back(pf.rules.back().name);
    } else if (n.is_type<g::ruleset_open>() || n.is_type<g::schedule_open>()) {
      bool is_rs = n.is_type<g::ruleset_open>();
      top_only(is_rs ? "a ruleset" : "a schedule");
      const Node& name = *n.children.at(0);
      if (is_rs) {
        Ruleset r;
        r.name = name.string();
        r.doc = doc;
        r.span = cv.span(name);
        pf.rulesets.push_back(std::move(r));
      } else {
        Schedule s;
        s.name = name.string();
        s.span = cv.span(name);
        pf.schedules.push_back(std::move(s));
      }
      it.kind = is_rs ? Item::Kind::ruleset_open : Item::Kind::schedule_open;
      it.index = is_rs ? pf.rulesets.size() - 1 : pf.schedules.size() - 1;
      it.depth = 0;
      block = Block{it.kind, it.index, span_at(file, it.end - 1)};
    } else if (n.is_type<g::use_decl>()) {
      if (!block || block->kind != Item::Kind::ruleset_open) {
        cv.error(cv.span(n), "E-nesting", "'use' belongs inside a ruleset block");
      }
      Use u;
      u.ruleset = block && block->kind == Item::Kind::ruleset_open ? block->index : size_t(-1);
      for (auto& c : n.children) {
        u.names.emplace_back(c->string(), cv.span(*c));
        if (u.ruleset != size_t(-1)) pf.rulesets[u.ruleset].rules.push_back(c->string());
      }
      pf.uses.push_back(std::move(u));
      it.kind = Item::Kind::use;
      it.index = pf.uses.size() - 1;
    } else if (n.is_type<g::phase_decl>()) {
      it.kind = Item::Kind::phase;
      if (!block || block->kind != Item::Kind::schedule_open) {
        cv.error(cv.span(n), "E-nesting", "'phase' belongs inside a schedule block");
        Schedule dummy;
        cv.phase_decl(n, dummy);
        pos = next;
        continue;
      }
      Schedule& s = pf.schedules[block->index];
      cv.phase_decl(n, s);
      pf.phase_owner.emplace_back(block->index, s.phases.size() - 1);
      it.index = pf.phase_owner.size() - 1;
    } else if (n.is_type<g::block_close>()) {
      if (!block) {
        cv.error(cv.span(n), "E-syntax", "unmatched '}'");
        pos = next;
        continue;
      }
      it.kind = Item::Kind::close;
      it.depth = 0;
      block.reset();
    }
    pf.items.push_back(it);
    pos = next;
  }
  if (block) {
    Diagnostic d{Severity::error, "E-syntax", "expected '}' before end of file", span_at(file, t.size()), {}};
    d.notes.emplace_back(block->open, "to close the block opened here");
    diags.add(std::move(d));
    pf.ok = false;
  }
  return pf;
}

std::string resolve_include(const std::string& including_file, const std::string& name) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p(name);
  if (p.is_absolute()) return fs::exists(p, ec) ? name : std::string();
  fs::path local = fs::path(including_file).parent_path() / p;
  if (fs::exists(local, ec)) return local.lexically_normal().string();
  fs::path std_path = fs::path(standard_rules_dir()) / p;
  if (fs::exists(std_path, ec)) return std_path.lexically_normal().string();
  return {};
}

std::vector<ParsedFile> parse_with_includes(const std::vector<std::shared_ptr<const SourceFile>>& roots,
                                            Diagnostics& diags) {
  namespace fs = std::filesystem;
  std::vector<ParsedFile> out;
  std::set<std::string> seen;
  auto key_of = [](const std::string& path) {
    std::error_code ec;
    auto c = fs::weakly_canonical(path, ec);
    return ec ? path : c.string();
  };
  // Depth-first: a file's includes come before the file itself.
  std::function<void(std::shared_ptr<const SourceFile>)> visit = [&](std::shared_ptr<const SourceFile> f) {
    ParsedFile pf = parse_file(f, diags);
    for (auto& inc : pf.includes) {
      std::string path = resolve_include(f->path, inc.path);
      if (path.empty()) {
        diags.error(inc.span, "E-include",
                    "cannot find included file '" + inc.path + "' (looked next to " + f->path + " and in " +
                        standard_rules_dir() + ")");
        continue;
      }
      if (!seen.insert(key_of(path)).second) continue;
      std::shared_ptr<const SourceFile> src;
      try {
        src = load_source(path);
      } catch (const Error& e) {
        diags.error(inc.span, "E-include", e.what());
        continue;
      }
      visit(src);
    }
    out.push_back(std::move(pf));
  };
  for (auto& r : roots) {
    if (!seen.insert(key_of(r->path)).second) continue;
    visit(r);
  }
  return out;
}

}  // namespace egfuse::rules
