// Tests of the rule-language front end: the malformed files of errors/ (each
// with its expected diagnostics beside it), formatter goldens in fmt/, the
// standard library, and the AST the consumers rely on.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "egfuse/rule_ast.hpp"
#include "egfuse/templates.hpp"
#include "egfuse_config.h"

namespace fs = std::filesystem;
using namespace egfuse;
using namespace egfuse::rules;

namespace {

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path source_root() {
  const char* r = std::getenv("EGFUSE_SOURCE_ROOT");
  return r ? fs::path(r) : fs::path(EGFUSE_SOURCE_ROOT);
}

std::string base(const SourceSpan& s) {
  return s.file ? fs::path(s.file->path).filename().string() : std::string("<unknown>");
}

// One line per diagnostic and per note: "file:line:col: severity: message [code]".
std::string summary(const Diagnostics& diags) {
  std::string out;
  for (auto& d : diags.all()) {
    const char* sev = d.severity == Severity::error ? "error" : d.severity == Severity::warning ? "warning" : "note";
    out += base(d.span) + ":" + std::to_string(d.span.line) + ":" + std::to_string(d.span.col) + ": " + sev + ": " +
           d.message + " [" + d.code + "]\n";
    for (auto& [s, m] : d.notes)
      out += "  " + base(s) + ":" + std::to_string(s.line) + ":" + std::to_string(s.col) + ": note: " + m + "\n";
  }
  return out;
}

std::vector<fs::path> files_in(const fs::path& dir, const std::string& ext) {
  std::vector<fs::path> out;
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ext) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

RuleSet load_text(const std::string& text, Diagnostics& diags, const std::string& name = "test.rules") {
  return load_rules_from_text(name, text, diags);
}

}  // namespace

TEST_CASE("malformed rule files give their expected diagnostics", "[rules][errors]") {
  fs::path dir = source_root() / "tests/rules/errors";
  auto cases = files_in(dir, ".rules");
  REQUIRE(cases.size() >= 40);
  bool regen = std::getenv("EGFUSE_REGEN_EXPECTED") != nullptr;
  for (auto& path : cases) {
    DYNAMIC_SECTION(path.filename().string()) {
      Diagnostics diags;
      // The name is the bare file name, so includes resolve in the standard library.
      load_rules_from_text(path.filename().string(), read(path), diags);
      diags.sort();
      std::string got = summary(diags);
      fs::path expected_path = path;
      expected_path.replace_extension(".expected");
      if (regen) std::ofstream(expected_path, std::ios::binary) << got;
      INFO(diags.render());
      REQUIRE(fs::exists(expected_path));
      CHECK(got == read(expected_path));
      // Every case is there to be rejected or warned about.
      CHECK(!diags.all().empty());
      // Positions are real: every diagnostic names a line of the file.
      for (auto& d : diags.all()) CHECK(d.span.line >= 1);
    }
  }
}

TEST_CASE("formatter goldens and idempotence", "[rules][fmt]") {
  fs::path dir = source_root() / "tests/rules/fmt";
  auto cases = files_in(dir, ".rules");
  REQUIRE(cases.size() >= 3);
  bool regen = std::getenv("EGFUSE_REGEN_EXPECTED") != nullptr;
  for (auto& path : cases) {
    DYNAMIC_SECTION(path.filename().string()) {
      Diagnostics diags;
      auto out = format_rules(path.filename().string(), read(path), diags);
      INFO(diags.render());
      REQUIRE(out);
      fs::path golden = path;
      golden.replace_extension(".formatted");
      if (regen) std::ofstream(golden, std::ios::binary) << *out;
      CHECK(*out == read(golden));
      auto again = format_rules(path.filename().string(), *out, diags);
      REQUIRE(again);
      CHECK(*again == *out);
    }
  }
}

TEST_CASE("the formatter keeps comments and reports syntax errors", "[rules][fmt]") {
  Diagnostics diags;
  std::string src = "op   f(x)   // trailing\n\n\n// own line\nop g(x)\n";
  auto out = format_rules("t.rules", src, diags);
  REQUIRE(out);
  CHECK(*out == "op f(x) // trailing\n\n// own line\nop g(x)\n");
  // Comments inside a rule written over several lines.
  std::string multi = "op f(x)\nrule a: f(\n  // inner\n  ?x) => ?x // t1\n  if is_const(?x) // t2\n";
  auto m = format_rules("t.rules", multi, diags);
  REQUIRE(m);
  CHECK(*m == "op f(x)\nrule a: (f ?x) => ?x // t1\n  // inner\n  if is_const(?x) // t2\n");
  CHECK(format_rules("t.rules", *m, diags) == m);
  CHECK_FALSE(format_rules("t.rules", "rule r: (", diags));
  CHECK(diags.has_errors());
}

TEST_CASE("the standard library checks clean and is formatted", "[rules][stdlib]") {
  auto files = standard_rule_files();
  REQUIRE(files.size() == 5);
  Diagnostics diags;
  RuleSet rs = load_rules(files, diags);
  INFO(diags.render());
  CHECK(diags.all().empty());
  for (auto& f : files) {
    Diagnostics d2;
    std::string text = read(f);
    auto out = format_rules(f, text, d2);
    REQUIRE(out);
    CHECK(*out == text);
  }
  for (const char* f : {"tests/rules/fixtures/math.rules", "tests/rules/fixtures/prop.rules"}) {
    Diagnostics d3;
    std::string text = read(source_root() / f);
    load_rules_from_text((source_root() / f).string(), text, d3);
    INFO(d3.render());
    CHECK(d3.all().empty());
    auto out = format_rules(f, text, d3);
    REQUIRE(out);
    CHECK(*out == text);
  }
  // The pieces the engine relies on.
  REQUIRE(rs.find_op("buf"));
  REQUIRE(rs.find_op("mutation_output"));
  REQUIRE(rs.find_op("gelu"));
  CHECK(rs.find_op("gelu")->definition.has_value());
  CHECK(rs.find_op("add")->primitive());
  REQUIRE(rs.find_ruleset("fusion"));
  CHECK(rs.find_ruleset("fusion")->rules.size() >= 4);
  const Rule* epi = rs.find_rule("template-epilogue-0");
  REQUIRE(epi);
  CHECK(epi->ruleset == "fusion");
  CHECK_FALSE(epi->doc.empty());
  CHECK(epi->location().find("fusion.rules:") != std::string::npos);
  CHECK(to_string(epi->lhs) == "?p(buf(?t), ?ys...)");
}

TEST_CASE("declared templates register, including mutating ones", "[rules][templates]") {
  Diagnostics diags;
  RuleSet rs = load_rules({standard_rules_dir() + "/templates.rules"}, diags);
  REQUIRE_FALSE(diags.has_errors());
  TemplateRegistry reg;
  rs.register_templates(reg, diags);
  INFO(diags.render());
  CHECK_FALSE(diags.has_errors());
  const TemplateKind* kv = reg.find("kv_cache_update");
  REQUIRE(kv);
  CHECK(kv->impl == "index_copy");
  CHECK(kv->mutated_inputs() == std::vector<int64_t>{0});
  CHECK(kv->prologue_inputs() == std::vector<int64_t>{2});
  CHECK_FALSE(kv->epilogue);
  CHECK(kv->inputs[1].dtype == DType::i64);
  const TemplateKind* pair = reg.find("kv_cache_update_pair");
  REQUIRE(pair);
  CHECK(pair->mutated_inputs() == std::vector<int64_t>{0, 1});
  const TemplateKind* mm = reg.find("mm");
  REQUIRE(mm);
  CHECK(mm->flops->str() == "2*M*N*K");
  // A declaration contradicting a registered kind is reported.
  Diagnostics d2;
  RuleSet other = load_text("template mm(a: [M, K], b: [K, N]) -> [M, N]\n  impl addmm\n", d2);
  other.register_templates(reg, d2);
  CHECK(d2.has_errors());
}

TEST_CASE("patterns, guards and styles", "[rules][ast]") {
  Diagnostics diags;
  RuleSet rs = load_text(R"(
include "ops.rules"
op + (a, b) commutative
op f(a, b)
/// Doc line one.
/// Doc line two.
rule r1: (+ ?a (f ?b 2.50)) => +(?b, ?a)
rule r2: sum{axes=[1], keepdim=true}(?x) => ?x
  if rank(?x) >= 2 and not (is_const(?x) or dtype(?x) == f16)
rule r3: f(?a, ?b) <=> f(?b, ?a)
rule r4: f(?a, ?b) <=> f(?a, 0)
schedule s {
  phase one: ruleset all, iter 20, nodes 100000, time 500ms, scheduler backoff, match_limit 7, ban_length 3
}
)",
                        diags);
  INFO(diags.render());
  REQUIRE_FALSE(diags.has_errors());
  const Rule* r1 = rs.find_rule("r1");
  REQUIRE(r1);
  CHECK(r1->doc == "Doc line one.\nDoc line two.");
  CHECK(to_string(r1->lhs) == "(+ ?a (f ?b 2.5))");
  CHECK(to_string(r1->rhs) == "(+ ?b ?a)");
  CHECK(r1->lhs.args[1].args[1].kind == Pattern::Kind::number);
  CHECK(r1->lhs.args[1].args[1].number == 2.5);
  CHECK(r1->span.line == 7);
  const Rule* r2 = rs.find_rule("r2");
  REQUIRE(r2);
  CHECK(r2->lhs.attrs.size() == 2);
  CHECK(r2->lhs.attrs[0] == std::make_pair(std::string("axes"), std::string("[1]")));
  REQUIRE(r2->guard);
  CHECK(r2->guard->kind == Guard::Kind::and_);
  CHECK(to_string(*r2->guard) == "rank(?x) >= 2 and not (is_const(?x) or dtype(?x) == f16)");
  CHECK(r2->guard->kids[0].kind == Guard::Kind::compare);
  CHECK(r2->guard->kids[0].kids[1].literal == "2");
  CHECK_FALSE(rs.find_rule("r3")->reverse_unbound);
  CHECK(rs.find_rule("r4")->reverse_unbound);
  const Schedule* s = rs.find_schedule("s");
  REQUIRE(s);
  REQUIRE(s->phases.size() == 1);
  CHECK(s->phases[0].ruleset == "all");
  CHECK(*s->phases[0].iter_limit == 20);
  CHECK(*s->phases[0].node_limit == 100000);
  CHECK(*s->phases[0].time_limit_s == Approx(0.5));
  CHECK(s->phases[0].scheduler == "backoff");
  CHECK(*s->phases[0].match_limit == 7);
  CHECK(*s->phases[0].ban_length == 3);
}

TEST_CASE("rulesets reopen, use other rulesets, and fixtures load", "[rules][ruleset]") {
  Diagnostics diags;
  RuleSet rs = load_text(R"(
include "ops.rules"
ruleset a {
  rule x1: neg(neg(?x)) => ?x
}
ruleset b {
  use a
  rule x2: abs(abs(?x)) => abs(?x)
}
ruleset a {
  rule x3: relu(relu(?x)) => relu(?x)
}
)",
                         diags);
  INFO(diags.render());
  REQUIRE_FALSE(diags.has_errors());
  CHECK(rs.find_ruleset("a")->rules == std::vector<std::string>{"x1", "x3"});
  CHECK(rs.find_ruleset("b")->rules == std::vector<std::string>{"x1", "x3", "x2"});

  Diagnostics d2;
  RuleSet math = load_rules({(source_root() / "tests/rules/fixtures/math.rules").string()}, d2);
  CHECK(math.rules.size() == 36);
  CHECK(math.find_rule("d-power"));
  CHECK(math.find_rule("comm-add")->lhs.sexpr);
}

TEST_CASE("all errors of a file are reported, not only the first", "[rules][errors]") {
  Diagnostics diags;
  load_text("include \"ops.rules\"\nrule a: neg(?x => ?x\nrule b: neg(?y) => ?z\nrule c: exp(?x) ?x\nrule d: foo(?x) => ?x\n",
            diags);
  CHECK(diags.error_count() == 4);
  std::string json = diags.render_json();
  CHECK(std::count(json.begin(), json.end(), '\n') == 4);
  CHECK(json.find("\"line\":2") != std::string::npos);
  CHECK(json.find("\"line\":5") != std::string::npos);
}

TEST_CASE("garbage input never crashes", "[rules][robust]") {
  const char* inputs[] = {"", "\n\n", "(((((", "rule", "rule r: ?", "op", "template t(", "}", "{", "rule r: a => b if ((",
                          "schedule s { phase", "\"", "op f(x...", "rule r: f{a=[1,}(x) => x", "///"};
  for (const char* in : inputs) {
    Diagnostics d;
    load_text(in, d);
    format_rules("t.rules", in, d);
    SUCCEED();
  }
}
