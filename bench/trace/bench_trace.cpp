// Loads and queries a generated trace of 10^6 events (target: under 2 s).
// Run: ninja -C build bench/trace/bench_trace && build/bench/trace/bench_trace [events]
#include <chrono>
#include <cstdio>
#include <string>

#include "egfuse/trace_query.hpp"

int main(int argc, char** argv) {
  long n = argc > 1 ? std::stol(argv[1]) : 1000000;
  std::string text = "{\"ev\":\"header\",\"schema\":\"egfuse-trace\",\"version\":1}\n";
  text.reserve(size_t(n) * 120);
  const char* rules[] = {"comm-add", "assoc-add", "dist-mul", "template-epilogue", "pointwise-inline"};
  for (long i = 0; i < n; ++i) {
    const char* r = rules[i % 5];
    long it = i / (n / 10 + 1);
    switch (i % 4) {
      case 0:
        text += "{\"ev\":\"match\",\"iter\":" + std::to_string(it) + ",\"rule\":\"" + r +
                "\",\"loc\":\"rules/fusion.rules:12\",\"class\":" + std::to_string(i % 5000) + ",\"subst\":{\"a\":1,\"b\":2}}\n";
        break;
      case 1:
        text += "{\"ev\":\"apply\",\"iter\":" + std::to_string(it) + ",\"rule\":\"" + r +
                "\",\"loc\":\"rules/fusion.rules:12\",\"class\":" + std::to_string(i % 5000) + ",\"result\":" +
                std::to_string(i % 7000) + ",\"changed\":true}\n";
        break;
      case 2:
        text += "{\"ev\":\"guard_fail\",\"iter\":" + std::to_string(it) + ",\"rule\":\"" + r +
                "\",\"loc\":\"rules/fusion.rules:12\",\"class\":" + std::to_string(i % 5000) +
                ",\"guard\":\"pointwise(?q)\",\"values\":\"?q=class 3 -> false\"}\n";
        break;
      default:
        text += "{\"ev\":\"union\",\"iter\":" + std::to_string(it) + ",\"a\":" + std::to_string(i % 5000) + ",\"b\":" +
                std::to_string((i * 7) % 5000) + ",\"root\":1,\"why\":\"rule\",\"rule\":\"" + r + "\",\"loc\":\"x:1\"}\n";
    }
  }
  auto t0 = std::chrono::steady_clock::now();
  auto t = egfuse::trace::TraceFile::from_text("generated.jsonl", std::move(text));
  auto t1 = std::chrono::steady_clock::now();
  auto s = egfuse::trace::summary(t);
  auto r = egfuse::trace::rules_table(t);
  auto st = egfuse::trace::step(t, 3);
  auto t2 = std::chrono::steady_clock::now();
  double load = std::chrono::duration<double>(t1 - t0).count(), query = std::chrono::duration<double>(t2 - t1).count();
  std::printf("trace of %zu events: load %.3f s, summary+rules+step %.3f s, total %.3f s (target < 2 s: %s)\n",
              t.events().size(), load, query, load + query, load + query < 2 ? "met" : "MISSED");
  return (s.empty() || r.empty() || st.empty()) ? 1 : 0;
}
