// Document text and position conversions (see documents.hpp).
#include "engine/lsp/documents.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace egfuse::lsp {

namespace {
// Bytes in the UTF-8 sequence that starts with `c` (1 for stray bytes).
size_t seq_len(unsigned char c) {
  if (c >= 0xF0 && c < 0xF8) return 4;
  if (c >= 0xE0) return c < 0xF0 ? 3 : 1;
  if (c >= 0xC0) return 2;
  return 1;
}
}  // namespace

uint32_t utf16_length(std::string_view s) {
  uint32_t n = 0;
  for (size_t i = 0; i < s.size();) {
    size_t k = std::min(seq_len(static_cast<unsigned char>(s[i])), s.size() - i);
    n += k == 4 ? 2 : 1;
    i += k;
  }
  return n;
}

LineIndex::LineIndex(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i)
    if (text[i] == '\n') starts_.push_back(i + 1);
}

size_t LineIndex::offset(std::string_view text, Position p) const {
  if (p.line >= starts_.size()) return text.size();
  size_t b = starts_[p.line];
  size_t e = p.line + 1 < starts_.size() ? starts_[p.line + 1] - 1 : text.size();
  uint32_t units = 0;
  size_t i = b;
  while (i < e && units < p.character) {
    size_t k = std::min(seq_len(static_cast<unsigned char>(text[i])), e - i);
    units += k == 4 ? 2 : 1;
    i += k;
  }
  return i;
}

Position LineIndex::position(std::string_view text, size_t offset) const {
  offset = std::min(offset, text.size());
  auto it = std::upper_bound(starts_.begin(), starts_.end(), offset);
  uint32_t line = uint32_t(it - starts_.begin() - 1);
  size_t b = starts_[line];
  return {line, utf16_length(text.substr(b, offset - b))};
}

void TextDocument::apply_change(const std::optional<Range>& range, const std::string& new_text) {
  if (!range) {
    text = new_text;
  } else {
    size_t b = lines.offset(text, range->start), e = lines.offset(text, range->end);
    if (e < b) std::swap(b, e);
    text.replace(b, e - b, new_text);
  }
  lines = LineIndex(text);
}

TextDocument& DocumentStore::open(const std::string& uri, std::string text, int64_t version) {
  TextDocument& d = docs_[uri];
  d.uri = uri;
  d.path = uri_to_path(uri);
  d.text = std::move(text);
  d.version = version;
  d.lines = LineIndex(d.text);
  return d;
}

TextDocument* DocumentStore::find(const std::string& uri) {
  auto it = docs_.find(uri);
  return it == docs_.end() ? nullptr : &it->second;
}

std::string uri_to_path(const std::string& uri) {
  const std::string scheme = "file://";
  if (uri.compare(0, scheme.size(), scheme) != 0) return uri;
  std::string out;
  for (size_t i = scheme.size(); i < uri.size(); ++i) {
    if (uri[i] == '%' && i + 2 < uri.size() && std::isxdigit(static_cast<unsigned char>(uri[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(uri[i + 2]))) {
      out.push_back(char(std::stoi(uri.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(uri[i]);
    }
  }
  return out;
}

std::string path_to_uri(const std::string& path) {
  if (path.find("://") != std::string::npos || path.rfind("untitled:", 0) == 0) return path;
  std::string abs = path;
  if (!path.empty() && path[0] != '/') {
    std::error_code ec;
    auto p = std::filesystem::absolute(path, ec);
    if (!ec) abs = p.lexically_normal().string();
  }
  static const char* hex = "0123456789ABCDEF";
  std::string out = "file://";
  for (unsigned char c : abs) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(char(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

}  // namespace egfuse::lsp
