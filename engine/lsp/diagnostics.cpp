// Checker diagnostics as LSP diagnostics: spans become ranges, notes become
// related information. Problems in included files are shown on the include line.
#include "engine/lsp/features.hpp"

namespace egfuse::lsp {

json to_json(const Position& p) { return {{"line", p.line}, {"character", p.character}}; }
json to_json(const Range& r) { return {{"start", to_json(r.start)}, {"end", to_json(r.end)}}; }
json location(const std::string& uri, const Range& r) { return {{"uri", uri}, {"range", to_json(r)}}; }

Position position_from(const json& params) {
  const json& p = params.at("position");
  return {p.at("line").get<uint32_t>(), p.at("character").get<uint32_t>()};
}

namespace {
int severity_code(Severity s) { return s == Severity::error ? 1 : s == Severity::warning ? 2 : 3; }

std::string uri_of(const Analysis& a, const SourceSpan& s) {
  if (const FileView* f = s.file ? a.file(s.file->path) : nullptr) return f->uri;
  return path_to_uri(s.file ? s.file->path : a.path);
}
}  // namespace

json publish_diagnostics(const Analysis& a) {
  // The first include line stands for problems found in included files.
  Range include_range;
  for (auto& it : a.main->index.items)
    if (it.kind == Item::Kind::include) {
      include_range = a.main->range(it.begin, it.end);
      break;
    }
  json list = json::array();
  for (const Diagnostic& d : a.diags.all()) {
    bool here = !d.span.file || d.span.file->path == a.path;
    json j;
    j["range"] = to_json(here ? a.range_of(d.span) : include_range);
    j["severity"] = severity_code(d.severity);
    if (!d.code.empty()) j["code"] = d.code;
    j["source"] = "egfuse";
    j["message"] = here ? d.message : "in included file " + d.span.where() + ": " + d.message;
    json related = json::array();
    if (!here) related.push_back({{"location", location(uri_of(a, d.span), a.range_of(d.span))}, {"message", d.message}});
    for (auto& [span, msg] : d.notes)
      if (span.file) related.push_back({{"location", location(uri_of(a, span), a.range_of(span))}, {"message", msg}});
    if (!related.empty()) j["relatedInformation"] = std::move(related);
    list.push_back(std::move(j));
  }
  return {{"uri", a.uri}, {"version", a.version}, {"diagnostics", std::move(list)}};
}

}  // namespace egfuse::lsp
