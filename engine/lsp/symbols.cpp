// Document symbols: the outline of a file (ops, templates, rules inside their
// rulesets, schedules with their phases), from the lexical index so it stays
// available while the file has errors.
#include "engine/lsp/features.hpp"

namespace egfuse::lsp {

namespace {
// LSP SymbolKind numbers.
int symbol_kind(Item::Kind k) {
  switch (k) {
    case Item::Kind::op: return 12;             // Function
    case Item::Kind::template_: return 5;       // Class
    case Item::Kind::rule: return 6;            // Method
    case Item::Kind::ruleset_open: return 3;    // Namespace
    case Item::Kind::schedule_open: return 2;   // Module
    case Item::Kind::phase: return 8;           // Field
    default: return 0;
  }
}
const char* detail(Item::Kind k) {
  switch (k) {
    case Item::Kind::op: return "op";
    case Item::Kind::template_: return "template";
    case Item::Kind::rule: return "rule";
    case Item::Kind::ruleset_open: return "ruleset";
    case Item::Kind::schedule_open: return "schedule";
    case Item::Kind::phase: return "phase";
    default: return "";
  }
}
}  // namespace

json document_symbols(const Analysis& a) {
  const FileView& f = *a.main;
  const auto& items = f.index.items;
  json out = json::array();
  std::map<size_t, size_t> block_pos;  // block item -> index in out
  for (size_t i = 0; i < items.size(); ++i) {
    const Item& it = items[i];
    if (it.kind == Item::Kind::close && it.parent == SIZE_MAX) {
      // Extend the block just closed to its '}'.
      for (auto& [blk, pos] : block_pos)
        if (blk < i) out[pos]["range"]["end"] = to_json(f.lines.position(f.src->text, it.end));
      block_pos.clear();
      continue;
    }
    int kind = symbol_kind(it.kind);
    if (!kind || it.name.empty()) continue;
    json s = {{"name", it.name},
              {"detail", detail(it.kind)},
              {"kind", kind},
              {"range", to_json(f.range(it.begin, it.end))},
              {"selectionRange", to_json(f.range(it.name_begin, it.name_end))}};
    if (it.kind == Item::Kind::ruleset_open || it.kind == Item::Kind::schedule_open) {
      s["children"] = json::array();
      block_pos[i] = out.size();
      out.push_back(std::move(s));
    } else if (it.parent != SIZE_MAX && block_pos.count(it.parent)) {
      out[block_pos[it.parent]]["children"].push_back(std::move(s));
    } else {
      out.push_back(std::move(s));
    }
  }
  return out;
}

}  // namespace egfuse::lsp
