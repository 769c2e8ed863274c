// libFuzzer target over the .pt2 JSON reader and lowering: any input must give
// a result or diagnostics, never a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "egfuse/import.hpp"
#include "egfuse/templates.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  egfuse::Diagnostics diags;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)egfuse::import_pt2_json(text, "fuzz.json", egfuse::TemplateRegistry::builtin(), diags);
  return 0;
}
