// Open documents: text, version, and LSP positions (line + UTF-16 code unit)
// converted to and from byte offsets. Supports full and incremental sync.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace egfuse::lsp {

struct Position {
  uint32_t line = 0, character = 0;  // 0-based; character counts UTF-16 code units
  bool operator==(const Position&) const = default;
};
struct Range {
  Position start, end;
  bool operator==(const Range&) const = default;
};

// Line-start table over a text: byte offset <-> LSP position.
class LineIndex {
 public:
  LineIndex() = default;
  explicit LineIndex(std::string_view text);
  size_t offset(std::string_view text, Position p) const;  // clamped to the text
  Position position(std::string_view text, size_t offset) const;
  Range range(std::string_view text, size_t begin, size_t end) const {
    return {position(text, begin), position(text, end)};
  }
  size_t line_count() const { return starts_.size(); }

 private:
  std::vector<size_t> starts_{0};
};

// UTF-16 length of a UTF-8 byte range (invalid bytes count one unit each).
uint32_t utf16_length(std::string_view s);

struct TextDocument {
  std::string uri, path, text;
  int64_t version = 0;
  LineIndex lines;
  // Replaces `range` (or everything when absent) by `new_text`.
  void apply_change(const std::optional<Range>& range, const std::string& new_text);
};

class DocumentStore {
 public:
  TextDocument& open(const std::string& uri, std::string text, int64_t version);
  TextDocument* find(const std::string& uri);
  void close(const std::string& uri) { docs_.erase(uri); }
  const std::map<std::string, TextDocument>& all() const { return docs_; }

 private:
  std::map<std::string, TextDocument> docs_;
};

// file:///a%20b/c.rules <-> /a b/c.rules. Other schemes map to themselves.
std::string uri_to_path(const std::string& uri);
std::string path_to_uri(const std::string& path);

}  // namespace egfuse::lsp
