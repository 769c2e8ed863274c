// libFuzzer target for the rule-language front end: parse + check any input
// (never crash, never hang), and where it formats, formatting is idempotent and
// the formatted text parses with the same number of rules.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "egfuse/rule_ast.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  egfuse::Diagnostics diags;
  // A name without a directory: includes resolve in the standard library.
  auto rs = egfuse::rules::load_rules_from_text("fuzz.rules", text, diags);
  (void)diags.render();
  egfuse::Diagnostics fd;
  auto once = egfuse::rules::format_rules("fuzz.rules", text, fd);
  if (!once) return 0;
  egfuse::Diagnostics fd2;
  auto twice = egfuse::rules::format_rules("fuzz.rules", *once, fd2);
  if (!twice || *twice != *once) std::abort();
  egfuse::Diagnostics d2;
  auto rs2 = egfuse::rules::load_rules_from_text("fuzz.rules", *once, d2);
  if (rs2.rules.size() != rs.rules.size()) std::abort();
  return 0;
}
