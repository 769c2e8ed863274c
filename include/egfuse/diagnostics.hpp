// Diagnostics shared by every front end (graph text, rule files, .pt2, traces).
// A diagnostic names file:line:col, shows the source line with a caret or
// underline, says what was expected, and may carry notes at related spans.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace egfuse {

// A source file held in memory; spans point into it by byte offset.
struct SourceFile {
  std::string path;
  std::string text;
  std::vector<size_t> line_starts;  // filled by make_source
  std::string_view line(uint32_t line1) const;  // 1-based, without newline
};
std::shared_ptr<const SourceFile> make_source(std::string path, std::string text);
// Reads a file; throws egfuse::Error naming it when it cannot be read.
std::shared_ptr<const SourceFile> load_source(const std::string& path);

struct SourceSpan {
  std::shared_ptr<const SourceFile> file;  // may be null (synthesized nodes)
  uint32_t line = 0, col = 0;              // 1-based; 0 = unknown
  uint32_t length = 1;                     // characters to underline on that line
  std::string where() const;               // "file:line:col" (or "<unknown>")
};
SourceSpan span_at(std::shared_ptr<const SourceFile> f, size_t byte_offset, uint32_t length = 1);

enum class Severity : uint8_t { error, warning, note };

struct Diagnostic {
  Severity severity = Severity::error;
  std::string code;     // stable identifier, e.g. "E-unbound-var"
  std::string message;  // "expected ')' after arguments"
  SourceSpan span;
  std::vector<std::pair<SourceSpan, std::string>> notes;  // "first defined here"
};

class Diagnostics {
 public:
  void error(SourceSpan s, std::string code, std::string msg);
  void warning(SourceSpan s, std::string code, std::string msg);
  Diagnostic& add(Diagnostic d);
  bool has_errors() const { return errors_ > 0; }
  size_t error_count() const { return errors_; }
  size_t warning_count() const;
  const std::vector<Diagnostic>& all() const { return list_; }
  void clear() { list_.clear(); errors_ = 0; }
  // Sort by file, line, col (stable) so output is deterministic.
  void sort();

  // Human form: "file:3:7: error: msg [code]\n  line text\n      ^~~~\nnote: ..."
  std::string render(bool color = false) const;
  // One JSON object per line: {"file","line","col","length","severity","code","message","notes":[...]}
  std::string render_json() const;

 private:
  std::vector<Diagnostic> list_;
  size_t errors_ = 0;
};

std::string render_diagnostic(const Diagnostic& d, bool color = false);

// The exception type of the library: carries a message (already formatted with
// a location where one is known). Tools print it and exit non-zero.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace egfuse
