// `egfuse lsp`: the rule-file language server on stdin/stdout (see docs/editors.md).
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "egfuse/lsp.hpp"
#include "tools/egfuse/command.hpp"

namespace {

std::function<int()> setup_lsp(CLI::App& sub) {
  struct Options {
    std::string trace;
    bool log = false, stdio = false;
  };
  auto o = std::make_shared<Options>();
  sub.add_option("--trace", o->trace, "trace file (JSON lines): hover on a rule shows how often it fired");
  sub.add_flag("--log", o->log, "log each message handled to stderr");
  sub.add_flag("--stdio", o->stdio, "accepted for editors that pass it; stdio is the only transport");
  return [o]() {
    // Unsynchronised stdio lets the server see queued input (to coalesce edits).
    std::ios::sync_with_stdio(false);
    egfuse::lsp::LspOptions opt;
    opt.trace_path = o->trace;
    opt.log = o->log ? &std::cerr : nullptr;
    return egfuse::lsp::run_lsp_server(std::cin, std::cout, opt);
  };
}

}  // namespace

EGFUSE_COMMAND(lsp, "lsp", "Language server for rule files (LSP over stdio)", setup_lsp);
