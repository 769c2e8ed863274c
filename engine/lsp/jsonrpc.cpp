// LSP base protocol framing (see jsonrpc.hpp).
#include "engine/lsp/jsonrpc.hpp"

#include <algorithm>
#include <istream>
#include <optional>
#include <ostream>

namespace egfuse::lsp {

namespace {
const std::string kLengthHeader = "content-length:";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}
std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}
}  // namespace

int FrameReader::get() {
  if (!pending_.empty()) {
    unsigned char c = static_cast<unsigned char>(pending_.front());
    pending_.erase(pending_.begin());
    return c;
  }
  return in_.get();
}

bool FrameReader::more_buffered() const {
  if (!pending_.empty()) return true;
  auto* buf = in_.rdbuf();
  return buf && buf->in_avail() > 0;
}

void FrameReader::resync() {
  // Keep the last bytes in a window; stop when it spells the header name.
  std::string window;
  for (int c; (c = get()) != EOF;) {
    window.push_back(char(std::tolower(c)));
    if (window.size() > kLengthHeader.size()) window.erase(window.begin());
    if (window == kLengthHeader) {
      pending_ = "Content-Length:" + pending_;
      return;
    }
  }
}

Frame FrameReader::read() {
  Frame f;
  std::optional<size_t> length;
  std::string problem;
  bool any_header = false;
  for (;;) {
    std::string line;
    bool too_long = false;
    int c;
    while ((c = get()) != EOF && c != '\n') {
      if (line.size() < kMaxHeaderLine) line.push_back(char(c));
      else too_long = true;
    }
    if (c == EOF) return f;  // end of input (a partial header is dropped)
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      if (!any_header) continue;  // stray blank lines between messages
      break;
    }
    any_header = true;
    if (too_long) {
      problem = "header line longer than " + std::to_string(kMaxHeaderLine) + " bytes";
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string::npos) {
      problem = "malformed header line '" + line.substr(0, 80) + "' (expected 'Name: value')";
      continue;
    }
    if (lower(line.substr(0, colon + 1)) != kLengthHeader) continue;  // Content-Type etc.
    std::string v = trim(line.substr(colon + 1));
    bool digits = !v.empty() && v.size() <= 12 && std::all_of(v.begin(), v.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    if (!digits) {
      problem = "Content-Length '" + v.substr(0, 40) + "' is not a non-negative integer";
      continue;
    }
    size_t n = std::stoull(v);
    if (n > kMaxBody) {
      problem = "Content-Length " + v + " exceeds the limit of " + std::to_string(kMaxBody) + " bytes";
      continue;
    }
    length = n;
  }
  if (problem.empty() && !length) problem = "missing Content-Length header";
  if (!problem.empty()) {
    f.status = Frame::Status::bad_header;
    f.error = problem;
    resync();
    return f;
  }
  f.body.resize(*length);
  size_t got = 0;
  while (got < *length && !pending_.empty()) f.body[got++] = pending_[0], pending_.erase(pending_.begin());
  if (got < *length) {
    in_.read(f.body.data() + got, std::streamsize(*length - got));
    got += size_t(in_.gcount());
  }
  if (got < *length) return Frame{};  // truncated: treat as end of input
  f.status = Frame::Status::ok;
  return f;
}

void write_frame(std::ostream& out, const json& message) {
  // Invalid UTF-8 from the client's text must not make dump() throw.
  std::string body = message.dump(-1, ' ', false, json::error_handler_t::replace);
  out << "Content-Length: " << body.size() << "\r\n\r\n" << body;
  out.flush();
}

json response(const json& id, json result) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

json error_response(const json& id, int code, const std::string& message) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
}

json notification(const std::string& method, json params) {
  return json{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}

}  // namespace egfuse::lsp
