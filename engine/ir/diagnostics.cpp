// Diagnostics: source files, spans, rendering with carets, JSON output.
#include "egfuse/diagnostics.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace egfuse {

std::shared_ptr<const SourceFile> make_source(std::string path, std::string text) {
  auto f = std::make_shared<SourceFile>();
  f->path = std::move(path);
  f->text = std::move(text);
  f->line_starts.push_back(0);
  for (size_t i = 0; i < f->text.size(); ++i)
    if (f->text[i] == '\n') f->line_starts.push_back(i + 1);
  return f;
}

std::shared_ptr<const SourceFile> load_source(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open file");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error(path + ": read error");
  return make_source(path, ss.str());
}

std::string_view SourceFile::line(uint32_t line1) const {
  if (line1 == 0 || line1 > line_starts.size()) return {};
  size_t b = line_starts[line1 - 1];
  size_t e = line1 < line_starts.size() ? line_starts[line1] : text.size();
  while (e > b && (text[e - 1] == '\n' || text[e - 1] == '\r')) --e;
  return std::string_view(text).substr(b, e - b);
}

std::string SourceSpan::where() const {
  std::string p = file ? file->path : std::string("<unknown>");
  if (line == 0) return p;
  return p + ":" + std::to_string(line) + ":" + std::to_string(col);
}

SourceSpan span_at(std::shared_ptr<const SourceFile> f, size_t off, uint32_t length) {
  SourceSpan s;
  if (!f) return s;
  off = std::min(off, f->text.size());
  auto it = std::upper_bound(f->line_starts.begin(), f->line_starts.end(), off);
  size_t li = size_t(it - f->line_starts.begin());  // 1-based line
  s.line = uint32_t(li);
  s.col = uint32_t(off - f->line_starts[li - 1] + 1);
  s.length = std::max<uint32_t>(1, length);
  s.file = std::move(f);
  return s;
}

void Diagnostics::error(SourceSpan s, std::string code, std::string msg) {
  add({Severity::error, std::move(code), std::move(msg), std::move(s), {}});
}
void Diagnostics::warning(SourceSpan s, std::string code, std::string msg) {
  add({Severity::warning, std::move(code), std::move(msg), std::move(s), {}});
}
Diagnostic& Diagnostics::add(Diagnostic d) {
  if (d.severity == Severity::error) ++errors_;
  list_.push_back(std::move(d));
  return list_.back();
}
size_t Diagnostics::warning_count() const {
  return size_t(std::count_if(list_.begin(), list_.end(), [](auto& d) { return d.severity == Severity::warning; }));
}
void Diagnostics::sort() {
  std::stable_sort(list_.begin(), list_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    std::string fa = a.span.file ? a.span.file->path : "", fb = b.span.file ? b.span.file->path : "";
    if (fa != fb) return fa < fb;
    if (a.span.line != b.span.line) return a.span.line < b.span.line;
    return a.span.col < b.span.col;
  });
}

static const char* severity_name(Severity s) {
  switch (s) {
    case Severity::error: return "error";
    case Severity::warning: return "warning";
    case Severity::note: return "note";
  }
  return "error";
}

static void render_snippet(std::ostringstream& os, const SourceSpan& s) {
  if (!s.file || s.line == 0) return;
  std::string_view text = s.file->line(s.line);
  os << "  " << text << "\n  ";
  for (uint32_t i = 1; i < s.col && i <= text.size(); ++i) os << (text[i - 1] == '\t' ? '\t' : ' ');
  os << '^';
  uint32_t avail = s.col <= text.size() ? uint32_t(text.size() - s.col) : 0;
  for (uint32_t i = 1; i < s.length && i <= avail; ++i) os << '~';
  os << "\n";
}

std::string render_diagnostic(const Diagnostic& d, bool color) {
  std::ostringstream os;
  const char* on = color ? (d.severity == Severity::error ? "\x1b[1;31m" : "\x1b[1;35m") : "";
  const char* off = color ? "\x1b[0m" : "";
  os << d.span.where() << ": " << on << severity_name(d.severity) << off << ": " << d.message;
  if (!d.code.empty()) os << " [" << d.code << "]";
  os << "\n";
  render_snippet(os, d.span);
  for (auto& [span, msg] : d.notes) {
    os << span.where() << ": note: " << msg << "\n";
    render_snippet(os, span);
  }
  return os.str();
}

std::string Diagnostics::render(bool color) const {
  std::string out;
  for (auto& d : list_) out += render_diagnostic(d, color);
  return out;
}

static void json_escape(std::ostringstream& os, std::string_view s) {
  os << '"';
  for (char c : s) {
    switch (c) {
      case '"': os << "\\\""; break;
      case '\\': os << "\\\\"; break;
      case '\n': os << "\\n"; break;
      case '\t': os << "\\t"; break;
      case '\r': os << "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          snprintf(buf, sizeof buf, "\\u%04x", c);
          os << buf;
        } else {
          os << c;
        }
    }
  }
  os << '"';
}

static void json_span(std::ostringstream& os, const SourceSpan& s) {
  os << "\"file\":";
  json_escape(os, s.file ? s.file->path : "");
  os << ",\"line\":" << s.line << ",\"col\":" << s.col << ",\"length\":" << s.length;
}

std::string Diagnostics::render_json() const {
  std::ostringstream os;
  for (auto& d : list_) {
    os << "{";
    json_span(os, d.span);
    os << ",\"severity\":\"" << severity_name(d.severity) << "\",\"code\":";
    json_escape(os, d.code);
    os << ",\"message\":";
    json_escape(os, d.message);
    os << ",\"notes\":[";
    for (size_t i = 0; i < d.notes.size(); ++i) {
      if (i) os << ",";
      os << "{";
      json_span(os, d.notes[i].first);
      os << ",\"message\":";
      json_escape(os, d.notes[i].second);
      os << "}";
    }
    os << "]}\n";
  }
  return os.str();
}

}  // namespace egfuse
