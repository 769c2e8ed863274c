// One analysis of an open document: the checked rule set (with its includes),
// the diagnostics, and a lexical index of every file involved. Features
// (hover, definition, completion, ...) read it; a new one is made per edit.
#pragma once

#include <map>
#include <memory>
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
  FileIndex index;
  Range range(size_t begin, size_t end) const { return lines.range(src->text, begin, end); }
  size_t offset(Position p) const { return lines.offset(src->text, p); }
};

struct Analysis {
  std::string uri, path;
  int64_t version = 0;
  rules::RuleSet rs;
  Diagnostics diags;
  KnownNames known;
  std::map<std::string, FileView> files;  // by path: the document and the files it includes
  const FileView* main = nullptr;

  const FileView* file(const std::string& path) const;
  // Byte offset of a span's start in its file (its line/col are 1-based).
  static size_t offset_of(const SourceSpan& s);
  // The span's range; the file's view is used when it is one of ours.
  Range range_of(const SourceSpan& s) const;
};

std::shared_ptr<const Analysis> analyze(const TextDocument& doc);

// Rule fire counts from a trace file (JSON lines). Empty when it is missing.
std::map<std::string, int64_t> load_fire_counts(const std::string& trace_path);

}  // namespace egfuse::lsp
