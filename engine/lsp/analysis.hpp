// One analysis of an open document: the checked rule set (with its includes),
// the diagnostics, and a lexical index of every file involved. Features
// (hover, definition, completion, ...) read it; a new one is made per edit.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "egfuse/diagnostics.hpp"
#include "egfuse/rule_ast.hpp"
#include "engine/lsp/documents.hpp"
#include "engine/lsp/index.hpp"

namespace egfuse::lsp {

struct FileView {
  std::shared_ptr<const SourceFile> src;
  std::string uri;
  LineIndex lines;
  const KnownNames* known = nullptr;
  // Built on first use: diagnostics do not need it, so a change's diagnostics
  // are not delayed by it (the server is single-threaded: no locking).
  const FileIndex& index() const {
    if (!index_) index_ = index_file(src->text, *known);
    return *index_;
  }
  Range range(size_t begin, size_t end) const { return lines.range(src->text, begin, end); }
  size_t offset(Position p) const { return lines.offset(src->text, p); }

 private:
  mutable std::optional<FileIndex> index_;
};

struct Analysis {
  std::string uri, path;
  int64_t version = 0;
  rules::RuleSet rs;
  Diagnostics diags;
  KnownNames known;  // from the checked set (an index adds its own file's declarations)
  std::map<std::string, FileView> files;  // by path: the document and the files it includes
  const FileView* main = nullptr;

  const FileView* file(const std::string& path) const;
  // Byte offset of a span's start in its file (its line/col are 1-based).
  static size_t offset_of(const SourceSpan& s);
  // The span's range; the file's view is used when it is one of ours.
  Range range_of(const SourceSpan& s) const;
};

std::shared_ptr<const Analysis> analyze(const TextDocument& doc);

// The rule front end recurses on nesting; text nested deeper than this is not
// given to it (a diagnostic says so) so that the server cannot overflow its stack.
constexpr int kMaxNesting = 400;
// Byte offset where brackets first nest deeper than kMaxNesting; npos if never.
size_t excessive_nesting(std::string_view text);
// `a.known` plus the declarations the checker did not see in the document
// (an item with a syntax error).
KnownNames known_names(const Analysis& a);

// Rule fire counts from a trace file (JSON lines). Empty when it is missing.
std::map<std::string, int64_t> load_fire_counts(const std::string& trace_path);

}  // namespace egfuse::lsp
