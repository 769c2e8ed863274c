// The case-file parser: expectations, blocks with positions kept, and errors.
#include <catch2/catch.hpp>

#include "egfuse/conform.hpp"

using namespace egfuse;

static std::optional<conform::Case> parse(const std::string& text, Diagnostics& d) {
  return conform::parse_case(make_source("t.case", text), d);
}

TEST_CASE("a case with a graph block and expectations") {
  Diagnostics d;
  auto c = parse("# doc line\ncase a/b\noption multi-output off\ngraph g {\n  input x: f32[4]\n  y = exp(x) {}\n  output y\n}\n"
                 "expect kernels <= 2\nexpect same-kernel x y\nexpect numeric interp vulkan tol 1e-3 1e-3\n",
                 d);
  REQUIRE(c);
  CHECK(c->name == "a/b");
  CHECK(c->doc == "doc line\n");
  CHECK(c->use_standard);
  REQUIRE(c->expects.size() == 3);
  CHECK(c->expects[0].op == "<=");
  CHECK(c->expects[0].args == std::vector<std::string>{"2"});
  CHECK(c->expects[2].args == std::vector<std::string>{"interp", "vulkan", "tol", "1e-3", "1e-3"});
  // the graph block keeps its line numbers: line 4 holds "graph g {"
  REQUIRE(c->graph_text);
  auto g = make_source("t.case", *c->graph_text);
  CHECK(g->line(4) == "graph g {");
  CHECK(g->line(2).empty());
  CHECK(c->options == std::vector<std::pair<std::string, std::string>>{{"multi-output", "off"}});
}

TEST_CASE("terms stay whole") {
  Diagnostics d;
  auto c = parse("case t\nexpect equal (+ a (* b c)) (+ (* c b) a)\n", d);
  REQUIRE(c);
  CHECK(c->terms_only());
  CHECK(c->expects[0].args == std::vector<std::string>{"(+ a (* b c))", "(+ (* c b) a)"});
}

TEST_CASE("errors carry line and column") {
  Diagnostics d;
  CHECK_FALSE(parse("case x\nexpect kernals 1\nexpect kernels many\nfrobnicate\ngraph g {\n  input x: f32[4]\n", d));
  REQUIRE(d.error_count() == 4);
  CHECK(d.all()[0].span.line == 2);
  CHECK(d.all()[0].span.col == 8);
  CHECK(d.all()[0].message.rfind("unknown expectation 'kernals'", 0) == 0);
  CHECK(d.all()[1].message == "expected a kernel count, got 'many'");
  CHECK(d.all()[2].message.rfind("unknown keyword 'frobnicate'", 0) == 0);
  CHECK(d.all()[3].message == "the graph block opened here is never closed: expected '}'");
  CHECK(d.all()[3].span.line == 5);
}

TEST_CASE("a case needs an expectation") {
  Diagnostics d;
  CHECK_FALSE(parse("case x\n", d));
  CHECK(d.all().at(0).code == "E-case-empty");
}

TEST_CASE("JUnit XML lists failures and skips") {
  conform::CaseResult ok{"a", "dir/a.case", conform::CaseResult::Status::passed, {}, "", 0.5};
  conform::CaseResult bad{"b<x>", "dir/b.case", conform::CaseResult::Status::failed, {"expected 1 kernel, got 2"}, "", 0.1};
  conform::CaseResult skip{"c", "dir/c.case", conform::CaseResult::Status::skipped, {}, "cuda: no GPU", 0};
  auto xml = conform::junit_xml({ok, bad, skip});
  CHECK(xml.find("tests=\"3\" failures=\"1\" skipped=\"1\"") != std::string::npos);
  CHECK(xml.find("name=\"b&lt;x&gt;\"") != std::string::npos);
  CHECK(xml.find("<failure message=\"expected 1 kernel, got 2\">") != std::string::npos);
  CHECK(xml.find("<skipped message=\"cuda: no GPU\"/>") != std::string::npos);
}
