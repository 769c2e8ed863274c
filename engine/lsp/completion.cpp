// Completion: what may be written at the cursor, judged from the item it is in.
// Pattern positions offer ops, templates and the rule's pattern variables;
// guards add guard functions; `use` offers rules and rulesets; a phase's
// `ruleset` offers rulesets; the start of an item offers keywords.
#include "engine/lsp/features.hpp"

namespace egfuse::lsp {

namespace {
// LSP CompletionItemKind numbers.
enum : int { kMethod = 2, kFunction = 3, kVariable = 6, kClass = 7, kProperty = 10, kModule = 9, kKeyword = 14, kEvent = 23 };

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }
}  // namespace

json completion(const Analysis& a, Position p) {
  const FileView& f = *a.main;
  const std::string& text = f.src->text;
  size_t cur = f.offset(p);
  size_t start = cur;
  while (start > 0 && name_char(text[start - 1])) --start;
  bool var_prefix = start > 0 && text[start - 1] == '?';
  if (var_prefix) --start;
  std::string prefix = text.substr(start, cur - start);
  Range edit_range = f.range(start, cur);

  std::map<std::string, json> items;  // by label: sorted, no duplicates
  auto offer = [&](const std::string& label, int kind, const std::string& detail, const std::string& doc = "") {
    if (label.compare(0, prefix.size(), prefix) != 0 || label == prefix) return;
    json it = {{"label", label}, {"kind", kind}, {"textEdit", {{"range", to_json(edit_range)}, {"newText", label}}}};
    if (!detail.empty()) it["detail"] = detail;
    if (!doc.empty()) it["documentation"] = {{"kind", "markdown"}, {"value", doc}};
    items.emplace(label, std::move(it));
  };
  auto offer_callees = [&] {
    for (auto& op : a.rs.ops) offer(op.name, kFunction, "op", op.doc);
    for (auto& t : a.rs.templates) offer(t.kind.name, kClass, "template", t.kind.doc);
    for (auto& n : TemplateRegistry::builtin().names()) offer(n, kClass, "template (built-in)");
    for (auto& n : a.known.callees) offer(n, kFunction, "op");
  };
  auto offer_vars = [&](size_t item) {
    for (auto& o : f.index.occurrences)
      if (o.kind == SymKind::var && o.item == item && !(o.begin <= cur && cur <= o.end))
        offer("?" + o.name, kVariable, "pattern variable");
  };
  auto offer_keywords = [&] {
    for (auto& k : rule_keywords()) offer(k, kKeyword, "");
  };

  size_t ii = f.index.item_at(start);
  const Item* it = ii == SIZE_MAX ? nullptr : &f.index.items[ii];
  // At the start of an item (nothing but whitespace between the previous item and the cursor).
  bool item_start = !it || (it->begin == start && !var_prefix);
  if (it && !item_start && it->kind != Item::Kind::rule && it->kind != Item::Kind::op && start > it->end) {
    // Past the end of a one-line item (use, phase, include): a new item begins.
    bool newline = text.find('\n', it->end) < start;
    if (newline) item_start = true;
  }
  size_t line_begin = text.rfind('\n', start == 0 ? 0 : start - 1);
  line_begin = line_begin == std::string::npos || start == 0 ? 0 : line_begin + 1;
  // A name alone at the start of a line may begin the next item.
  if (!var_prefix && text.find_first_not_of(" \t", line_begin) >= start) offer_keywords();
  if (item_start) {
    offer_keywords();
  } else if (var_prefix) {
    offer_vars(ii);
  } else if (it->kind == Item::Kind::rule && it->body != SIZE_MAX && start >= it->body) {
    offer_callees();
    offer_vars(ii);
    if (it->guard != SIZE_MAX && start > it->guard) {
      for (auto& g : guard_functions()) offer(g.name, kMethod, g.name + g.args, g.doc);
      for (const char* k : {"and", "or", "not"}) offer(k, kKeyword, "");
    } else {
      offer("if", kKeyword, "");
    }
  } else if (it->kind == Item::Kind::op && it->body != SIZE_MAX && start >= it->body) {
    offer_callees();
    offer_vars(ii);
  } else if (it->kind == Item::Kind::use) {
    for (auto& r : a.rs.rules) offer(r.name, kEvent, "rule", r.doc);
    for (auto& r : a.known.rules) offer(r, kEvent, "rule");
    for (auto& r : a.known.rulesets) offer(r, kModule, "ruleset");
  } else if (it->kind == Item::Kind::phase) {
    // After "ruleset": a ruleset name.
    size_t kw = text.rfind("ruleset", start);
    bool after_ruleset = kw != std::string::npos && kw > it->begin && text.find_first_not_of(" \t", kw + 7) == start;
    if (after_ruleset) {
      for (auto& r : a.known.rulesets) offer(r, kModule, "ruleset");
    } else if (text.find(':', it->begin) < start) {
      for (const char* k : {"ruleset", "iter", "nodes", "time", "scheduler", "match_limit", "ban_length"})
        offer(k, kProperty, "phase setting");
    }
  } else if (it->kind == Item::Kind::close) {
    offer_keywords();
  }
  json list = json::array();
  for (auto& [label, item] : items) list.push_back(std::move(item));
  return {{"isIncomplete", false}, {"items", std::move(list)}};
}

}  // namespace egfuse::lsp
