// Go to definition and find references: names are matched by kind and text
// across the document, its includes, and every other open document.
#include <filesystem>

#include "engine/lsp/features.hpp"

namespace egfuse::lsp {

const Occurrence* occurrence_at(const Analysis& a, Position p) {
  return a.main->index.occurrence_at(a.main->offset(p));
}

namespace {
json span_location(const Analysis& a, const SourceSpan& s) {
  if (!s.file) return nullptr;
  const FileView* f = a.file(s.file->path);
  return location(f ? f->uri : path_to_uri(s.file->path), a.range_of(s));
}

// A declaration found by the lexical index (used when the checked set lacks it,
// e.g. while its item has a syntax error).
json lexical_declaration(const Analysis& a, SymKind kind, const std::string& name) {
  std::vector<const FileView*> order{a.main};
  for (auto& [path, f] : a.files)
    if (&f != a.main) order.push_back(&f);
  for (const FileView* f : order)
    for (auto& o : f->index.occurrences)
      if (o.decl && o.kind == kind && o.name == name) return location(f->uri, f->range(o.begin, o.end));
  return nullptr;
}
}  // namespace

json definition_of(const Analysis& a, const Occurrence& o) {
  const rules::RuleSet& rs = a.rs;
  switch (o.kind) {
    case SymKind::callee:
      if (auto* op = rs.find_op(o.name)) return span_location(a, op->span);
      for (auto& t : rs.templates)
        if (t.kind.name == o.name) return span_location(a, t.span);
      break;
    case SymKind::rule:
      if (auto* r = rs.find_rule(o.name)) return span_location(a, r->span);
      break;
    case SymKind::ruleset:
      if (auto* r = rs.find_ruleset(o.name)) return span_location(a, r->span);
      break;
    case SymKind::schedule:
      if (auto* s = rs.find_schedule(o.name)) return span_location(a, s->span);
      break;
    case SymKind::var:
      for (auto& v : a.main->index.occurrences)
        if (v.kind == SymKind::var && v.item == o.item && v.name == o.name && v.decl)
          return location(a.main->uri, a.main->range(v.begin, v.end));
      return nullptr;
    case SymKind::phase:
      if (o.decl) return location(a.main->uri, a.main->range(o.begin, o.end));
      return nullptr;
    case SymKind::include: {
      namespace fs = std::filesystem;
      std::error_code ec;
      for (fs::path p : {fs::path(a.path).parent_path() / o.name, fs::path(rules::standard_rules_dir()) / o.name})
        if (fs::exists(p, ec)) return location(path_to_uri(p.lexically_normal().string()), Range{});
      return nullptr;
    }
    case SymKind::guard:
      return nullptr;
  }
  return lexical_declaration(a, o.kind, o.name);
}

json definition(const Analysis& a, Position p) {
  const Occurrence* o = occurrence_at(a, p);
  return o ? definition_of(a, *o) : json(nullptr);
}

std::map<std::string, const FileView*> workspace_files(const std::vector<const Analysis*>& open) {
  std::map<std::string, const FileView*> out;
  for (const Analysis* a : open) out[a->path] = a->main;
  for (const Analysis* a : open)
    for (auto& [path, f] : a->files) out.emplace(path, &f);
  return out;
}

json references(const Analysis& a, const std::vector<const Analysis*>& open, Position p, bool include_declaration) {
  const Occurrence* o = occurrence_at(a, p);
  json out = json::array();
  if (!o || o->kind == SymKind::include) return out;
  if (o->kind == SymKind::var || o->kind == SymKind::phase) {
    for (auto& v : a.main->index.occurrences)
      if (v.kind == o->kind && v.item == o->item && v.name == o->name && (include_declaration || !v.decl))
        out.push_back(location(a.main->uri, a.main->range(v.begin, v.end)));
    return out;
  }
  std::vector<const Analysis*> all = open;
  if (std::find(all.begin(), all.end(), &a) == all.end()) all.insert(all.begin(), &a);
  for (auto& [path, f] : workspace_files(all))
    for (auto& v : f->index.occurrences)
      if (v.kind == o->kind && v.name == o->name && (include_declaration || !v.decl))
        out.push_back(location(f->uri, f->range(v.begin, v.end)));
  return out;
}

}  // namespace egfuse::lsp
