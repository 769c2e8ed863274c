// Formatting through the rule formatter: one edit replacing the whole text, or
// none when the text is already canonical or does not parse (its diagnostics
// are already shown).
#include "engine/lsp/features.hpp"

namespace egfuse::lsp {

json formatting(const TextDocument& doc) {
  Diagnostics diags;
  std::optional<std::string> formatted = rules::format_rules(doc.path, doc.text, diags);
  json edits = json::array();
  if (!formatted || *formatted == doc.text) return edits;
  Range all = doc.lines.range(doc.text, 0, doc.text.size());
  edits.push_back({{"range", to_json(all)}, {"newText", *formatted}});
  return edits;
}

}  // namespace egfuse::lsp
