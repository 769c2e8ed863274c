// The trace debugger on traces of real compiles of the example graphs, and on
// broken traces.
#include <catch2/catch.hpp>

#include <sstream>

#include "egfuse/fusion.hpp"
#include "egfuse/graph_text.hpp"
#include "egfuse/rule_ast.hpp"
#include "egfuse/templates.hpp"
#include "egfuse/trace.hpp"
#include "egfuse/trace_query.hpp"

using namespace egfuse;

namespace {
std::string root() {
  const char* r = std::getenv("EGFUSE_SOURCE_ROOT");
  return r ? r : ".";
}

// Compiles an example graph with the standard rules, minus `drop` if given, and returns its trace.
trace::TraceFile compile_trace(const std::string& example, const std::string& drop = "",
                               const std::string& text = "") {
  Diagnostics d;
  auto rs = rules::load_rules(rules::standard_rule_files(), d);
  REQUIRE_FALSE(d.has_errors());
  if (!drop.empty()) {
    rs.rules.erase(std::remove_if(rs.rules.begin(), rs.rules.end(), [&](auto& r) { return r.name.rfind(drop, 0) == 0; }),
                   rs.rules.end());
    for (auto& set : rs.rulesets)
      set.rules.erase(std::remove_if(set.rules.begin(), set.rules.end(), [&](auto& n) { return n.rfind(drop, 0) == 0; }), set.rules.end());
  }
  TemplateRegistry reg;
  rs.register_templates(reg, d);
  auto g = text.empty() ? load_graph(root() + "/examples/" + example, reg, d) : parse_graph(example, text, reg, d);
  REQUIRE(g);
  std::ostringstream out;
  {
    eg::Trace tr(out, eg::TraceOptions{.timing = true});
    CompileOptions opts;
    opts.trace = &tr;
    auto res = compile_graph(*g, rs, reg, opts, d);
    REQUIRE(res.ok);
  }
  return trace::TraceFile::from_text(example + (drop.empty() ? "" : "-" + drop) + ".jsonl", out.str());
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("summary and rules on the MLP example") {
  auto t = compile_trace("mlp.graph");
  auto s = trace::summary(t);
  INFO(s);
  CHECK(has(s, "saturation: "));
  CHECK((has(s, "saturated") || has(s, "iteration limit")));
  CHECK(has(s, "kernels formed: 1"));
  auto r = trace::rules_table(t);
  INFO(r);
  CHECK(has(r, "template-epilogue-0 @ "));
  CHECK(has(r, "fusion.rules:"));
  CHECK(has(r, "search time "));
  CHECK(has(s, " ms searching"));
  CHECK(has(trace::rules_json(t), "\"rule\":\"template-epilogue-0\""));
}

TEST_CASE("why names the kernel and the rule that formed it") {
  auto t = compile_trace("mlp.graph");
  auto w = trace::why(t, "y");
  INFO(w);
  CHECK(has(w, "y is computed in kernel"));
  CHECK(has(w, "t, y0, y"));
  CHECK(has(w, "template-epilogue-0 @ "));
  CHECK_THROWS_WITH(trace::why(t, "nosuchnode"), Catch::Contains("no node named 'nosuchnode'"));
}

TEST_CASE("why-not a prologue that reads the mutated buffer names the mutation hazard") {
  // src reads the cache that kv_cache_update overwrites: fusing it as the
  // template's prologue would read rows mid-update (Inductor's prologue hazard).
  auto t = compile_trace("hazard.graph", "",
                         "graph g {\n  input mutable cache: f32[8, 16]\n  input idx: i64[2]\n"
                         "  head = slice(cache) {dim=0, start=0, end=2}\n  src = neg(head)\n"
                         "  w = kv_cache_update(cache, idx, src)\n  c2 = mutation_output(w) : f32[8, 16]\n"
                         "  output c2\n}\n");
  auto w = trace::why_not(t, "template-prologue", "w");
  INFO(w);
  CHECK(has(w, "rule template-prologue @ "));
  // The rewrite itself is refused by the mutation guard (not only by extraction).
  CHECK(has(w, "template-prologue-2: guard not reads_mutated_by(?q, ?t)"));
  CHECK(has(w, "?t=op kv_cache_update (holds)"));
  CHECK(has(w, "extraction kept src -> w apart (template-prologue): the rules keep this read materialized"));
  auto e = trace::why_not(t, "template-epilogue", "c2");
  CHECK(has(e, "rule template-epilogue"));
}

TEST_CASE("diff after disabling one rule names the rule and the kernels that changed") {
  auto a = compile_trace("mlp.graph");
  auto b = compile_trace("mlp.graph", "template-epilogue");
  auto d = trace::diff(a, b);
  INFO(d);
  CHECK(has(d, "template-epilogue-0: "));
  CHECK(has(d, "(only in the first run)"));
  CHECK(has(d, "kernels: 1 -> "));
  CHECK(has(d, "- k"));
}

TEST_CASE("step and explain") {
  auto t = compile_trace("mlp.graph");
  auto s = trace::step(t, 0);
  CHECK(has(s, "iteration 0"));
  CHECK_THROWS_WITH(trace::step(t, 999), Catch::Contains("iteration 999 does not occur"));
  auto e = trace::explain(t, "y", "y");
  CHECK(has(e, "in 0 step(s)"));
}

TEST_CASE("pictures have the kernels as clusters") {
  auto t = compile_trace("gated_mlp.graph");
  auto plan = trace::dot_plan(t);
  CHECK(has(plan, "subgraph cluster_k0"));
  CHECK(has(trace::dot_input_graph(t), "->"));
  CHECK(has(trace::dot_egraph(t), "cluster_c"));
  CHECK(has(trace::dot_egraph(t), "color=red"));  // the classes the plan computes
}

TEST_CASE("broken traces are refused with the line") {
  CHECK_THROWS_WITH(trace::TraceFile::from_text("t.jsonl", "garbage\n"),
                    Catch::StartsWith("t.jsonl:1: expected a JSON object"));
  CHECK_THROWS_WITH(trace::TraceFile::from_text("t.jsonl", "{\"ev\":\"iteration\"}\n"),
                    Catch::Contains("t.jsonl:1: not an egfuse trace"));
  CHECK_THROWS_WITH(
      trace::TraceFile::from_text("t.jsonl", "{\"ev\":\"header\",\"schema\":\"egfuse-trace\",\"version\":7}\n"),
      Catch::Contains("version 7 is not supported (this egfuse reads version 1)"));
  std::string good = "{\"ev\":\"header\",\"schema\":\"egfuse-trace\",\"version\":1}\n";
  CHECK_THROWS_WITH(trace::TraceFile::from_text("t.jsonl", good + "{\"ev\":\"apply\",\"rule\":\"x\",\"cl"),
                    Catch::Contains("t.jsonl:2: ") && Catch::Contains("truncated"));
  CHECK_THROWS_WITH(trace::TraceFile::from_text("t.jsonl", good + "{\"ev\":\"apply\" \"rule\":1}\n"),
                    Catch::Contains("t.jsonl:2: expected ',' or '}'"));
  CHECK_THROWS_WITH(trace::TraceFile::from_text("t.jsonl", good + "{\"rule\":1}\n"),
                    Catch::Contains("t.jsonl:2: event has no \"ev\" kind"));
  CHECK_THROWS_WITH(trace::TraceFile::from_text("t.jsonl", ""), Catch::Contains("empty trace"));
}
