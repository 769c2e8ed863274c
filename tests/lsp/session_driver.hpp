// Recorded LSP sessions (tests/lsp/sessions/*.jsonl), one step per line:
//   {"send": MESSAGE}          a JSON-RPC message ("jsonrpc":"2.0" is added)
//   {"send_raw": "TEXT"}       bytes sent as they are (framing included)
//   {"expect": PATTERN}        the next message from the server must match
//   {"exit_code": N}           the server's exit status
//   {"note": "..."}            ignored
// In strings, "$DIR" becomes the sessions directory, and a whole string
// "@PATH" becomes the text of PATH (relative to that directory).
// PATTERN matches a message when every key it names matches (extra keys in
// the message are allowed); arrays match element by element and must have the
// same length, except {"$contains": [P...]} (each P matches some element),
// {"$includes": "s"} (a string containing s), {"$absent": true} (key missing),
// {"$any": true} (anything).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace egfuse::lsp::testing {

struct SessionResult {
  std::vector<std::string> failures;  // empty = pass
  std::vector<nlohmann::json> received;
  int exit_code = 0;
};

// Runs the session file through run_lsp_server (changes not coalesced).
SessionResult run_session(const std::string& session_file, const std::string& dir);

// Every message framed in `out` (stops at the first malformed frame).
std::vector<nlohmann::json> parse_frames(const std::string& out);
// Why `actual` does not match `pattern` ("" when it does).
std::string mismatch(const nlohmann::json& pattern, const nlohmann::json& actual, const std::string& path = "");

}  // namespace egfuse::lsp::testing
