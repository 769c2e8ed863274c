// Kernel plan: names, sizes, traffic, and the readable / JSON forms
// (docs/kernel-plan.md describes both).
#include <cstdio>
#include <sstream>

#include "egfuse/plan.hpp"
#include "egfuse/templates.hpp"

namespace egfuse {

std::string_view role_name(BufferRole r) {
  switch (r) {
    case BufferRole::input: return "input";
    case BufferRole::output: return "output";
    case BufferRole::temp: return "temp";
    case BufferRole::alias: return "alias";
  }
  return "?";
}

std::string_view kernel_kind_name(KernelKind k) {
  switch (k) {
    case KernelKind::pointwise: return "pointwise";
    case KernelKind::reduction: return "reduction";
    case KernelKind::template_: return "template";
    case KernelKind::extern_: return "extern";
  }
  return "?";
}

int64_t PlanBuffer::bytes() const { return type.numel() * dtype_bytes(type.dtype); }

int64_t Plan::bytes_moved() const {
  int64_t total = 0;
  for (auto& k : kernels) {
    for (int b : k.reads) total += buffers[size_t(b)].bytes();
    for (int b : k.writes) total += buffers[size_t(b)].bytes();
  }
  return total;
}

namespace {

std::string op_text(const Node& n) {
  std::string s;
  if (n.op == Op::template_) s = std::get<TemplateAttrs>(n.attrs).kind;
  else if (n.op == Op::extern_) s = "extern:" + std::get<ExternAttrs>(n.attrs).kernel;
  else s = std::string(op_name(n.op));
  if (n.op != Op::template_ && n.op != Op::extern_ && n.op != Op::input) s += print_attrs(n.attrs);
  if (n.op == Op::extern_ && !std::get<ExternAttrs>(n.attrs).mutates.empty())
    s += "{mutates=" + shape_string(std::get<ExternAttrs>(n.attrs).mutates) + "}";
  return s;
}

std::string body_line(const Graph& g, const Node& n) {
  std::string s = n.name + " = " + op_text(n) + "(";
  for (size_t i = 0; i < n.inputs.size(); ++i) s += (i ? ", " : "") + g[n.inputs[i]].name;
  return s + ") : " + to_string(n.type);
}

std::string json_str(std::string_view v) {
  std::string out = "\"";
  for (char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string json_ints(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}
std::string json_ints(const std::vector<int>& v) { return json_ints(std::vector<int64_t>(v.begin(), v.end())); }

std::string json_strs(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + json_str(v[i]);
  return s + "]";
}

std::string json_type(const TensorType& t) {
  std::string s = "{\"dtype\":" + json_str(dtype_name(t.dtype)) + ",\"shape\":" + json_ints(t.shape);
  if (!t.strides.empty()) s += ",\"strides\":" + json_ints(t.strides);
  if (t.offset) s += ",\"offset\":" + std::to_string(t.offset);
  return s + "}";
}

std::string fmt_cost(double c) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", c);
  return buf;
}

}  // namespace

std::string Plan::to_text() const {
  std::ostringstream o;
  o << "plan " << graph_name << ": " << kernels.size() << " kernel" << (kernels.size() == 1 ? "" : "s") << ", "
    << buffers.size() << " buffers, " << bytes_moved() << " bytes moved\n";
  o << "buffers:\n";
  for (size_t i = 0; i < buffers.size(); ++i) {
    auto& b = buffers[i];
    o << "  b" << i << " " << b.name << ": " << to_string(b.type) << " " << role_name(b.role);
    if (b.role == BufferRole::alias) o << " of b" << b.alias_of;
    if (b.is_mutable_input) o << " mutable";
    o << " storage s" << b.storage << " live " << b.first_use << ".." << b.last_use;
    if (!b.graph_node.empty() && b.graph_node != b.name) o << " node " << b.graph_node;
    o << "\n";
  }
  o << "kernels:\n";
  for (auto& k : kernels) {
    o << "  " << k.name << " (" << kernel_kind_name(k.kind) << ", cost " << fmt_cost(k.cost) << ")";
    o << " reads";
    for (int b : k.reads) o << " b" << b;
    o << " writes";
    for (int b : k.writes) o << " b" << b;
    o << "\n";
    for (NodeId i = 0; i < k.body.size(); ++i)
      if (k.body[i].op != Op::input) o << "    " << body_line(k.body, k.body[i]) << "\n";
    if (!k.rules.empty()) {
      o << "    rules:";
      for (auto& r : k.rules) o << " " << r << ";";
      o << "\n";
    }
  }
  o << "inputs:";
  for (int b : inputs) o << " b" << b;
  o << "\noutputs:";
  for (auto& [n, b] : outputs) o << " " << n << "=b" << b;
  o << "\n";
  return o.str();
}

std::string Plan::to_json() const {
  std::ostringstream o;
  o << "{\"graph\":" << json_str(graph_name) << ",\"bytes_moved\":" << bytes_moved() << ",\"buffers\":[";
  for (size_t i = 0; i < buffers.size(); ++i) {
    auto& b = buffers[i];
    o << (i ? "," : "") << "{\"id\":" << i << ",\"name\":" << json_str(b.name) << ",\"type\":" << json_type(b.type)
      << ",\"role\":" << json_str(role_name(b.role)) << ",\"alias_of\":" << b.alias_of << ",\"storage\":" << b.storage
      << ",\"first_use\":" << b.first_use << ",\"last_use\":" << b.last_use << ",\"bytes\":" << b.bytes()
      << ",\"graph_node\":" << json_str(b.graph_node) << ",\"mutable\":" << (b.is_mutable_input ? "true" : "false")
      << "}";
  }
  o << "],\"kernels\":[";
  for (size_t i = 0; i < kernels.size(); ++i) {
    auto& k = kernels[i];
    o << (i ? "," : "") << "{\"name\":" << json_str(k.name) << ",\"kind\":" << json_str(kernel_kind_name(k.kind))
      << ",\"reads\":" << json_ints(k.reads) << ",\"writes\":" << json_ints(k.writes)
      << ",\"nodes\":" << json_strs(k.nodes) << ",\"rules\":" << json_strs(k.rules) << ",\"cost\":" << fmt_cost(k.cost)
      << ",\"body\":[";
    bool first = true;
    for (NodeId n = 0; n < k.body.size(); ++n) {
      auto& node = k.body[n];
      std::vector<std::string> ins;
      for (NodeId x : node.inputs) ins.push_back(k.body[x].name);
      o << (first ? "" : ",") << "{\"name\":" << json_str(node.name) << ",\"op\":" << json_str(op_text(node))
        << ",\"inputs\":" << json_strs(ins) << ",\"type\":" << json_type(node.type) << "}";
      first = false;
    }
    o << "],\"outputs\":[";
    for (size_t j = 0; j < k.body.outputs.size(); ++j) o << (j ? "," : "") << json_str(k.body.outputs[j].name);
    o << "]}";
  }
  o << "],\"inputs\":" << json_ints(inputs) << ",\"outputs\":{";
  for (size_t i = 0; i < outputs.size(); ++i) o << (i ? "," : "") << json_str(outputs[i].first) << ":" << outputs[i].second;
  o << "}}\n";
  return o.str();
}

}  // namespace egfuse
