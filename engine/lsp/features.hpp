// The language features, one file each. They read an Analysis and return the
// LSP result as JSON; a request that cannot be served throws RequestError.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/lsp/analysis.hpp"
#include "engine/lsp/jsonrpc.hpp"

namespace egfuse::lsp {

struct RequestError : std::runtime_error {
  int code;
  RequestError(int c, const std::string& m) : std::runtime_error(m), code(c) {}
};

json to_json(const Position& p);
json to_json(const Range& r);
Position position_from(const json& params);  // params.position
json location(const std::string& uri, const Range& r);

// What the cursor is on: the occurrence in the document's own file.
const Occurrence* occurrence_at(const Analysis& a, Position p);
// Where (kind, name) is declared; null when nowhere known.
json definition_of(const Analysis& a, const Occurrence& o);

// Per-file views over all open analyses: each open document's own view first,
// then files reached only through includes (by path).
std::map<std::string, const FileView*> workspace_files(const std::vector<const Analysis*>& open);

json publish_diagnostics(const Analysis& a);
json hover(const Analysis& a, Position p, const std::map<std::string, int64_t>& fire_counts, const std::string& trace);
json definition(const Analysis& a, Position p);
json references(const Analysis& a, const std::vector<const Analysis*>& open, Position p, bool include_declaration);
json document_symbols(const Analysis& a);
json completion(const Analysis& a, Position p);
json formatting(const TextDocument& doc);
json prepare_rename(const Analysis& a, Position p);
json rename(const Analysis& a, const std::vector<const Analysis*>& open, Position p, const std::string& new_name);

}  // namespace egfuse::lsp
