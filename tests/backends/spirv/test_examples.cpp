// Every example graph (examples/*.graph) through the Vulkan backend, compared
// with the reference interpreter (interp.hpp: evaluate, compare,
// tolerance_for): as an unfused plan (one kernel per node) and as a fused plan
// (a greedy partition that joins pointwise epilogues, reduction prologues and
// epilogues, template epilogues), in the graph's dtype and with every f32
// value turned into f16.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "egfuse/backend.hpp"
#include "egfuse_config.h"
#include "egfuse/graph_text.hpp"
#include "egfuse/interp.hpp"
#include "egfuse/rule_ast.hpp"
#include "tests/backends/spirv/plans.hpp"

using namespace egfuse;

namespace {

TemplateRegistry standard_registry() {
  TemplateRegistry reg = TemplateRegistry::builtin();
  Diagnostics diags;
  std::vector<std::string> files;
  for (auto& f : rules::standard_rule_files())
    if (std::filesystem::exists(f)) files.push_back(f);
  rules::RuleSet set = rules::load_rules(files, diags);
  set.register_templates(reg, diags);
  return reg;
}

// The graph with every f32 input and constant made `to`; types re-inferred.
Graph with_dtype(const Graph& g, DType to, const TemplateRegistry& reg) {
  Graph h = g;
  for (NodeId n = 0; n < h.size(); ++n) {
    Node& node = h[n];
    if (node.op == Op::input || node.op == Op::constant) {
      if (node.type.dtype == DType::f32) node.type.dtype = to;
      continue;
    }
    if (node.op == Op::extern_) {
      auto& a = std::get<ExternAttrs>(node.attrs);
      if (a.out_dtype == DType::f32) a.out_dtype = to;
    }
    std::string err;
    auto t = infer_type(h, node, reg, err);
    if (!t) throw Error("with_dtype: " + node.name + ": " + err);
    node.type = *t;
  }
  return h;
}

// Greedy fusion: a node joins the group of one of its producers when the
// kernel stays one the backends lower (one template or reduction, outputs at
// its iteration space) and no cycle between kernels can arise.
std::vector<int> greedy_groups(const Graph& g) {
  std::vector<int> group(g.size(), -1);
  std::map<int, std::vector<NodeId>> members;
  auto has = [&](int grp, auto pred) {
    for (NodeId m : members[grp])
      if (pred(g[m])) return true;
    return false;
  };
  auto is_tpl = [](const Node& x) { return x.op == Op::template_ || x.op == Op::extern_; };
  auto is_red = [](const Node& x) { return is_reduction(x.op); };
  for (NodeId n = 0; n < g.size(); ++n) {
    const Node& node = g[n];
    if (node.op == Op::input) continue;
    int chosen = -1;
    if (node.op == Op::mutation_output) {
      chosen = group[node.inputs[0]];
    } else if (is_pointwise(node.op) || is_view(node.op) || is_reduction(node.op)) {
      for (NodeId q : node.inputs) {
        int G = group[q];
        if (G < 0 || g[q].op == Op::constant || g[q].op == Op::mutation_output) continue;
        NodeId first = members[G].front();
        bool ok = true;
        for (NodeId r : node.inputs) {
          int H = group[r];
          if (H < 0 || H == G || g[r].op == Op::constant) continue;
          if (members[H].back() > first) ok = false;  // H might depend on G
        }
        if (has(G, [](const Node& x) { return x.op == Op::extern_; })) ok = false;
        if (is_reduction(node.op)) {
          ok = ok && !has(G, is_tpl) && !has(G, is_red) && g[q].type.numel() == g[node.inputs[0]].type.numel();
        } else if (has(G, is_tpl) || has(G, is_red)) {
          NodeId root = kNoNode;
          for (NodeId m : members[G])
            if (is_tpl(g[m]) || is_red(g[m])) root = m;
          ok = ok && node.type.numel() == g[root].type.numel();
          // Every operand must be computable at the root's iteration space.
          for (NodeId r : node.inputs)
            if (group[r] == G && g[r].type.numel() != g[root].type.numel()) ok = false;
        } else {
          for (NodeId m : members[G]) ok = ok && g[m].type.numel() == node.type.numel();
        }
        if (ok) {
          chosen = G;
          break;
        }
      }
    }
    if (chosen < 0) chosen = int(n);
    group[n] = chosen;
    members[chosen].push_back(n);
  }
  // A constant whose users share one kernel is computed there.
  auto users = g.users();
  for (NodeId n = 0; n < g.size(); ++n) {
    if (g[n].op != Op::constant || users[n].empty() || members[group[n]].size() != 1) continue;
    bool one = true;
    for (NodeId u : users[n]) one = one && group[u] == group[users[n][0]];
    if (one) group[n] = group[users[n][0]];
  }
  return group;
}

}  // namespace

TEST_CASE("every example graph, unfused and fused, f32 and f16, matches the interpreter") {
  auto backend = make_vulkan_backend();
  std::string why;
  if (!backend->available(why)) {
    std::cout << "skipped: no Vulkan device: " << why << "\n";
    std::exit(77);
  }
  TemplateRegistry reg = standard_registry();
  std::vector<std::filesystem::path> files;
  for (auto& e : std::filesystem::directory_iterator(std::filesystem::path(EGFUSE_SOURCE_ROOT) / "examples"))
    if (e.path().extension() == ".graph") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 5);
  int graphs_with_fusion = 0;
  for (auto& f : files) {
    Diagnostics diags;
    auto parsed = load_graph(f.string(), reg, diags);
    INFO(f.filename().string() << "\n" << diags.render());
    REQUIRE(parsed);
    for (int variant = 0; variant < 2; ++variant) {
      Graph g = variant == 0 ? *parsed : with_dtype(*parsed, DType::f16, reg);
      for (int fused = 0; fused < 2; ++fused) {
        Plan p = fused ? testing::partition_plan(g, greedy_groups(g)) : testing::split_plan(g, reg);
        auto inputs = random_inputs(g, 7, reg);
        auto ref_inputs = inputs, dev_inputs = inputs;
        auto want = evaluate(g, ref_inputs, reg);
        RunResult got;
        std::string names;
        for (auto& k : p.kernels) names += " " + k.name;
        INFO((variant ? "f16 " : "as written ") << (fused ? "fused" : "unfused") << ", kernels:" << names);
        REQUIRE_NOTHROW(got = backend->run(p, dev_inputs, reg, RunOptions{}));
        size_t unfused_kernels = testing::split_plan(g, reg).kernels.size();
        if (fused) CHECK(p.kernels.size() <= unfused_kernels);
        if (fused && variant == 0 && p.kernels.size() < unfused_kernels) ++graphs_with_fusion;
        for (auto& [name, ref] : want) {
          auto c = compare(got.outputs.at(name), ref, tolerance_for(ref.type.dtype));
          INFO("output " << name << ": max abs " << c.max_abs << ", max rel " << c.max_rel);
          CHECK(c.ok);
        }
        for (NodeId n : g.inputs())
          if (std::get<InputAttrs>(g[n].attrs).is_mutable) {
            const std::string& name = g[n].name;
            auto c = compare(dev_inputs.at(name), ref_inputs.at(name), tolerance_for(g[n].type.dtype));
            INFO("mutated input " << name << ": max abs " << c.max_abs);
            CHECK(c.ok);
          }
      }
    }
  }
  CHECK(graphs_with_fusion >= int(files.size()) / 2);  // the fused plans really fuse
}
