// Responsiveness of `egfuse lsp`: the time from sending a change to receiving
// its diagnostics, for a generated 5,000-line rule file (target: < 100 ms),
// measured end to end through the server's stdio like an editor would.
// Usage: bench_lsp [EGFUSE_EXE] [LINES]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "egfuse/rule_ast.hpp"
#include "engine/lsp/analysis.hpp"
#include "engine/lsp/features.hpp"

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

struct Server {
  pid_t pid = -1;
  int to = -1, from = -1;
  std::string buf;

  explicit Server(const std::string& exe) {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) throw std::runtime_error("pipe");
    pid = fork();
    if (pid == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      close(in[1]);
      close(out[0]);
      execl(exe.c_str(), exe.c_str(), "lsp", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to = in[1];
    from = out[0];
  }
  void send(const json& m) {
    std::string body = m.dump();
    std::string s = "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    for (size_t off = 0; off < s.size();) {
      ssize_t n = write(to, s.data() + off, s.size() - off);
      if (n <= 0) throw std::runtime_error("write to server failed");
      off += size_t(n);
    }
  }
  json receive() {
    for (;;) {
      size_t h = buf.find("\r\n\r\n");
      if (h != std::string::npos) {
        size_t n = std::stoul(buf.substr(buf.find(':') + 1, h));
        if (buf.size() >= h + 4 + n) {
          json m = json::parse(buf.substr(h + 4, n));
          buf.erase(0, h + 4 + n);
          return m;
        }
      }
      char tmp[65536];
      ssize_t r = read(from, tmp, sizeof tmp);
      if (r <= 0) throw std::runtime_error("server closed its output");
      buf.append(tmp, size_t(r));
    }
  }
  // Waits for the diagnostics of `version`; returns them.
  json diagnostics_for(int64_t version) {
    for (;;) {
      json m = receive();
      if (m.value("method", "") == "textDocument/publishDiagnostics" && m["params"].value("version", int64_t(-1)) == version)
        return m["params"]["diagnostics"];
    }
  }
  json response_to(int id) {
    for (;;) {
      json m = receive();
      if (m.contains("id") && m["id"] == id) return m;
    }
  }
  ~Server() {
    if (to >= 0) close(to);
    if (from >= 0) close(from);
    if (pid > 0) waitpid(pid, nullptr, 0);
  }
};

std::string generate(int lines) {
  std::string s = "// generated for bench_lsp\ninclude \"ops.rules\"\n\n";
  int n = 3, r = 0, block = 0;
  while (n < lines - 2) {
    s += "ruleset gen" + std::to_string(block++) + " {\n";
    n++;
    for (int i = 0; i < 40 && n < lines - 3; ++i, ++r) {
      std::string id = std::to_string(r);
      s += "  /// rule " + id + ": a rewrite with a guard.\n";
      s += "  rule r" + id + ": add(?x" + id + ", mul(?y, " + id + ")) => add(mul(?y, " + id + "), ?x" + id +
           ")\n    if pointwise(?y) and rank(?y) == 2\n";
      n += 3;
    }
    s += "}\n";
    n++;
  }
  return s;
}

struct Stats {
  std::vector<double> ms;
  void print(const char* what) const {
    auto v = ms;
    std::sort(v.begin(), v.end());
    std::printf("%-44s n=%-3zu median %7.2f ms   p90 %7.2f ms   max %7.2f ms\n", what, v.size(), v[v.size() / 2],
                v[v.size() * 9 / 10], v.back());
  }
};

double since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// CPU time of this process (ms): on a busy machine, wall time mostly measures the others.
double cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// CPU time (user + system, ms) a child process has used so far.
double child_cpu_ms(pid_t pid) {
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (!f) return 0;
  char buf[4096];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  // Fields after the command name "(...)": state is field 3; utime, stime are 14, 15.
  const char* p = std::strrchr(buf, ')');
  unsigned long utime = 0, stime = 0;
  if (p) std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime);
  return double(utime + stime) * 1000.0 / double(sysconf(_SC_CLK_TCK));
}

}  // namespace

int main(int argc, char** argv) {
  std::string exe = argc > 1 ? argv[1] : EGFUSE_EXE;
  int lines = argc > 2 ? std::atoi(argv[2]) : 5000;
  std::string text = generate(lines);
  std::string uri = "file://" + std::string(EGFUSE_SOURCE_ROOT) + "/bench/lsp/generated.rules";
  size_t nlines = size_t(std::count(text.begin(), text.end(), '\n'));
  std::printf("bench_lsp: %zu lines, %zu bytes, server %s\n", nlines, text.size(), exe.c_str());

  {
    // In-process breakdown of one analysis: where the time of a change goes.
    Stats front, index, whole, whole_cpu;
    for (int i = 0; i < 10; ++i) {
      egfuse::Diagnostics diags;
      auto t = Clock::now();
      egfuse::rules::load_rules_from_text(std::string(EGFUSE_SOURCE_ROOT) + "/bench/lsp/generated.rules", text, diags);
      front.ms.push_back(since(t));
      t = Clock::now();
      egfuse::lsp::index_file(text, {});
      index.ms.push_back(since(t));
      egfuse::lsp::TextDocument doc;
      doc.uri = uri;
      doc.path = egfuse::lsp::uri_to_path(uri);
      doc.text = text;
      doc.lines = egfuse::lsp::LineIndex(text);
      t = Clock::now();
      double c0 = cpu_ms();
      auto a = egfuse::lsp::analyze(doc);
      std::string out = egfuse::lsp::publish_diagnostics(*a).dump();
      whole.ms.push_back(since(t));
      whole_cpu.ms.push_back(cpu_ms() - c0);
    }
    front.print("in process: rule front end (parse + check)");
    index.print("in process: lexical index");
    whole.print("in process: analysis + diagnostics JSON");
    whole_cpu.print("in process: same, CPU time");
  }

  Server srv(exe);
  srv.send({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"}, {"params", {{"capabilities", json::object()}}}});
  srv.response_to(1);
  srv.send({{"jsonrpc", "2.0"}, {"method", "initialized"}, {"params", json::object()}});

  auto t0 = Clock::now();
  srv.send({{"jsonrpc", "2.0"},
            {"method", "textDocument/didOpen"},
            {"params", {{"textDocument", {{"uri", uri}, {"languageId", "egfuse-rules"}, {"version", 1}, {"text", text}}}}}});
  json d = srv.diagnostics_for(1);
  std::printf("open: %.2f ms, %zu diagnostics\n", since(t0), d.size());

  Stats typing, breaking, full;
  double cpu_before = child_cpu_ms(srv.pid);
  int64_t version = 1;
  // Type characters into a comment in the middle of the file, break a rule
  // (an unbound variable on the right) and mend it, and resend the whole text.
  uint32_t mid = uint32_t(nlines / 2);
  for (int i = 0; i < 30; ++i) {
    json pos = {{"line", mid}, {"character", 2}};
    json change = {{"range", {{"start", pos}, {"end", pos}}}, {"text", "x"}};
    json params = {{"textDocument", {{"uri", uri}, {"version", ++version}}}, {"contentChanges", json::array({change})}};
    auto t = Clock::now();
    srv.send({{"jsonrpc", "2.0"}, {"method", "textDocument/didChange"}, {"params", params}});
    srv.diagnostics_for(version);
    typing.ms.push_back(since(t));
  }
  for (int i = 0; i < 10; ++i) {
    std::string broken = text;
    size_t at = broken.find("=> add(mul(?y", broken.size() / 2);
    broken.replace(at + 11, 2, i % 2 ? "?y" : "?q");
    auto t = Clock::now();
    srv.send({{"jsonrpc", "2.0"},
              {"method", "textDocument/didChange"},
              {"params", {{"textDocument", {{"uri", uri}, {"version", ++version}}}, {"contentChanges", {{{"text", broken}}}}}}});
    json diags = srv.diagnostics_for(version);
    breaking.ms.push_back(since(t));
    if (i % 2 == 0 && diags.empty()) std::printf("warning: the broken text produced no diagnostic\n");
  }
  for (int i = 0; i < 10; ++i) {
    auto t = Clock::now();
    srv.send({{"jsonrpc", "2.0"},
              {"method", "textDocument/didChange"},
              {"params", {{"textDocument", {{"uri", uri}, {"version", ++version}}}, {"contentChanges", {{{"text", text}}}}}}});
    srv.diagnostics_for(version);
    full.ms.push_back(since(t));
  }
  typing.print("change -> diagnostics (incremental, 1 char)");
  std::printf("server CPU time per change (all 50 changes): %.2f ms\n", (child_cpu_ms(srv.pid) - cpu_before) / 50);
  breaking.print("change -> diagnostics (error in, error out)");
  full.print("change -> diagnostics (full text resent)");

  Stats hover, completion;
  for (int i = 0; i < 20; ++i) {
    auto t = Clock::now();
    srv.send({{"jsonrpc", "2.0"}, {"id", 100 + i}, {"method", "textDocument/hover"},
              {"params", {{"textDocument", {{"uri", uri}}}, {"position", {{"line", 5}, {"character", 16}}}}}});
    srv.response_to(100 + i);
    hover.ms.push_back(since(t));
    t = Clock::now();
    srv.send({{"jsonrpc", "2.0"}, {"id", 200 + i}, {"method", "textDocument/completion"},
              {"params", {{"textDocument", {{"uri", uri}}}, {"position", {{"line", 5}, {"character", 16}}}}}});
    srv.response_to(200 + i);
    completion.ms.push_back(since(t));
  }
  hover.print("hover");
  completion.print("completion");
  srv.send({{"jsonrpc", "2.0"}, {"id", 999}, {"method", "shutdown"}});
  srv.response_to(999);
  srv.send({{"jsonrpc", "2.0"}, {"method", "exit"}});
  return 0;
}
