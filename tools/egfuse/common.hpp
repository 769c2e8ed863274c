// Helpers shared by the egfuse subcommands: the template registry (built-ins
// plus kinds declared in rule files), loading a graph, printing diagnostics.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "egfuse/diagnostics.hpp"
#include "egfuse/ir.hpp"
#include "egfuse/templates.hpp"

namespace CLI {
class App;
}

namespace egfuse::cli {

// Adds `--rules FILE...` (rule files whose template kinds graphs may use).
void add_rules_option(CLI::App& sub, std::vector<std::string>& rules);

// The built-in kinds plus those declared in the standard rule files (when
// present) and in `extra`. Problems go to diags.
TemplateRegistry load_registry(const std::vector<std::string>& extra, Diagnostics& diags);

// Parses a graph file; with `verify_too`, also runs the verifier.
std::optional<Graph> load_graph_file(const std::string& path, const TemplateRegistry& reg, Diagnostics& diags,
                                     bool verify_too);

// Prints diagnostics (text to stderr, or JSON lines to stdout when `json`);
// returns the exit status: 1 when there is an error, else 0.
int report(const Diagnostics& diags, bool json = false);

}  // namespace egfuse::cli
