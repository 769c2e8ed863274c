// The graph text format (docs/graph-format.md): a parser and a printer.
// print_graph(*parse_graph(...)) reproduces canonical input byte for byte.
#pragma once

#include <optional>
#include <string>

#include "egfuse/diagnostics.hpp"
#include "egfuse/ir.hpp"

namespace egfuse {

class TemplateRegistry;

// Parses one graph. Template kinds are looked up in `reg`. Syntax errors stop
// at the first one; semantic errors (unknown names, types, attributes, missing
// mutation outputs) are all reported. Returns nullopt when any error was
// reported. Node names and source spans come from the text. Does not run
// verify(): hazards and mutability are the verifier's.
std::optional<Graph> parse_graph(const std::string& path, const std::string& text, const TemplateRegistry& reg,
                                 Diagnostics& diags);

// Reads `path` and parses it; an unreadable file is one diagnostic.
std::optional<Graph> load_graph(const std::string& path, const TemplateRegistry& reg, Diagnostics& diags);

// The canonical text of a graph: one statement per line, inferred types shown.
std::string print_graph(const Graph& g);

}  // namespace egfuse
