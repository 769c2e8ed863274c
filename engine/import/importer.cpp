// import_pt2: opens the archive, checks its format and schema version, reads
// the program and weights, and hands them to the lowering (aten_ops.cpp).
#include <fstream>

#include "egfuse/import.hpp"
#include "egfuse/templates.hpp"
#include "pt2_program.hpp"

namespace egfuse {

std::vector<int> supported_pt2_schema_majors() { return {8}; }

bool is_pt2_path(const std::string& path) {
  if (path.size() >= 4 && path.compare(path.size() - 4, 4, ".pt2") == 0) return true;
  std::ifstream f(path, std::ios::binary);
  char sig[4] = {};
  if (!f.read(sig, 4) || std::string(sig, 4) != std::string("PK\x03\x04", 4)) return false;
  try {
    pt2::ZipArchive z(path);
    for (auto& n : z.names())
      if (n.size() >= 15 && n.compare(n.size() - 15, 15, "/archive_format") == 0) return true;
  } catch (const Error&) {
  }
  return false;
}

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

void report(Diagnostics& diags, const std::string& file, const pt2::FormatError& e) {
  std::string msg = e.what();
  if (msg.rfind(file, 0) != 0) msg = file + ": " + msg;
  diags.error({}, e.code, msg);
}

}  // namespace

ImportedProgram import_pt2_json(std::string_view json_text, const std::string& name, const TemplateRegistry& reg,
                                Diagnostics& diags) {
  ImportedProgram out;
  try {
    pt2::Program p = pt2::parse_program(json_text);
    out.torch_version = p.torch_version;
    out.schema_major = p.schema_major, out.schema_minor = p.schema_minor;
    pt2::lower_program(p, [](const pt2::InputSpec&) { return std::optional<Tensor>(); }, reg, out, diags);
  } catch (const pt2::FormatError& e) {
    report(diags, name, e);
  } catch (const Error& e) {  // the IR builder refused a node: the archive is inconsistent
    diags.error({}, "E-pt2-graph", name + ": " + e.what());
  }
  return out;
}

ImportedProgram import_pt2(const std::string& path, const TemplateRegistry& reg, Diagnostics& diags) {
  ImportedProgram out;
  try {
    pt2::ZipArchive zip(path);
    // torch 2.11 writes <name>/models/model.json beside <name>/data/{weights,constants}/.
    std::string model;
    for (auto& n : zip.names()) {
      const std::string suffix = "models/model.json";
      if (n.size() >= suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0) {
        model = n;
        break;
      }
    }
    if (model.empty()) {
      for (auto& n : zip.names())
        if (n.find("serialized_exported_program.json") != std::string::npos)
          throw pt2::FormatError("E-pt2-version", path + ": an older .pt2 layout (serialized_exported_program.json "
                                                         "with pickled weights) is not supported; re-export with "
                                                         "torch >= 2.6 (torch 2.11 writes models/model.json)");
      throw pt2::FormatError("E-pt2-layout", path + ": not a torch.export archive: no entry models/model.json");
    }
    std::string prefix = model.substr(0, model.size() - std::string("models/model.json").size());
    if (zip.has(prefix + "archive_format")) {
      std::string fmt = trim(zip.read(prefix + "archive_format"));
      if (fmt != "pt2") throw pt2::FormatError("E-pt2-layout", path + ": archive_format is '" + fmt + "', expected 'pt2'");
    }
    if (zip.has(prefix + "byteorder")) {
      std::string bo = trim(zip.read(prefix + "byteorder"));
      if (bo != "little") throw pt2::FormatError("E-pt2-layout", path + ": byteorder '" + bo + "' is not supported");
    }
    pt2::Program p;
    try {
      p = pt2::parse_program(zip.read(model));
    } catch (const pt2::FormatError& e) {
      throw pt2::FormatError(e.code, path + ": " + model + ": " + e.what());
    }
    out.torch_version = p.torch_version;
    out.schema_major = p.schema_major, out.schema_minor = p.schema_minor;

    std::map<std::string, pt2::StoredTensor> weights, constants;
    if (zip.has(prefix + "data/weights/model_weights_config.json"))
      weights = pt2::parse_tensor_config(zip.read(prefix + "data/weights/model_weights_config.json"),
                                         "model_weights_config.json");
    if (zip.has(prefix + "data/constants/model_constants_config.json"))
      constants = pt2::parse_tensor_config(zip.read(prefix + "data/constants/model_constants_config.json"),
                                           "model_constants_config.json");
    std::map<std::string, std::string> file_cache;  // tied weights share one file
    auto loader = [&](const pt2::InputSpec& s) -> std::optional<Tensor> {
      const pt2::StoredTensor* st = nullptr;
      std::string dir;
      if (auto it = weights.find(s.target); it != weights.end()) st = &it->second, dir = "data/weights/";
      else if (auto jt = constants.find(s.target); jt != constants.end()) st = &jt->second, dir = "data/constants/";
      if (!st)
        throw pt2::FormatError("E-pt2-weights", path + ": no stored data for '" + s.target + "' (input '" + s.arg + "')");
      if (st->use_pickle)
        throw pt2::FormatError("E-pt2-weights", path + ": '" + s.target + "' is stored as a pickle; not supported");
      std::string entry = prefix + dir + st->path_name;
      auto it = file_cache.find(entry);
      if (it == file_cache.end()) it = file_cache.emplace(entry, zip.read(entry)).first;
      return pt2::decode_tensor(it->second, st->meta, path + ": " + entry + " ('" + s.target + "')");
    };
    pt2::lower_program(p, loader, reg, out, diags);
  } catch (const pt2::FormatError& e) {
    report(diags, path, e);
  } catch (const Error& e) {
    diags.error({}, "E-pt2-graph", path + ": " + e.what());
  }
  return out;
}

}  // namespace egfuse
