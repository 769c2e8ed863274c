// Trace events: one JSON object per line, schema in docs/trace-format.md.
// Recording is off unless a Trace is attached to the e-graph / runner; when on,
// the output is bounded (max_bytes, max_events) and a final "truncated" event
// says how many events were dropped.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

namespace egfuse::eg {

inline constexpr int kTraceSchemaVersion = 1;

struct TraceOptions {
  uint64_t max_bytes = 256ull << 20;
  uint64_t max_events = ~0ull;
  bool matches = true;  // record every match (the largest share of events)
  bool timing = false;  // record per-rule search time (rule_search events); makes traces run-dependent
};

class Trace {
 public:
  // Writes the header line at once.
  Trace(std::ostream& out, TraceOptions opts = {});
  ~Trace();  // writes the "truncated" line when events were dropped
  Trace(const Trace&) = delete;
  Trace& operator=(const Trace&) = delete;

  // One event under construction; it is written when destroyed.
  class Event {
   public:
    Event(Trace& t, std::string_view kind);
    ~Event();
    Event(const Event&) = delete;
    Event& str(std::string_view key, std::string_view v);
    Event& num(std::string_view key, int64_t v);
    Event& real(std::string_view key, double v);
    Event& boolean(std::string_view key, bool v);
    Event& raw(std::string_view key, std::string_view json);  // a value already in JSON
   private:
    Event& key(std::string_view k);
    Trace& t_;
    std::string line_;
  };
  Event event(std::string_view kind) { return Event(*this, kind); }

  // The iteration number stamped on every event (set by the runner).
  int64_t iteration = 0;
  const TraceOptions& options() const { return opts_; }
  uint64_t events_written() const { return events_; }
  uint64_t events_dropped() const { return dropped_; }
  uint64_t bytes_written() const { return bytes_; }
  void flush();

 private:
  void commit(std::string& line);
  std::ostream& out_;
  TraceOptions opts_;
  uint64_t events_ = 0, dropped_ = 0, bytes_ = 0;
};

// JSON string escaping (quotes included).
std::string json_quote(std::string_view s);

}  // namespace egfuse::eg
