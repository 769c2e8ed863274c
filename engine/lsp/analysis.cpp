// Runs the rule-language front end on a document and indexes what it read.
#include "engine/lsp/analysis.hpp"

#include <fstream>

#include "engine/lsp/jsonrpc.hpp"

namespace egfuse::lsp {

const FileView* Analysis::file(const std::string& path) const {
  auto it = files.find(path);
  return it == files.end() ? nullptr : &it->second;
}

size_t Analysis::offset_of(const SourceSpan& s) {
  if (!s.file || s.line == 0 || s.line > s.file->line_starts.size()) return 0;
  return std::min(s.file->line_starts[s.line - 1] + (s.col ? s.col - 1 : 0), s.file->text.size());
}

Range Analysis::range_of(const SourceSpan& s) const {
  if (!s.file) return {};
  size_t b = offset_of(s), e = std::min(b + s.length, s.file->text.size());
  if (const FileView* f = file(s.file->path)) return f->range(b, e);
  LineIndex li(s.file->text);
  return li.range(s.file->text, b, e);
}

std::shared_ptr<const Analysis> analyze(const TextDocument& doc) {
  auto a = std::make_shared<Analysis>();
  a->uri = doc.uri;
  a->path = doc.path;
  a->version = doc.version;
  a->rs = rules::load_rules_from_text(doc.path, doc.text, a->diags);
  a->diags.sort();
  for (auto& op : a->rs.ops) a->known.callees.insert(op.name);
  for (auto& t : a->rs.templates) a->known.callees.insert(t.kind.name);
  for (auto& r : a->rs.rules) a->known.rules.insert(r.name);
  for (auto& r : a->rs.rulesets) a->known.rulesets.insert(r.name);

  auto add_file = [&](std::shared_ptr<const SourceFile> src, const std::string& uri) {
    FileView v;
    v.src = src;
    v.uri = uri;
    v.lines = LineIndex(src->text);
    v.index = index_file(src->text, a->known);
    a->files[src->path] = std::move(v);
  };
  std::shared_ptr<const SourceFile> main_src;
  for (auto& f : a->rs.files)
    if (f && f->path == doc.path) main_src = f;
  // The front end keeps its own copy; when it did not (nothing parsed), use the text.
  if (!main_src || main_src->text != doc.text) main_src = make_source(doc.path, doc.text);
  add_file(main_src, doc.uri);
  for (auto& f : a->rs.files)
    if (f && f->path != doc.path) add_file(f, path_to_uri(f->path));
  a->main = a->file(doc.path);
  // Declarations the checker did not see (an item with a syntax error) still complete.
  for (auto& o : a->main->index.occurrences) {
    if (!o.decl) continue;
    if (o.kind == SymKind::callee) a->known.callees.insert(o.name);
    if (o.kind == SymKind::rule) a->known.rules.insert(o.name);
    if (o.kind == SymKind::ruleset) a->known.rulesets.insert(o.name);
  }
  return a;
}

std::map<std::string, int64_t> load_fire_counts(const std::string& trace_path) {
  std::map<std::string, int64_t> counts;
  if (trace_path.empty()) return counts;
  std::ifstream in(trace_path);
  // Events that mean "a rule rewrote the e-graph"; matches and guard failures are not firings.
  static const std::set<std::string> applied = {"apply", "applied", "rewrite", "rewrite_applied", "rule_applied",
                                                 "rule-applied"};
  for (std::string line; std::getline(in, line);) {
    json e = json::parse(line, nullptr, false);
    if (!e.is_object()) continue;
    auto rule = e.find("rule");
    if (rule == e.end() || !rule->is_string()) continue;
    for (const char* key : {"event", "kind", "type"}) {
      auto k = e.find(key);
      if (k != e.end() && k->is_string() && applied.count(k->get<std::string>())) {
        counts[rule->get<std::string>()] += 1;
        break;
      }
    }
  }
  return counts;
}

}  // namespace egfuse::lsp
