// The ExportedProgram JSON (torch/_export/serde/schema.py) -> pt2::Program.
// Every access checks the JSON shape and names the path of a problem, e.g.
// "graph_module.graph.nodes[12].inputs[0].arg: expected an object".
#include <nlohmann/json.hpp>

#include "pt2_program.hpp"

namespace egfuse::pt2 {

using json = nlohmann::json;

namespace {

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw FormatError("E-pt2-schema", path + ": " + what);
}

const json& field(const json& j, const char* key, const std::string& path) {
  if (!j.is_object()) bad(path, "expected an object");
  auto it = j.find(key);
  if (it == j.end()) bad(path, std::string("missing field '") + key + "'");
  return *it;
}
const json* opt_field(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}
int64_t as_int(const json& j, const std::string& path) {
  if (!j.is_number_integer()) bad(path, "expected an integer");
  return j.get<int64_t>();
}
double as_num(const json& j, const std::string& path) {
  if (!j.is_number()) bad(path, "expected a number");
  return j.get<double>();
}
std::string as_str(const json& j, const std::string& path) {
  if (!j.is_string()) bad(path, "expected a string");
  return j.get<std::string>();
}
const json& as_array(const json& j, const std::string& path) {
  if (!j.is_array()) bad(path, "expected an array");
  return j;
}
// SymInt {"as_int": n}; symbolic sizes are refused (static shapes only).
int64_t sym_int(const json& j, const std::string& path) {
  if (auto* v = opt_field(j, "as_int")) return as_int(*v, path + ".as_int");
  if (j.is_object() && j.contains("as_expr"))
    throw FormatError("E-pt2-dynamic", path + ": symbolic size (dynamic shape); only static shapes are supported: "
                                              "export without dynamic_shapes");
  bad(path, "expected a SymInt ({\"as_int\": N})");
}

TensorMeta parse_meta(const json& j, const std::string& path) {
  TensorMeta m;
  m.scalar_type = int(as_int(field(j, "dtype", path), path + ".dtype"));
  auto& sizes = as_array(field(j, "sizes", path), path + ".sizes");
  for (size_t i = 0; i < sizes.size(); ++i) m.sizes.push_back(sym_int(sizes[i], path + ".sizes[" + std::to_string(i) + "]"));
  if (auto* st = opt_field(j, "strides")) {
    as_array(*st, path + ".strides");
    for (size_t i = 0; i < st->size(); ++i) m.strides.push_back(sym_int((*st)[i], path + ".strides[" + std::to_string(i) + "]"));
  }
  if (auto* so = opt_field(j, "storage_offset")) m.storage_offset = sym_int(*so, path + ".storage_offset");
  if (int64_t(m.sizes.size()) > kMaxRank)
    throw FormatError("E-pt2-rank", path + ": rank " + std::to_string(m.sizes.size()) + " exceeds egfuse's maximum of " +
                                        std::to_string(kMaxRank));
  for (auto d : m.sizes)
    if (d < 0) bad(path, "negative size");
  return m;
}

Graph parse_graph(const json& j, const std::string& path);

std::string tensor_name(const json& j, const std::string& path) {
  return as_str(field(j, "name", path), path + ".name");
}

Arg parse_arg(const json& j, const std::string& path) {
  Arg a;
  if (!j.is_object() || j.size() != 1) bad(path, "expected an Argument: an object with one field");
  auto it = j.begin();
  a.raw = it.key();
  const json& v = it.value();
  const std::string p = path + "." + a.raw;
  const std::string& k = a.raw;
  using K = Arg::Kind;
  if (k == "as_none") a.kind = K::none;
  else if (k == "as_tensor") { a.kind = K::tensor; a.name = tensor_name(v, p); }
  else if (k == "as_tensors") {
    a.kind = K::tensors;
    as_array(v, p);
    for (size_t i = 0; i < v.size(); ++i) a.names.push_back(tensor_name(v[i], p + "[" + std::to_string(i) + "]"));
  } else if (k == "as_optional_tensors") {
    a.kind = K::opt_tensors;
    as_array(v, p);
    for (size_t i = 0; i < v.size(); ++i) {
      const std::string pi = p + "[" + std::to_string(i) + "]";
      if (auto* t = opt_field(v[i], "as_tensor")) a.names.push_back(tensor_name(*t, pi + ".as_tensor"));
      else if (v[i].is_object() && v[i].contains("as_none")) a.names.push_back("");
      else bad(pi, "expected {\"as_tensor\": ...} or {\"as_none\": ...}");
    }
  } else if (k == "as_int") { a.kind = K::int_; a.i = as_int(v, p); }
  else if (k == "as_ints") {
    a.kind = K::ints;
    as_array(v, p);
    for (size_t i = 0; i < v.size(); ++i) a.ints.push_back(as_int(v[i], p + "[" + std::to_string(i) + "]"));
  } else if (k == "as_float") { a.kind = K::float_; a.f = as_num(v, p); }
  else if (k == "as_floats") {
    a.kind = K::floats;
    as_array(v, p);
    for (size_t i = 0; i < v.size(); ++i) a.floats.push_back(as_num(v[i], p + "[" + std::to_string(i) + "]"));
  } else if (k == "as_bool") {
    if (!v.is_boolean()) bad(p, "expected a boolean");
    a.kind = K::bool_; a.b = v.get<bool>();
  } else if (k == "as_bools") {
    a.kind = K::bools;
    as_array(v, p);
    for (auto& e : v) {
      if (!e.is_boolean()) bad(p, "expected booleans");
      a.ints.push_back(e.get<bool>());
    }
  } else if (k == "as_string") { a.kind = K::string; a.s = as_str(v, p); }
  else if (k == "as_strings") {
    a.kind = K::strings;
    as_array(v, p);
    for (size_t i = 0; i < v.size(); ++i) a.strings.push_back(as_str(v[i], p));
  } else if (k == "as_scalar_type") { a.kind = K::scalar_type; a.i = as_int(v, p); }
  else if (k == "as_layout") { a.kind = K::layout; a.i = as_int(v, p); }
  else if (k == "as_memory_format") { a.kind = K::memory_format; a.i = as_int(v, p); }
  else if (k == "as_device") a.kind = K::device;
  else if (k == "as_graph") {
    a.kind = K::graph;
    a.name = as_str(field(v, "name", p), p + ".name");
    a.graph = std::make_shared<Graph>(parse_graph(field(v, "graph", p), p + ".graph"));
  } else if (k == "as_sym_int") {
    a.kind = K::sym_int;
    if (auto* n = opt_field(v, "as_name")) a.name = as_str(*n, p + ".as_name");
    else if (auto* i = opt_field(v, "as_int")) { a.kind = K::int_; a.i = as_int(*i, p + ".as_int"); }
    else bad(p, "expected as_name or as_int");
  } else {
    a.kind = K::other;  // custom objects, sym floats/bools, ...: kept by name, refused where used
  }
  return a;
}

Graph parse_graph(const json& j, const std::string& path) {
  Graph g;
  auto& ins = as_array(field(j, "inputs", path), path + ".inputs");
  for (size_t i = 0; i < ins.size(); ++i) g.inputs.push_back(parse_arg(ins[i], path + ".inputs[" + std::to_string(i) + "]"));
  auto& outs = as_array(field(j, "outputs", path), path + ".outputs");
  for (size_t i = 0; i < outs.size(); ++i)
    g.outputs.push_back(parse_arg(outs[i], path + ".outputs[" + std::to_string(i) + "]"));
  auto& tv = field(j, "tensor_values", path);
  if (!tv.is_object()) bad(path + ".tensor_values", "expected an object");
  for (auto it = tv.begin(); it != tv.end(); ++it)
    g.tensor_values[it.key()] = parse_meta(it.value(), path + ".tensor_values." + it.key());
  auto& nodes = as_array(field(j, "nodes", path), path + ".nodes");
  for (size_t n = 0; n < nodes.size(); ++n) {
    const std::string p = path + ".nodes[" + std::to_string(n) + "]";
    Node node;
    node.target = as_str(field(nodes[n], "target", p), p + ".target");
    auto& in = as_array(field(nodes[n], "inputs", p), p + ".inputs");
    for (size_t i = 0; i < in.size(); ++i) {
      const std::string pi = p + ".inputs[" + std::to_string(i) + "]";
      NamedArg na;
      if (auto* nm = opt_field(in[i], "name")) na.name = as_str(*nm, pi + ".name");
      na.arg = parse_arg(field(in[i], "arg", pi), pi + ".arg");
      if (auto* kd = opt_field(in[i], "kind")) na.kind = int(as_int(*kd, pi + ".kind"));
      node.inputs.push_back(std::move(na));
    }
    auto& out = as_array(field(nodes[n], "outputs", p), p + ".outputs");
    for (size_t i = 0; i < out.size(); ++i) node.outputs.push_back(parse_arg(out[i], p + ".outputs[" + std::to_string(i) + "]"));
    if (auto* nm = opt_field(nodes[n], "name"); nm && nm->is_string()) node.name = nm->get<std::string>();
    if (auto* md = opt_field(nodes[n], "metadata"))
      if (auto* st = opt_field(*md, "stack_trace"); st && st->is_string()) {
        std::string s = st->get<std::string>();
        // keep the last "File ..., line N" frame: the model code that made the node
        size_t at = s.rfind("File \"");
        if (at != std::string::npos) s = s.substr(at);
        size_t nl = s.find('\n');
        node.stack_trace = s.substr(0, nl);
      }
    g.nodes.push_back(std::move(node));
  }
  return g;
}

}  // namespace

std::string_view arg_kind_name(Arg::Kind k) {
  static const char* names[] = {"none", "tensor", "tensor list", "optional tensor list", "int", "int list", "float",
                                "float list", "bool", "bool list", "string", "string list", "scalar type", "layout",
                                "memory format", "device", "graph", "symbolic int", "other"};
  return names[int(k)];
}

Program parse_program(std::string_view text) {
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    throw FormatError("E-pt2-json", std::string("invalid JSON: ") + e.what());
  }
  Program p;
  try {
    auto& sv = field(j, "schema_version", "model.json");
    p.schema_major = int(as_int(field(sv, "major", "schema_version"), "schema_version.major"));
    p.schema_minor = int(as_int(field(sv, "minor", "schema_version"), "schema_version.minor"));
    if (auto* tv = opt_field(j, "torch_version"); tv && tv->is_string()) p.torch_version = tv->get<std::string>();
    // Version check before the rest: another major version may be laid out differently.
    bool ok = false;
    for (int m : supported_pt2_schema_majors()) ok = ok || m == p.schema_major;
    if (!ok) {
      std::string sup;
      for (int m : supported_pt2_schema_majors()) sup += (sup.empty() ? "" : ", ") + std::to_string(m) + ".x";
      throw FormatError("E-pt2-version", "serialization schema version " + std::to_string(p.schema_major) + "." +
                                             std::to_string(p.schema_minor) +
                                             (p.torch_version.empty() ? "" : " (torch " + p.torch_version + ")") +
                                             " is not supported; supported: " + sup + " (torch 2.11 writes 8.17)");
    }
    auto& gm = field(j, "graph_module", "model.json");
    p.graph = parse_graph(field(gm, "graph", "graph_module"), "graph_module.graph");
    auto& sig = field(gm, "signature", "graph_module");
    auto& ins = as_array(field(sig, "input_specs", "signature"), "signature.input_specs");
    for (size_t i = 0; i < ins.size(); ++i) {
      const std::string pi = "signature.input_specs[" + std::to_string(i) + "]";
      if (!ins[i].is_object() || ins[i].size() != 1) bad(pi, "expected an object with one field");
      InputSpec s;
      const std::string kind = ins[i].begin().key();
      const json& v = ins[i].begin().value();
      using K = InputSpec::Kind;
      auto arg_name = [&](const json& a, const std::string& pa) {
        if (auto* t = opt_field(a, "as_tensor")) return tensor_name(*t, pa + ".as_tensor");
        return tensor_name(a, pa);
      };
      if (kind == "parameter") {
        s.kind = K::parameter;
        s.arg = arg_name(field(v, "arg", pi), pi + ".arg");
        s.target = as_str(field(v, "parameter_name", pi), pi + ".parameter_name");
      } else if (kind == "buffer") {
        s.kind = K::buffer;
        s.arg = arg_name(field(v, "arg", pi), pi + ".arg");
        s.target = as_str(field(v, "buffer_name", pi), pi + ".buffer_name");
        if (auto* ps = opt_field(v, "persistent"); ps && ps->is_boolean()) s.persistent = ps->get<bool>();
      } else if (kind == "tensor_constant") {
        s.kind = K::constant_tensor;
        s.arg = arg_name(field(v, "arg", pi), pi + ".arg");
        s.target = as_str(field(v, "tensor_constant_name", pi), pi + ".tensor_constant_name");
      } else if (kind == "user_input") {
        s.kind = K::user_input;
        const json& a = field(v, "arg", pi);
        if (auto* t = opt_field(a, "as_tensor")) s.arg = tensor_name(*t, pi + ".arg.as_tensor");
        else s.kind = K::other;  // a non-tensor user input (int, float, None): constant-specialized by export
      } else if (kind == "token") {
        s.kind = K::token;
      } else if (kind == "custom_obj") {
        s.kind = K::custom_obj;
        s.arg = arg_name(field(v, "arg", pi), pi + ".arg");
      }
      p.input_specs.push_back(s);
    }
    auto& outs = as_array(field(sig, "output_specs", "signature"), "signature.output_specs");
    for (size_t i = 0; i < outs.size(); ++i) {
      const std::string pi = "signature.output_specs[" + std::to_string(i) + "]";
      if (!outs[i].is_object() || outs[i].size() != 1) bad(pi, "expected an object with one field");
      OutputSpec s;
      const std::string kind = outs[i].begin().key();
      const json& v = outs[i].begin().value();
      const json& a = field(v, "arg", pi);
      if (auto* t = opt_field(a, "as_tensor")) s.arg = tensor_name(*t, pi + ".arg.as_tensor");
      else if (a.is_object() && a.contains("name")) s.arg = tensor_name(a, pi + ".arg");
      using K = OutputSpec::Kind;
      if (kind == "user_output") s.kind = K::user_output;
      else if (kind == "loss_output") s.kind = K::loss_output;
      else if (kind == "buffer_mutation") {
        s.kind = K::buffer_mutation;
        s.target = as_str(field(v, "buffer_name", pi), pi + ".buffer_name");
      } else if (kind == "user_input_mutation") {
        s.kind = K::user_input_mutation;
        s.target = as_str(field(v, "user_input_name", pi), pi + ".user_input_name");
      }
      p.output_specs.push_back(s);
    }
  } catch (const json::exception& e) {
    throw FormatError("E-pt2-schema", std::string("unexpected JSON content: ") + e.what());
  }
  return p;
}

std::map<std::string, StoredTensor> parse_tensor_config(std::string_view text, const std::string& what) {
  std::map<std::string, StoredTensor> out;
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    throw FormatError("E-pt2-json", what + ": invalid JSON: " + e.what());
  }
  const json& cfg = field(j, "config", what);
  if (!cfg.is_object()) bad(what + ".config", "expected an object");
  for (auto it = cfg.begin(); it != cfg.end(); ++it) {
    const std::string p = what + ".config." + it.key();
    StoredTensor s;
    s.path_name = as_str(field(it.value(), "path_name", p), p + ".path_name");
    if (auto* up = opt_field(it.value(), "use_pickle"); up && up->is_boolean()) s.use_pickle = up->get<bool>();
    s.meta = parse_meta(field(it.value(), "tensor_meta", p), p + ".tensor_meta");
    out[it.key()] = s;
  }
  return out;
}

}  // namespace egfuse::pt2
