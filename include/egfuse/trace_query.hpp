// The rewrite-trace debugger's model: a JSON-lines trace (docs/trace-format.md)
// loaded into memory and queried (summary, rules, why, why-not, explain, step,
// diff) and rendered (Graphviz DOT/SVG, one self-contained HTML report).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace egfuse::trace {

// One event: its kind, iteration and fields, as views into the loaded text.
struct Field {
  uint32_t key_off, val_off, val_len;
  uint16_t key_len;
};

class TraceFile {
 public:
  // Loads and validates a trace; throws egfuse::Error naming the file and line
  // for a missing header, a wrong schema version, or a line that is not a JSON object.
  static TraceFile load(const std::string& path);
  static TraceFile from_text(std::string path, std::string text);

  struct Event {
    uint32_t line;         // 1-based line in the file
    uint32_t first_field;  // index into fields_
    uint16_t nfields;
    std::string_view kind;
    int64_t iter;
  };
  const std::vector<Event>& events() const { return events_; }
  const std::string& path() const { return path_; }
  int version() const { return version_; }

  // Raw JSON text of a field ("" when absent); str() decodes a JSON string,
  // num() a number (or `dflt`).
  std::string_view raw(const Event& e, std::string_view key) const;
  std::string str(const Event& e, std::string_view key) const;
  int64_t num(const Event& e, std::string_view key, int64_t dflt = -1) const;
  double real(const Event& e, std::string_view key, double dflt = 0) const;
  bool boolean(const Event& e, std::string_view key) const;
  std::vector<std::string> str_list(const Event& e, std::string_view key) const;  // ["a","b"]

 private:
  std::string path_;
  std::shared_ptr<std::string> text_;
  std::vector<Event> events_;
  std::vector<Field> fields_;
  int version_ = 0;
};

// Each query returns text for a person; the CLI adds --json where noted.
std::string summary(const TraceFile& t);
std::string rules_table(const TraceFile& t);
std::string rules_json(const TraceFile& t);
std::string why(const TraceFile& t, const std::string& node);
std::string why_not(const TraceFile& t, const std::string& rule, const std::string& node);
std::string explain(const TraceFile& t, const std::string& a, const std::string& b);
std::string step(const TraceFile& t, int64_t iteration);
std::string diff(const TraceFile& a, const TraceFile& b);

// Pictures: DOT text of the input graph, the e-graph (classes as clusters,
// chosen nodes highlighted) and the kernel plan (kernels as boxes).
std::string dot_input_graph(const TraceFile& t);
std::string dot_egraph(const TraceFile& t, size_t max_nodes = 400);
std::string dot_plan(const TraceFile& t);
// Runs Graphviz `dot -Tsvg`; throws egfuse::Error when dot is missing or fails.
std::string dot_to_svg(const std::string& dot);
// One self-contained HTML report (no external resources).
std::string html_report(const TraceFile& t);

}  // namespace egfuse::trace
