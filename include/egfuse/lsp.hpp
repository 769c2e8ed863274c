// The rule-file language server (engine/lsp): the Language Server Protocol over
// a byte stream (JSON-RPC 2.0 with Content-Length framing). `egfuse lsp` runs it
// on stdin/stdout; tests run it on string streams.
#pragma once

#include <iosfwd>
#include <string>

namespace egfuse::lsp {

struct LspOptions {
  // JSON-lines trace of a previous run: hover on a rule shows how often it
  // fired. Missing or unreadable files are ignored. initializationOptions.trace
  // overrides it.
  std::string trace_path;
  // When several edits are already waiting in the input, analyse once after
  // the last one instead of after each (the input's buffered bytes decide, so
  // this only helps when `in` buffers: std::cin without stdio sync).
  bool coalesce_changes = true;
  // Server log (one line per message handled); null for none.
  std::ostream* log = nullptr;
};

// Serves until an `exit` notification or the end of the input. Returns the
// process exit status the protocol asks for: 0 after shutdown+exit, else 1.
int run_lsp_server(std::istream& in, std::ostream& out, const LspOptions& options);

}  // namespace egfuse::lsp
