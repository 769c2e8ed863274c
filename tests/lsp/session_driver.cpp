// Runs recorded LSP sessions (see session_driver.hpp).
#include "tests/lsp/session_driver.hpp"

#include <fstream>
#include <optional>
#include <sstream>

#include "egfuse/lsp.hpp"

namespace egfuse::lsp::testing {

using json = nlohmann::json;

namespace {
std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void substitute(json& j, const std::string& dir) {
  if (j.is_string()) {
    std::string s = j;
    if (s.size() > 1 && s[0] == '@') {
      j = read_file(dir + "/" + s.substr(1));
      return;
    }
    for (size_t p; (p = s.find("$DIR")) != std::string::npos;) s.replace(p, 4, dir);
    j = s;
  } else if (j.is_object()) {
    json out = json::object();
    for (auto& [k, v] : j.items()) {
      json key = k, value = v;
      substitute(key, dir);
      substitute(value, dir);
      out[key.get<std::string>()] = std::move(value);
    }
    j = std::move(out);
  } else if (j.is_array()) {
    for (auto& v : j) substitute(v, dir);
  }
}

std::string frame(const json& m) {
  std::string body = m.dump();
  return "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}
}  // namespace

std::vector<json> parse_frames(const std::string& out) {
  std::vector<json> msgs;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t hdr_end = out.find("\r\n\r\n", pos);
    if (hdr_end == std::string::npos) break;
    std::string hdr = out.substr(pos, hdr_end - pos);
    const std::string key = "Content-Length: ";
    if (hdr.rfind(key, 0) != 0) break;
    size_t n = std::stoul(hdr.substr(key.size()));
    msgs.push_back(json::parse(out.substr(hdr_end + 4, n), nullptr, false));
    pos = hdr_end + 4 + n;
  }
  return msgs;
}

std::string mismatch(const json& pattern, const json& actual, const std::string& path) {
  std::string where = path.empty() ? "message" : path;
  if (pattern.is_object() && pattern.size() == 1) {
    // Copy out: items() and its iterator are temporaries.
    const std::string k = pattern.begin().key();
    const json& v = pattern.begin().value();
    if (k == "$any") return "";
    if (k == "$includes") {
      if (actual.is_string() && actual.get<std::string>().find(v.get<std::string>()) != std::string::npos) return "";
      return where + ": expected a string containing " + v.dump() + ", got " + actual.dump();
    }
    if (k == "$contains") {
      if (!actual.is_array()) return where + ": expected an array, got " + actual.dump();
      for (auto& p : v) {
        bool found = false;
        for (auto& a : actual)
          if (mismatch(p, a).empty()) found = true;
        if (!found) return where + ": no element matches " + p.dump() + " in " + actual.dump();
      }
      return "";
    }
  }
  if (pattern.is_object()) {
    if (!actual.is_object()) return where + ": expected an object, got " + actual.dump();
    for (auto& [k, v] : pattern.items()) {
      bool absent = v.is_object() && v.size() == 1 && v.contains("$absent");
      if (absent) {
        if (actual.contains(k)) return where + "." + k + ": expected no such key, got " + actual[k].dump();
        continue;
      }
      if (!actual.contains(k)) return where + "." + k + ": missing in " + actual.dump();
      std::string m = mismatch(v, actual[k], where + "." + k);
      if (!m.empty()) return m;
    }
    return "";
  }
  if (pattern.is_array()) {
    if (!actual.is_array() || actual.size() != pattern.size())
      return where + ": expected an array of " + std::to_string(pattern.size()) + ", got " + actual.dump();
    for (size_t i = 0; i < pattern.size(); ++i) {
      std::string m = mismatch(pattern[i], actual[i], where + "[" + std::to_string(i) + "]");
      if (!m.empty()) return m;
    }
    return "";
  }
  if (pattern != actual) return where + ": expected " + pattern.dump() + ", got " + actual.dump();
  return "";
}

SessionResult run_session(const std::string& session_file, const std::string& dir) {
  SessionResult r;
  std::string input;
  std::vector<json> expects;
  std::optional<int> exit_code;
  std::ifstream in(session_file);
  if (!in) {
    r.failures.push_back("cannot read " + session_file);
    return r;
  }
  int lineno = 0;
  for (std::string line; std::getline(in, line);) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json step = json::parse(line, nullptr, false);
    if (!step.is_object()) {
      r.failures.push_back(session_file + ":" + std::to_string(lineno) + ": not a JSON object");
      continue;
    }
    substitute(step, dir);
    if (step.contains("send")) {
      json m = step["send"];
      m["jsonrpc"] = "2.0";
      input += frame(m);
    } else if (step.contains("send_raw")) {
      input += step["send_raw"].get<std::string>();
    } else if (step.contains("expect")) {
      expects.push_back(step["expect"]);
    } else if (step.contains("exit_code")) {
      exit_code = step["exit_code"].get<int>();
    }
  }
  std::istringstream sin(input);
  std::ostringstream sout;
  LspOptions opt;
  opt.coalesce_changes = false;
  r.exit_code = run_lsp_server(sin, sout, opt);
  r.received = parse_frames(sout.str());
  for (size_t i = 0; i < expects.size(); ++i) {
    if (i >= r.received.size()) {
      r.failures.push_back("expectation " + std::to_string(i + 1) + ": no message received for " + expects[i].dump());
      continue;
    }
    std::string m = mismatch(expects[i], r.received[i]);
    if (!m.empty()) r.failures.push_back("expectation " + std::to_string(i + 1) + ": " + m);
  }
  for (size_t i = expects.size(); i < r.received.size(); ++i)
    r.failures.push_back("unexpected message " + std::to_string(i + 1) + ": " + r.received[i].dump());
  if (exit_code && *exit_code != r.exit_code)
    r.failures.push_back("exit code " + std::to_string(r.exit_code) + ", expected " + std::to_string(*exit_code));
  return r;
}

}  // namespace egfuse::lsp::testing
