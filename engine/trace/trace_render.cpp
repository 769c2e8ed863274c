// Pictures of a trace (Graphviz DOT, SVG through `dot`) and the
// self-contained HTML report.
#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unistd.h>

#include "egfuse/diagnostics.hpp"
#include "egfuse/trace_query.hpp"

namespace egfuse::trace {
namespace {

std::string dot_id(const std::string& s) {
  std::string out = "\"";
  for (char c : s) out += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
  return out + "\"";
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

struct GraphNode {
  std::string name, op;
  std::vector<std::string> inputs;
};

std::vector<GraphNode> graph_nodes(const TraceFile& t) {
  std::vector<GraphNode> out;
  for (auto& e : t.events())
    if (e.kind == "graph-node") out.push_back({t.str(e, "name"), t.str(e, "op"), t.str_list(e, "inputs")});
  return out;
}

}  // namespace

std::string dot_input_graph(const TraceFile& t) {
  std::ostringstream os;
  os << "digraph input {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n";
  for (auto& n : graph_nodes(t)) {
    os << "  " << dot_id(n.name) << " [label=" << dot_id(n.name + " = " + n.op) << "];\n";
    for (auto& i : n.inputs) os << "  " << dot_id(i) << " -> " << dot_id(n.name) << ";\n";
  }
  os << "}\n";
  return os.str();
}

std::string dot_plan(const TraceFile& t) {
  std::ostringstream os;
  os << "digraph plan {\n  rankdir=TB; compound=true;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n";
  std::set<std::string> in_kernel;
  int k = 0;
  for (auto& e : t.events()) {
    if (e.kind != "kernel-formed") continue;
    os << "  subgraph cluster_k" << k++ << " {\n    label=" << dot_id(t.str(e, "kernel") + " (" + t.str(e, "kind") + ")")
       << "; style=rounded; color=blue;\n";
    for (auto& n : t.str_list(e, "nodes")) {
      os << "    " << dot_id(n) << ";\n";
      in_kernel.insert(n);
    }
    os << "  }\n";
  }
  for (auto& n : graph_nodes(t)) {
    if (!in_kernel.count(n.name)) os << "  " << dot_id(n.name) << " [shape=ellipse, color=gray];\n";
    for (auto& i : n.inputs) os << "  " << dot_id(i) << " -> " << dot_id(n.name) << ";\n";
  }
  os << "}\n";
  return os.str();
}

std::string dot_egraph(const TraceFile& t, size_t max_nodes) {
  // e-nodes from `add` events, grouped by their final class (unions replayed);
  // classes chosen by extraction are highlighted.
  std::map<int64_t, int64_t> parent;
  auto find = [&](int64_t x) {
    while (parent.count(x) && parent[x] != x) x = parent[x];
    return x;
  };
  std::vector<std::pair<int64_t, std::string>> nodes;
  std::set<int64_t> chosen;
  for (auto& e : t.events()) {
    if (e.kind == "add" && nodes.size() < max_nodes) nodes.push_back({t.num(e, "id"), t.str(e, "op")});
    if (e.kind == "union") {
      int64_t a = find(t.num(e, "a")), b = find(t.num(e, "b"));
      if (a != b) parent[std::max(a, b)] = std::min(a, b);
    }
    if (e.kind == "extract") chosen.insert(t.num(e, "class"));
  }
  // A compile trace records the plan as kernel-formed events: highlight the
  // e-classes of the graph nodes its kernels compute (through `term` events).
  std::set<std::string> planned;
  for (auto& e : t.events())
    if (e.kind == "kernel-formed")
      for (auto& n : t.str_list(e, "nodes")) planned.insert(n);
  for (auto& e : t.events())
    if (e.kind == "term" && planned.count(t.str(e, "node"))) chosen.insert(t.num(e, "class"));
  std::map<int64_t, std::vector<std::pair<int64_t, std::string>>> by_class;
  for (auto& n : nodes) by_class[find(n.first)].push_back(n);
  std::set<int64_t> chosen_roots;
  for (auto c : chosen) chosen_roots.insert(find(c));
  std::ostringstream os;
  os << "digraph egraph {\n  node [shape=box, fontname=\"monospace\", fontsize=9];\n";
  for (auto& [cls, ns] : by_class) {
    bool hl = chosen_roots.count(cls);
    os << "  subgraph cluster_c" << cls << " {\n    label=\"class " << cls << "\"; style=dashed;"
       << (hl ? " color=red; penwidth=2;" : "") << "\n";
    for (auto& [id, op] : ns)
      os << "    n" << id << " [label=" << dot_id(op) << (hl ? ", color=red" : "") << "];\n";
    os << "  }\n";
  }
  if (nodes.size() >= max_nodes) os << "  more [label=\"(first " << max_nodes << " e-nodes shown)\", shape=plaintext];\n";
  os << "}\n";
  return os.str();
}

std::string dot_to_svg(const std::string& dot) {
  char in_path[] = "/tmp/egfuse-dot-XXXXXX";
  int fd = mkstemp(in_path);
  if (fd < 0) throw Error("cannot create a temporary file for Graphviz");
  if (::write(fd, dot.data(), dot.size()) != ssize_t(dot.size())) {
    ::close(fd);
    ::unlink(in_path);
    throw Error("cannot write a temporary file for Graphviz");
  }
  ::close(fd);
  std::string cmd = std::string("dot -Tsvg ") + in_path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) {
    ::unlink(in_path);
    throw Error("cannot run Graphviz 'dot'");
  }
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int rc = pclose(p);
  ::unlink(in_path);
  if (rc != 0) throw Error("Graphviz 'dot -Tsvg' failed (is the graphviz package installed?): " + out.substr(0, 300));
  auto svg = out.find("<svg");
  return svg == std::string::npos ? out : out.substr(svg);
}

std::string html_report(const TraceFile& t) {
  std::ostringstream os;
  os << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>egfuse trace: "
     << html_escape(t.path()) << "</title>\n<style>\n"
     << "body{font-family:sans-serif;margin:2em;max-width:1400px}pre{background:#f6f6f6;padding:1em;overflow:auto}\n"
     << "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}\n"
     << "th{background:#eee}.pic{overflow:auto;border:1px solid #ddd;margin:1em 0}nav a{margin-right:1em}\n"
     << "</style></head><body>\n<h1>egfuse trace report</h1>\n<nav><a href=\"#summary\">summary</a>"
     << "<a href=\"#rules\">rules</a><a href=\"#kernels\">kernels</a><a href=\"#pictures\">pictures</a></nav>\n";
  os << "<h2 id=\"summary\">Summary</h2>\n<pre>" << html_escape(summary(t)) << "</pre>\n";

  os << "<h2 id=\"rules\">Rules</h2>\n<table id=\"rules-table\"><tr><th>rule</th><th>location</th><th>matches</th>"
     << "<th>applied</th><th>guard failures</th></tr>\n";
  {
    std::map<std::string, std::array<int64_t, 3>> st;
    std::map<std::string, std::string> loc;
    for (auto& e : t.events()) {
      if (e.kind != "match" && e.kind != "apply" && e.kind != "guard_fail") continue;
      std::string r = t.str(e, "rule");
      loc[r] = t.str(e, "loc");
      auto& s = st[r];
      if (e.kind == "match") ++s[0];
      if (e.kind == "apply" && t.boolean(e, "changed")) ++s[1];
      if (e.kind == "guard_fail") ++s[2];
    }
    for (auto& [r, s] : st)
      os << "<tr id=\"rule-" << html_escape(r) << "\"><td>" << html_escape(r) << "</td><td>" << html_escape(loc[r])
         << "</td><td>" << s[0] << "</td><td>" << s[1] << "</td><td>" << s[2] << "</td></tr>\n";
  }
  os << "</table>\n";

  os << "<h2 id=\"kernels\">Kernels and their rewrite chains</h2>\n<table id=\"kernels-table\"><tr><th>kernel</th>"
     << "<th>kind</th><th>nodes</th><th>rules</th></tr>\n";
  for (auto& e : t.events()) {
    if (e.kind != "kernel-formed") continue;
    std::string kname = t.str(e, "kernel");
    os << "<tr id=\"kernel-" << html_escape(kname) << "\"><td>" << html_escape(kname) << "</td><td>"
       << html_escape(t.str(e, "kind")) << "</td><td>";
    for (auto& n : t.str_list(e, "nodes")) os << html_escape(n) << " ";
    os << "</td><td>";
    for (auto& r : t.str_list(e, "rules")) {
      std::string name = r.substr(0, r.find(" @"));
      os << "<a href=\"#rule-" << html_escape(name) << "\">" << html_escape(r) << "</a><br>";
    }
    os << "</td></tr>\n";
  }
  os << "</table>\n";

  os << "<h2 id=\"pictures\">Pictures</h2>\n";
  auto pic = [&](const char* title, const std::string& id, const std::string& dot) {
    os << "<h3>" << title << "</h3>\n<div class=\"pic\" id=\"" << id << "\">";
    try {
      os << dot_to_svg(dot);
    } catch (const Error& ex) {
      os << "<pre>" << html_escape(ex.what()) << "</pre>";
    }
    os << "</div>\n";
  };
  pic("Input graph", "pic-input", dot_input_graph(t));
  pic("Kernel plan", "pic-plan", dot_plan(t));
  pic("E-graph (extraction's choices in red)", "pic-egraph", dot_egraph(t));
  os << "</body></html>\n";
  return os.str();
}

}  // namespace egfuse::trace
