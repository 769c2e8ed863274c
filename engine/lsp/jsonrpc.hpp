// JSON-RPC 2.0 over LSP's base protocol: "Content-Length: N\r\n\r\n" + N bytes
// of JSON. The reader never throws and never trusts the peer: bad headers,
// absurd lengths and truncated input are reported, and it resynchronises on the
// next "Content-Length:" it sees.
#pragma once

#include <iosfwd>
#include <string>

#include <nlohmann/json.hpp>

namespace egfuse::lsp {

using json = nlohmann::json;

// JSON-RPC and LSP error codes.
enum ErrorCode : int {
  kParseError = -32700,
  kInvalidRequest = -32600,
  kMethodNotFound = -32601,
  kInvalidParams = -32602,
  kInternalError = -32603,
  kServerNotInitialized = -32002,
  kRequestFailed = -32803,
};

struct Frame {
  enum class Status { ok, eof, bad_header } status = Status::eof;
  std::string body;   // ok: the message text
  std::string error;  // bad_header: what was wrong
};

class FrameReader {
 public:
  explicit FrameReader(std::istream& in) : in_(in) {}
  Frame read();
  // Bytes already buffered by the stream (0 when unknown): more messages waiting.
  bool more_buffered() const;

  static constexpr size_t kMaxBody = 64u << 20;
  static constexpr size_t kMaxHeaderLine = 8192;

 private:
  int get();
  // After a broken header: skip input up to the next "Content-Length:".
  void resync();
  std::istream& in_;
  std::string pending_;  // bytes read ahead by resync, consumed first
};

void write_frame(std::ostream& out, const json& message);

json response(const json& id, json result);
json error_response(const json& id, int code, const std::string& message);
json notification(const std::string& method, json params);

}  // namespace egfuse::lsp
