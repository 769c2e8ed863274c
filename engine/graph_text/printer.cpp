// Graph text printer: the canonical form of docs/graph-format.md. Attributes
// come from the reflected print_attrs (defaults omitted); every value line ends
// with its inferred type.
#include <sstream>

#include "egfuse/graph_text.hpp"

namespace egfuse {

namespace {
std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}
}  // namespace

std::string print_graph(const Graph& g) {
  std::ostringstream os;
  os << "graph " << g.name << " {\n";
  for (const Node& n : g.nodes) {
    if (n.op == Op::input) {
      bool is_mutable = std::holds_alternative<InputAttrs>(n.attrs) && std::get<InputAttrs>(n.attrs).is_mutable;
      os << "  input " << (is_mutable ? "mutable " : "") << n.name << ": " << to_string(n.type) << "\n";
      continue;
    }
    os << "  " << n.name << " = ";
    std::string attrs;
    if (n.op == Op::template_) {
      os << std::get<TemplateAttrs>(n.attrs).kind;
    } else if (n.op == Op::extern_) {
      // The kernel name is the head and the out type the annotation: only `mutates` stays an attribute.
      const auto& e = std::get<ExternAttrs>(n.attrs);
      os << "extern " << quote(e.kernel);
      ExternAttrs rest;
      rest.mutates = e.mutates;
      attrs = print_attrs(rest);
    } else {
      os << op_name(n.op);
      attrs = print_attrs(n.attrs);
    }
    os << "(";
    for (size_t i = 0; i < n.inputs.size(); ++i) os << (i ? ", " : "") << g[n.inputs[i]].name;
    os << ")";
    if (!attrs.empty()) os << " " << attrs;
    os << " : " << to_string(n.type) << "\n";
  }
  if (!g.outputs.empty()) {
    os << "  output ";
    for (size_t i = 0; i < g.outputs.size(); ++i) {
      const GraphOutput& o = g.outputs[i];
      os << (i ? ", " : "") << o.name;
      if (o.node < g.size() && g[o.node].name != o.name) os << " = " << g[o.node].name;
    }
    os << "\n";
  }
  os << "}\n";
  return os.str();
}

}  // namespace egfuse
