// libFuzzer target: the graph parser (and, on success, the printer and a
// second parse) must never crash, hang or lose the canonical round trip.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "egfuse/graph_text.hpp"
#include "egfuse/templates.hpp"

// EGFUSE_FUZZ_SECONDS overrides the run time meson passes (-max_total_time).
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  static std::vector<char*> args(*argv, *argv + *argc);
  static std::string limit;
  if (const char* s = std::getenv("EGFUSE_FUZZ_SECONDS")) {
    limit = std::string("-max_total_time=") + s;
    args.push_back(limit.data());
    *argc = int(args.size());
    args.push_back(nullptr);
    *argv = args.data();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace egfuse;
  std::string text(reinterpret_cast<const char*>(data), size);
  Diagnostics d;
  auto g = parse_graph("fuzz.graph", text, TemplateRegistry::builtin(), d);
  if (g) {
    (void)verify(*g, TemplateRegistry::builtin(), d);
    std::string printed = print_graph(*g);
    Diagnostics d2;
    auto again = parse_graph("fuzz2.graph", printed, TemplateRegistry::builtin(), d2);
    if (!again || print_graph(*again) != printed) std::abort();
  } else if (!d.has_errors()) {
    std::abort();  // a failed parse must say why
  }
  (void)d.render();
  return 0;
}
