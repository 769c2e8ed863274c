// Rename of a rule, ruleset or pattern variable. Ops and templates are not
// renamed: graphs, backends and traces refer to them by name.
#include "engine/lsp/features.hpp"

namespace egfuse::lsp {

namespace {
bool renameable(SymKind k) { return k == SymKind::rule || k == SymKind::ruleset || k == SymKind::var; }

const Occurrence& target(const Analysis& a, Position p) {
  const Occurrence* o = occurrence_at(a, p);
  if (!o) throw RequestError(kRequestFailed, "nothing to rename here");
  if (!renameable(o->kind))
    throw RequestError(kRequestFailed, std::string("cannot rename ") + sym_kind_name(o->kind) + " '" + o->name +
                                           "': only rules, rulesets and pattern variables can be renamed");
  return *o;
}
}  // namespace

json prepare_rename(const Analysis& a, Position p) {
  const Occurrence* o = occurrence_at(a, p);
  if (!o || !renameable(o->kind)) return nullptr;
  const std::string& text = a.main->src->text;
  return {{"range", to_json(a.main->range(o->begin, o->end))}, {"placeholder", text.substr(o->begin, o->end - o->begin)}};
}

json rename(const Analysis& a, const std::vector<const Analysis*>& open, Position p, const std::string& new_name_in) {
  const Occurrence& o = target(a, p);
  std::string new_name = new_name_in;
  if (o.kind == SymKind::var && !new_name.empty() && new_name[0] == '?') new_name.erase(0, 1);
  if (!is_identifier(new_name, o.kind != SymKind::var))
    throw RequestError(kInvalidParams, "'" + new_name_in + "' is not a valid " + sym_kind_name(o.kind) + " name");
  if (new_name == o.name) return {{"changes", json::object()}};

  std::map<std::string, json> changes;  // uri -> edits
  if (o.kind == SymKind::var) {
    bool clash = false;
    for (auto& v : a.main->index.occurrences)
      if (v.kind == SymKind::var && v.item == o.item && v.name == new_name) clash = true;
    if (clash) throw RequestError(kRequestFailed, "this item already has a variable ?" + new_name);
    const std::string& text = a.main->src->text;
    for (auto& v : a.main->index.occurrences)
      if (v.kind == SymKind::var && v.item == o.item && v.name == o.name)
        changes[a.main->uri].push_back(
            {{"range", to_json(a.main->range(v.begin, v.end))}, {"newText", (text[v.begin] == '?' ? "?" : "") + new_name}});
  } else {
    const auto& known = o.kind == SymKind::rule ? a.known.rules : a.known.rulesets;
    if (known.count(new_name))
      throw RequestError(kRequestFailed, std::string("a ") + sym_kind_name(o.kind) + " named '" + new_name + "' already exists");
    std::vector<const Analysis*> all = open;
    if (std::find(all.begin(), all.end(), &a) == all.end()) all.insert(all.begin(), &a);
    for (auto& [path, f] : workspace_files(all))
      for (auto& v : f->index.occurrences)
        if (v.kind == o.kind && v.name == o.name)
          changes[f->uri].push_back({{"range", to_json(f->range(v.begin, v.end))}, {"newText", new_name}});
  }
  json out = json::object();
  for (auto& [uri, edits] : changes) out[uri] = edits;
  return {{"changes", out}};
}

}  // namespace egfuse::lsp
