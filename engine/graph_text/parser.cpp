// Graph text parser. Two steps: the PEGTL grammar (grammar.hpp) fills a small
// syntax tree with spans; then the tree is resolved into an IR Graph (names,
// ops or template kinds, reflected attributes, type inference), reporting every
// semantic problem rather than the first.
#include <charconv>
#include <map>
#include <set>

#include "egfuse/graph_text.hpp"
#include "egfuse/templates.hpp"
#include "engine/graph_text/grammar.hpp"

namespace egfuse {
namespace {

namespace g = graph_text::grammar;
namespace pegtl = tao::pegtl;

// ---------------------------------------------------------------- syntax tree
struct Word {
  std::string text;
  size_t at = 0, len = 0;  // byte offset and length in the source
};
struct TypeSyntax {
  TensorType type;
  size_t at = 0, len = 0;
};
struct Statement {
  enum class Kind { input, value, output } kind = Kind::value;
  Word name;                      // input or value name
  bool is_mutable = false;        // input
  std::optional<TypeSyntax> type; // input type or value annotation
  bool is_extern = false;
  Word head;                      // op / template kind, or the extern kernel name
  std::vector<Word> args;
  std::vector<AttrEntry> attrs;
  std::vector<std::pair<Word, Word>> outputs;  // output name, value name
};
struct SyntaxTree {
  Word graph_name;
  std::vector<Statement> statements;
};

struct SyntaxError {
  size_t at;
  std::string message;
};

// State threaded through the actions.
struct State {
  std::shared_ptr<const SourceFile> file;
  SyntaxTree tree;
  Statement cur;
  TypeSyntax type;
  AttrEntry attr;
  std::vector<int64_t> list;
  std::string string_text;  // last unescaped string literal
};

template <class Input>
Word word(const Input& in) {
  return {in.string(), in.position().byte, in.size()};
}

template <class Input>
int64_t to_int(const Input& in) {
  std::string s = in.string();
  int64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size())
    throw SyntaxError{in.position().byte, "integer '" + s + "' is out of range"};
  return v;
}

template <class Input>
SourceSpan span_of(const State& st, const Input& in) {
  return span_at(st.file, in.position().byte, uint32_t(std::max<size_t>(1, in.size())));
}

// ---------------------------------------------------------------- actions
template <class Rule>
struct action : pegtl::nothing<Rule> {};

#define EGFUSE_ACTION(rule) \
  template <>               \
  struct action<g::rule> {  \
    template <class Input>  \
    static void apply([[maybe_unused]] const Input& in, State& st)
#define EGFUSE_END }

EGFUSE_ACTION(graph_name) { st.tree.graph_name = word(in); } EGFUSE_END;

// Statements: the first rule of each alternative resets the statement.
EGFUSE_ACTION(kw_input) {
  st.cur = Statement{};
  st.cur.kind = Statement::Kind::input;
} EGFUSE_END;
EGFUSE_ACTION(mutable_flag) { st.cur.is_mutable = true; } EGFUSE_END;
EGFUSE_ACTION(input_name) { st.cur.name = word(in); } EGFUSE_END;
EGFUSE_ACTION(input_decl) { st.tree.statements.push_back(std::move(st.cur)); } EGFUSE_END;

EGFUSE_ACTION(kw_output) {
  st.cur = Statement{};
  st.cur.kind = Statement::Kind::output;
} EGFUSE_END;
EGFUSE_ACTION(output_name) { st.cur.outputs.push_back({word(in), word(in)}); } EGFUSE_END;
EGFUSE_ACTION(output_value) { st.cur.outputs.back().second = word(in); } EGFUSE_END;
EGFUSE_ACTION(output_decl) { st.tree.statements.push_back(std::move(st.cur)); } EGFUSE_END;

EGFUSE_ACTION(value_name) {
  st.cur = Statement{};
  st.cur.kind = Statement::Kind::value;
  st.cur.name = word(in);
} EGFUSE_END;
EGFUSE_ACTION(kw_extern) { st.cur.is_extern = true; } EGFUSE_END;
EGFUSE_ACTION(kernel_name) {
  st.cur.head = word(in);
  st.cur.head.text = st.string_text;
} EGFUSE_END;
EGFUSE_ACTION(op_head) { st.cur.head = word(in); } EGFUSE_END;
EGFUSE_ACTION(arg) { st.cur.args.push_back(word(in)); } EGFUSE_END;
EGFUSE_ACTION(value_def) { st.tree.statements.push_back(std::move(st.cur)); } EGFUSE_END;

// Types.
EGFUSE_ACTION(dtype) {
  st.type = TypeSyntax{};
  st.type.type.dtype = *parse_dtype(in.string());
} EGFUSE_END;
EGFUSE_ACTION(dim) { st.type.type.shape.push_back(to_int(in)); } EGFUSE_END;
EGFUSE_ACTION(stride) { st.type.type.strides.push_back(to_int(in)); } EGFUSE_END;
EGFUSE_ACTION(offset_value) { st.type.type.offset = to_int(in); } EGFUSE_END;
EGFUSE_ACTION(type) {
  st.type.at = in.position().byte;
  st.type.len = in.size();
  st.cur.type = st.type;
} EGFUSE_END;

// Strings: unescape a backslash followed by any character.
EGFUSE_ACTION(string_body) {
  st.string_text.clear();
  std::string s = in.string();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) ++i;
    st.string_text += s[i];
  }
} EGFUSE_END;

// Attributes.
EGFUSE_ACTION(attr_key) {
  st.attr = AttrEntry{};
  st.attr.key = in.string();
  st.attr.key_span = span_of(st, in);
  st.list.clear();
} EGFUSE_END;
EGFUSE_ACTION(list_item) { st.list.push_back(to_int(in)); } EGFUSE_END;
EGFUSE_ACTION(list_value) { st.attr.value.v = st.list; } EGFUSE_END;
EGFUSE_ACTION(string_value) { st.attr.value.v = st.string_text; } EGFUSE_END;
EGFUSE_ACTION(name_value) {
  std::string s = in.string();
  if (s == "true" || s == "false") st.attr.value.v = (s == "true");
  else st.attr.value.v = s;
} EGFUSE_END;
EGFUSE_ACTION(number_value) {
  std::string s = in.string();
  if (!s.empty() && s[0] == '+') s.erase(0, 1);
  if (s.find_first_of(".eEin") == std::string::npos) {
    st.attr.value.v = to_int(in);
    return;
  }
  double d = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), d);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size())
    throw SyntaxError{in.position().byte, "number '" + in.string() + "' is out of range"};
  st.attr.value.v = d;
} EGFUSE_END;
EGFUSE_ACTION(attr_value) { st.attr.value.span = span_of(st, in); } EGFUSE_END;
template <>
struct action<g::attr> {
  template <class Input>
  static void apply(const Input&, State& st) { st.cur.attrs.push_back(st.attr); }
};
template <>
struct action<g::first_attr> : action<g::attr> {};

#undef EGFUSE_ACTION
#undef EGFUSE_END

// Errors under must<>: "expected ..." at the current position.
template <class Rule>
struct control : pegtl::normal<Rule> {
  template <class Input, class... States>
  [[noreturn]] static void raise(const Input& in, States&&...) {
    static_assert(g::expected<Rule> != nullptr, "every rule under must<> needs an expected<> message");
    throw SyntaxError{in.position().byte, g::expected<Rule>};
  }
};

// ---------------------------------------------------------------- resolution
// Shapes and shape-like attributes beyond 2^40 elements are refused before type
// inference, which multiplies dimensions without overflow checks.
constexpr int64_t kMaxElements = int64_t(1) << 40;
bool too_large(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < -kMaxElements || d > kMaxElements) return true;
    if (d > 0 && (__builtin_mul_overflow(n, d, &n) || n > kMaxElements)) return true;
  }
  return false;
}
bool attrs_too_large(const Attrs& a) {
  if (auto* r = std::get_if<ReshapeAttrs>(&a)) return too_large(r->shape);
  if (auto* e = std::get_if<ExpandAttrs>(&a)) return too_large(e->shape);
  if (auto* s = std::get_if<SliceAttrs>(&a)) return too_large({s->dim}) || too_large({s->start}) || too_large({s->end}) || too_large({s->step});
  return false;
}

class Resolver {
 public:
  Resolver(std::shared_ptr<const SourceFile> file, const TemplateRegistry& reg, Diagnostics& diags)
      : file_(std::move(file)), reg_(reg), diags_(diags) {}

  Graph run(const SyntaxTree& tree) {
    graph_.name = tree.graph_name.text;
    for (const Statement& s : tree.statements)
      if (s.kind != Statement::Kind::output) all_names_.insert(s.name.text);
    for (const Statement& s : tree.statements) {
      if (s.kind == Statement::Kind::output) continue;  // resolved after every value
      if (auto prev = defined_.find(s.name.text); prev != defined_.end()) {
        Diagnostic& d = diags_.add({Severity::error, "E-graph-redefined", "'" + s.name.text + "' is already defined",
                                    span(s.name), {}});
        d.notes.push_back({prev->second, "first defined here"});
        continue;
      }
      defined_[s.name.text] = span(s.name);
      if (s.kind == Statement::Kind::input) input(s);
      else value(s);
    }
    for (const Statement& s : tree.statements)
      if (s.kind == Statement::Kind::output) outputs(s);
    check_mutation_outputs();
    return std::move(graph_);
  }

 private:
  SourceSpan span(const Word& w) const { return span_at(file_, w.at, uint32_t(std::max<size_t>(1, w.len))); }
  SourceSpan span(const TypeSyntax& t) const { return span_at(file_, t.at, uint32_t(std::max<size_t>(1, t.len))); }
  void error(SourceSpan s, const char* code, std::string msg) { diags_.error(std::move(s), code, std::move(msg)); }

  void add(Node n, const Word& name) {
    n.name = name.text;
    n.span = span(name);
    graph_.add(std::move(n));
  }

  void input(const Statement& s) {
    Node n;
    n.op = Op::input;
    n.attrs = InputAttrs{s.is_mutable};
    n.type = s.type->type;
    if (too_large(n.type.shape) || too_large(n.type.strides) || too_large({n.type.offset})) {
      error(span(*s.type), "E-graph-type", "input '" + s.name.text + "' is too large (at most 2^40 elements)");
      return;
    }
    std::string err;
    if (!infer_type(graph_, n, reg_, err)) {
      error(span(*s.type), "E-graph-type", "input '" + s.name.text + "': " + err);
      return;
    }
    add(std::move(n), s.name);
  }

  // The op or template a call head names; nullopt after reporting.
  std::optional<Op> head_op(const Statement& s) {
    if (s.is_extern) return Op::extern_;
    const std::string& h = s.head.text;
    if (auto op = parse_op(h)) {
      switch (*op) {
        case Op::input:
          error(span(s.head), "E-graph-op", "inputs are declared as 'input NAME: TYPE', not called");
          return std::nullopt;
        case Op::template_:
          error(span(s.head), "E-graph-op", "call a template by its kind, e.g. 't = mm(a, b)'");
          return std::nullopt;
        case Op::extern_:
          error(span(s.head), "E-graph-op", "an extern kernel is written 'extern \"KERNEL\"(ARGS) : TYPE'");
          return std::nullopt;
        default: return op;
      }
    }
    if (reg_.find(h)) return Op::template_;
    std::string kinds;
    for (auto& k : reg_.names()) kinds += (kinds.empty() ? "" : ", ") + k;
    error(span(s.head), "E-graph-op", "unknown op or template kind '" + h + "' (template kinds: " + kinds + ")");
    return std::nullopt;
  }

  void value(const Statement& s) {
    auto op = head_op(s);
    Node n;
    bool ok = op.has_value();
    for (const Word& a : s.args) {
      if (auto id = graph_.find(a.text)) {
        n.inputs.push_back(*id);
      } else if (!defined_.count(a.text)) {
        if (all_names_.count(a.text))
          error(span(a), "E-graph-name", "'" + a.text + "' is used before its definition (define values above their uses)");
        else
          error(span(a), "E-graph-name", "unknown value '" + a.text + "'");
        ok = false;
      } else {
        ok = false;  // defined but failed: already reported
      }
    }
    if (!ok) return;
    n.op = *op;
    if (n.op == Op::template_) {
      if (!s.attrs.empty())
        error(s.attrs[0].key_span, "E-attr-unknown", "template kind '" + s.head.text + "' takes no attributes");
      n.attrs = TemplateAttrs{s.head.text};
    } else if (n.op == Op::extern_) {
      std::vector<AttrEntry> rest;
      for (const AttrEntry& e : s.attrs) {
        if (e.key == "kernel" || e.key == "out_dtype" || e.key == "out_shape")
          error(e.key_span, "E-attr-unknown",
                "extern attribute '" + e.key + "' is written in the head and type: extern \"KERNEL\"(ARGS) : TYPE");
        else
          rest.push_back(e);
      }
      size_t before = diags_.error_count();
      Attrs built = build_attrs(Op::extern_, rest, span(s.head), diags_);
      if (diags_.error_count() != before) return;
      ExternAttrs a = std::get<ExternAttrs>(built);
      a.kernel = s.head.text;
      if (!s.type) {
        error(span(s.name), "E-graph-type", "extern kernel '" + s.name.text + "' needs its result type: ': TYPE'");
        return;
      }
      a.out_dtype = s.type->type.dtype;
      a.out_shape = s.type->type.shape;
      n.attrs = a;
    } else {
      size_t before = diags_.error_count();
      n.attrs = build_attrs(n.op, s.attrs, span(s.head), diags_);
      if (diags_.error_count() != before) return;
    }
    if (n.op == Op::constant) {
      if (!s.type) {
        error(span(s.name), "E-graph-type", "constant '" + s.name.text + "' needs its type: ': TYPE'");
        return;
      }
      if (!s.args.empty()) {
        error(span(s.args[0]), "E-graph-arity", "constant takes no arguments; its value is {value=NUMBER}");
        return;
      }
      n.type = s.type->type;
    }
    if (attrs_too_large(n.attrs) || (s.type && too_large(s.type->type.shape))) {
      error(span(s.head), "E-graph-type", "'" + s.name.text + "' is too large (at most 2^40 elements)");
      return;
    }
    std::string err;
    auto t = infer_type(graph_, n, reg_, err);
    if (!t) {
      error(span(s.head), "E-graph-type", "'" + s.name.text + "': " + err);
      return;
    }
    if (too_large(t->shape)) {
      error(span(s.head), "E-graph-type", "'" + s.name.text + "' is too large (at most 2^40 elements)");
      return;
    }
    if (s.type && !(s.type->type == *t)) {
      error(span(*s.type), "E-graph-type",
            "'" + s.name.text + "' is annotated " + to_string(s.type->type) + " but " + describe(n) + " gives " +
                to_string(*t));
      return;
    }
    n.type = *t;
    add(std::move(n), s.name);
  }

  static std::string describe(const Node& n) {
    if (n.op == Op::template_) return std::get<TemplateAttrs>(n.attrs).kind;
    return std::string(op_name(n.op));
  }

  void outputs(const Statement& s) {
    for (auto& [name, value] : s.outputs) {
      auto id = graph_.find(value.text);
      if (!id) {
        if (!defined_.count(value.text)) error(span(value), "E-graph-name", "unknown value '" + value.text + "'");
        continue;
      }
      if (!output_names_.insert(name.text).second) {
        error(span(name), "E-graph-output", "output '" + name.text + "' is listed twice");
        continue;
      }
      graph_.outputs.push_back({name.text, *id});
    }
  }

  // Each mutated input of a template/extern has exactly one mutation_output line.
  void check_mutation_outputs() {
    std::map<std::pair<NodeId, int64_t>, int> count;
    for (NodeId i = 0; i < graph_.size(); ++i) {
      const Node& n = graph_[i];
      if (n.op != Op::mutation_output) continue;
      int& c = count[{n.inputs[0], std::get<MutationOutputAttrs>(n.attrs).input}];
      if (++c == 2)
        error(n.span, "E-graph-mutation",
              "'" + graph_[n.inputs[0]].name + "' input " + std::to_string(std::get<MutationOutputAttrs>(n.attrs).input) +
                  " already has a mutation_output");
    }
    for (NodeId i = 0; i < graph_.size(); ++i) {
      const Node& n = graph_[i];
      if (n.op != Op::template_ && n.op != Op::extern_) continue;
      for (int64_t m : mutated_inputs(graph_, i, reg_)) {
        if (count.count({i, m})) continue;
        std::string attr = m == 0 ? "" : " {input=" + std::to_string(m) + "}";
        error(n.span, "E-graph-mutation",
              "'" + n.name + "' writes input " + std::to_string(m) + " ('" + graph_[n.inputs[size_t(m)]].name +
                  "') in place but no 'NAME = mutation_output(" + n.name + ")" + attr + "' line follows");
      }
    }
  }

  std::shared_ptr<const SourceFile> file_;
  const TemplateRegistry& reg_;
  Diagnostics& diags_;
  Graph graph_;
  std::map<std::string, SourceSpan> defined_;
  std::set<std::string> output_names_;
  std::set<std::string> all_names_;  // every name the file defines
};

}  // namespace

std::optional<Graph> parse_graph(const std::string& path, const std::string& text, const TemplateRegistry& reg,
                                 Diagnostics& diags) {
  auto file = make_source(path, text);
  State st;
  st.file = file;
  size_t before = diags.error_count();
  try {
    pegtl::memory_input<> in(file->text, path);
    pegtl::parse<g::graph_file, action, control>(in, st);
  } catch (const SyntaxError& e) {
    diags.error(span_at(file, e.at), "E-parse", e.message);
    return std::nullopt;
  }
  Graph graph = Resolver(file, reg, diags).run(st.tree);
  if (diags.error_count() != before) return std::nullopt;
  return graph;
}

std::optional<Graph> load_graph(const std::string& path, const TemplateRegistry& reg, Diagnostics& diags) {
  std::shared_ptr<const SourceFile> src;
  try {
    src = load_source(path);
  } catch (const Error&) {
    SourceSpan s;
    s.file = make_source(path, "");
    diags.error(s, "E-io", "cannot read the file");
    return std::nullopt;
  }
  return parse_graph(path, src->text, reg, diags);
}

}  // namespace egfuse
