// The rule-file language server: framing, documents, the lexical index,
// recorded stdio sessions (tests/lsp/sessions), robustness against malformed
// input, and the editor package's JSON files.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "egfuse/lsp.hpp"
#include "egfuse/rule_ast.hpp"
#include "engine/lsp/documents.hpp"
#include "engine/lsp/index.hpp"
#include "engine/lsp/jsonrpc.hpp"
#include "tests/lsp/session_driver.hpp"

namespace fs = std::filesystem;
using namespace egfuse::lsp;
using nlohmann::json;

namespace {
std::string source_root() {
  const char* r = std::getenv("EGFUSE_SOURCE_ROOT");
  return r ? r : ".";
}
std::string framed(const std::string& body) { return "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body; }
std::string framed(const json& j) { return framed(j.dump()); }
json req(int id, const std::string& method, json params = json::object()) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
}
json note(const std::string& method, json params = json::object()) {
  return {{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}
struct Run {
  int code;
  std::vector<json> out;
};
Run serve(const std::string& input) {
  std::istringstream in(input);
  std::ostringstream out;
  LspOptions opt;
  opt.coalesce_changes = false;
  int code = run_lsp_server(in, out, opt);
  return {code, testing::parse_frames(out.str())};
}
json read_json(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  return json::parse(in);
}
}  // namespace

TEST_CASE("framing: messages, stray blank lines, other headers, resynchronisation", "[lsp][jsonrpc]") {
  std::string input = "\r\n" + framed(std::string("{\"a\":1}")) + "Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"b\":2}" +
                      "Content-Length: zz\r\n\r\n{\"c\":3}" + framed(std::string("{\"d\":4}")) + "content-length: 7\n\n{\"e\":5}";
  std::istringstream in(input);
  FrameReader r(in);
  Frame f = r.read();
  REQUIRE(f.status == Frame::Status::ok);
  CHECK(f.body == "{\"a\":1}");
  f = r.read();
  REQUIRE(f.status == Frame::Status::ok);
  CHECK(f.body == "{\"b\":2}");
  f = r.read();
  REQUIRE(f.status == Frame::Status::bad_header);
  CHECK(f.error.find("zz") != std::string::npos);
  f = r.read();  // skipped the unframed body, found the next header
  REQUIRE(f.status == Frame::Status::ok);
  CHECK(f.body == "{\"d\":4}");
  f = r.read();
  REQUIRE(f.status == Frame::Status::ok);
  CHECK(f.body == "{\"e\":5}");
  CHECK(r.read().status == Frame::Status::eof);
}

TEST_CASE("framing: missing, huge and truncated lengths", "[lsp][jsonrpc]") {
  std::istringstream in("X-Other: 1\r\n\r\nContent-Length: 99999999999\r\n\r\nContent-Length: 100\r\n\r\n{}");
  FrameReader r(in);
  Frame f = r.read();
  CHECK(f.status == Frame::Status::bad_header);
  CHECK(f.error == "missing Content-Length header");
  f = r.read();
  CHECK(f.status == Frame::Status::bad_header);
  CHECK(f.error.find("exceeds the limit") != std::string::npos);
  CHECK(r.read().status == Frame::Status::eof);  // 100 bytes announced, 2 present
}

TEST_CASE("documents: UTF-16 positions and incremental edits", "[lsp][documents]") {
  DocumentStore store;
  // "é" is 2 bytes / 1 unit; "𝔸" is 4 bytes / 2 units.
  TextDocument& d = store.open("file:///tmp/a%20b.rules", "ab\nxé𝔸y\n", 1);
  CHECK(d.path == "/tmp/a b.rules");
  CHECK(utf16_length("é𝔸") == 3);
  CHECK(d.lines.offset(d.text, {1, 0}) == 3);
  CHECK(d.lines.offset(d.text, {1, 2}) == 6);
  CHECK(d.lines.offset(d.text, {1, 4}) == 10);
  CHECK(d.lines.offset(d.text, {1, 99}) == 11);  // clamped to the line's end
  CHECK(d.lines.offset(d.text, {9, 0}) == d.text.size());
  CHECK(d.lines.position(d.text, 10) == Position{1, 4});
  d.apply_change(Range{{1, 2}, {1, 4}}, "Z");  // replaces the 𝔸
  CHECK(d.text == "ab\nxéZy\n");
  d.apply_change(Range{{0, 1}, {1, 1}}, "");
  CHECK(d.text == "aéZy\n");
  d.apply_change(std::nullopt, "new");
  CHECK(d.text == "new");
  CHECK(d.lines.line_count() == 1);
  CHECK(path_to_uri("/tmp/a b.rules") == "file:///tmp/a%20b.rules");
  CHECK(uri_to_path(path_to_uri("/x/y-z_1.rules")) == "/x/y-z_1.rules");
}

TEST_CASE("index: declarations, uses and pattern variables", "[lsp][index]") {
  std::string text =
      "op add(a: T, b: T) -> T pointwise\n"
      "op twice(x: T) -> T = add(?x, ?x)\n"
      "ruleset fusion {\n"
      "  rule add-zero: add(?x, 0) => ?x if pointwise(?x) and dtype(?x) == f32\n"
      "}\n"
      "ruleset all {\n  use add-zero, fusion\n}\n"
      "schedule main {\n  phase p1: ruleset all, iters 10\n}\n";
  FileIndex fx = index_file(text, {});
  auto count = [&](SymKind k, const std::string& n, bool decl_only = false) {
    return std::count_if(fx.occurrences.begin(), fx.occurrences.end(),
                         [&](const Occurrence& o) { return o.kind == k && o.name == n && (!decl_only || o.decl); });
  };
  CHECK(count(SymKind::callee, "add") == 3);
  CHECK(count(SymKind::callee, "add", true) == 1);
  CHECK(count(SymKind::rule, "add-zero") == 2);
  CHECK(count(SymKind::ruleset, "fusion") == 2);
  CHECK(count(SymKind::ruleset, "all") == 2);
  CHECK(count(SymKind::schedule, "main") == 1);
  CHECK(count(SymKind::guard, "pointwise") == 1);
  CHECK(count(SymKind::guard, "dtype") == 1);
  CHECK(count(SymKind::callee, "f32") == 0);  // a dtype literal, not an op
  CHECK(count(SymKind::var, "x") == 7);       // 3 in `twice` (param + 2 uses), 4 in the rule
  CHECK(count(SymKind::var, "x", true) == 2);
  size_t rule_pos = text.find("add-zero");
  const Occurrence* o = fx.occurrence_at(rule_pos + 3);
  REQUIRE(o);
  CHECK(o->kind == SymKind::rule);
  CHECK(o->decl);
  REQUIRE(fx.items.size() == 11);
  CHECK(fx.items[3].kind == Item::Kind::rule);
  CHECK(fx.items[3].parent == 2);
  CHECK(fx.items[3].guard != SIZE_MAX);
}

TEST_CASE("index: every guard function listed is one the checker knows", "[lsp][index]") {
  for (auto& g : guard_functions()) {
    egfuse::Diagnostics diags;
    std::string text = "op f(x: T) -> T pointwise\nrule r: f(?x) => ?x if " + g.name + "(?x)\n";
    egfuse::rules::load_rules_from_text("guard.rules", text, diags);
    INFO(g.name << "\n" << diags.render());
    for (auto& d : diags.all()) CHECK(d.code != "E-unknown-guard");
  }
}

TEST_CASE("recorded sessions", "[lsp][sessions]") {
  std::string dir = source_root() + "/tests/lsp/sessions";
  std::vector<fs::path> files;
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".jsonl") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 3);
  for (auto& f : files) {
    DYNAMIC_SECTION(f.filename().string()) {
      testing::SessionResult r = testing::run_session(f.string(), dir);
      if (std::getenv("EGFUSE_LSP_RECORD"))
        for (auto& m : r.received) std::cout << m.dump() << "\n";
      std::string all;
      for (auto& s : r.failures) all += s + "\n";
      INFO(all);
      CHECK(r.failures.empty());
    }
  }
}

TEST_CASE("malformed input never crashes the server", "[lsp][robustness]") {
  std::string init = framed(req(1, "initialize", {{"capabilities", json::object()}}));
  std::string open = framed(note("textDocument/didOpen",
                                 {{"textDocument",
                                   {{"uri", "file:///tmp/x.rules"}, {"version", 1}, {"text", "op f(x) -> T\nrule r: f(?x) => ?x\n"}}}}));
  std::string hover = framed(req(2, "textDocument/hover", {{"textDocument", {{"uri", "file:///tmp/x.rules"}}},
                                                           {"position", {{"line", 1}, {"character", 9}}}}));
  std::string session = init + open + hover + framed(req(3, "shutdown")) + framed(note("exit"));
  SECTION("the whole session works") {
    Run r = serve(session);
    CHECK(r.code == 0);
    CHECK(r.out.size() == 4);  // initialize, diagnostics, hover, shutdown
  }
  SECTION("every truncation ends cleanly") {
    for (size_t n = 0; n < session.size(); n += 7) {
      Run r = serve(session.substr(0, n));
      CHECK(r.code == 1);  // no exit notification
    }
  }
  SECTION("random bytes and random corruptions get answers or nothing, never a crash") {
    std::mt19937 rng(12345);
    for (int round = 0; round < 200; ++round) {
      std::string s = session;
      int edits = 1 + int(rng() % 8);
      for (int e = 0; e < edits; ++e) s[rng() % s.size()] = char(rng() % 256);
      Run r = serve(s);
      for (auto& m : r.out) {
        CHECK(m.is_object());
        CHECK(m.value("jsonrpc", "") == "2.0");
      }
    }
  }
  SECTION("wrong parameter types give invalid-params errors") {
    std::string bad = init + open +
                      framed(req(2, "textDocument/hover", {{"textDocument", {{"uri", 5}}}, {"position", "x"}})) +
                      framed(req(3, "textDocument/completion", {{"textDocument", {{"uri", "file:///tmp/x.rules"}}},
                                                                 {"position", {{"line", -1}, {"character", 1e9}}}})) +
                      framed(req(4, "textDocument/rename", {{"textDocument", {{"uri", "file:///tmp/x.rules"}}},
                                                             {"position", {{"line", 1}, {"character", 5}}}}));
    Run r = serve(bad);
    REQUIRE(r.out.size() == 5);
    CHECK(r.out[2]["error"]["code"] == kInvalidParams);
    CHECK(r.out[3].contains("result"));  // out-of-range positions are clamped
    CHECK(r.out[4]["error"]["code"] == kInvalidParams);  // newName missing
  }
}

TEST_CASE("coalesced changes: one analysis after the last of several queued edits", "[lsp][server]") {
  std::string uri = "file:///tmp/c.rules";
  std::string in = framed(req(1, "initialize")) + framed(note("initialized")) +
                   framed(note("textDocument/didOpen", {{"textDocument", {{"uri", uri}, {"version", 1}, {"text", ""}}}}));
  for (int v = 2; v <= 6; ++v)
    in += framed(note("textDocument/didChange",
                      {{"textDocument", {{"uri", uri}, {"version", v}}},
                       {"contentChanges", {{{"text", "op f(x) -> T\n// edit " + std::to_string(v) + "\n"}}}}}));
  std::istringstream sin(in);
  std::ostringstream sout;
  LspOptions opt;  // coalescing on: the string stream has every edit buffered
  run_lsp_server(sin, sout, opt);
  auto out = testing::parse_frames(sout.str());
  REQUIRE(out.size() == 3);  // initialize result, diagnostics after open, one after the edits
  CHECK(out[2]["method"] == "textDocument/publishDiagnostics");
  CHECK(out[2]["params"]["version"] == 6);
}

TEST_CASE("editor package: valid JSON, consistent language and grammar", "[lsp][editors]") {
  std::string vs = source_root() + "/tools/editors/vscode";
  json pkg = read_json(vs + "/package.json");
  json lang = pkg["contributes"]["languages"][0];
  json gram = pkg["contributes"]["grammars"][0];
  CHECK(lang["id"] == gram["language"]);
  CHECK(lang["extensions"][0] == ".rules");
  CHECK(pkg["main"] == "./extension.js");
  CHECK_FALSE(pkg.contains("dependencies"));  // usable from source: nothing to install
  CHECK(fs::exists(vs + "/" + pkg["main"].get<std::string>()));
  json conf = read_json(vs + "/" + lang["configuration"].get<std::string>());
  CHECK(conf["comments"]["lineComment"] == "//");
  json tm = read_json(vs + "/" + gram["path"].get<std::string>());
  CHECK(tm["scopeName"] == gram["scopeName"]);
  // Every pattern the grammar includes is defined in its repository.
  std::function<void(const json&)> walk = [&](const json& j) {
    if (j.is_object()) {
      if (j.contains("include")) {
        std::string inc = j["include"];
        REQUIRE(inc.size() > 1);
        CHECK(tm["repository"].contains(inc.substr(1)));
      }
      for (auto& [k, v] : j.items()) walk(v);
    } else if (j.is_array()) {
      for (auto& v : j) walk(v);
    }
  };
  walk(tm);
  // Every keyword of the language is highlighted.
  std::string dump = tm.dump();
  for (auto& k : rule_keywords()) CHECK(dump.find(k) != std::string::npos);
}
