// JSON-lines trace writer (docs/trace-format.md).
#include "egfuse/trace.hpp"

#include <cmath>
#include <cstdio>

namespace egfuse::eg {

std::string json_quote(std::string_view s) {
  std::string o;
  o.reserve(s.size() + 2);
  o += '"';
  for (char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\t': o += "\\t"; break;
      case '\r': o += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          o += buf;
        } else {
          o += c;
        }
    }
  }
  o += '"';
  return o;
}

Trace::Trace(std::ostream& out, TraceOptions opts) : out_(out), opts_(opts) {
  std::string header = "{\"ev\":\"header\",\"schema\":\"egfuse-trace\",\"version\":" +
                       std::to_string(kTraceSchemaVersion) + "}\n";
  out_ << header;
  bytes_ += header.size();
}

Trace::~Trace() {
  if (dropped_ > 0)
    out_ << "{\"ev\":\"truncated\",\"dropped\":" << dropped_ << ",\"written\":" << events_ << "}\n";
  out_.flush();
}

void Trace::flush() { out_.flush(); }

void Trace::commit(std::string& line) {
  line += "}\n";
  if (events_ >= opts_.max_events || bytes_ + line.size() > opts_.max_bytes) {
    ++dropped_;
    return;
  }
  out_.write(line.data(), std::streamsize(line.size()));
  bytes_ += line.size();
  ++events_;
}

Trace::Event::Event(Trace& t, std::string_view kind) : t_(t) {
  line_.reserve(128);
  line_ += "{\"ev\":";
  line_ += json_quote(kind);
  line_ += ",\"iter\":";
  line_ += std::to_string(t.iteration);
}

Trace::Event::~Event() { t_.commit(line_); }

Trace::Event& Trace::Event::key(std::string_view k) {
  line_ += ',';
  line_ += json_quote(k);
  line_ += ':';
  return *this;
}
Trace::Event& Trace::Event::str(std::string_view k, std::string_view v) {
  key(k);
  line_ += json_quote(v);
  return *this;
}
Trace::Event& Trace::Event::num(std::string_view k, int64_t v) {
  key(k);
  line_ += std::to_string(v);
  return *this;
}
Trace::Event& Trace::Event::real(std::string_view k, double v) {
  key(k);
  if (!std::isfinite(v)) {
    line_ += "null";
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    line_ += buf;
  }
  return *this;
}
Trace::Event& Trace::Event::boolean(std::string_view k, bool v) {
  key(k);
  line_ += v ? "true" : "false";
  return *this;
}
Trace::Event& Trace::Event::raw(std::string_view k, std::string_view json) {
  key(k);
  line_ += json;
  return *this;
}

}  // namespace egfuse::eg
