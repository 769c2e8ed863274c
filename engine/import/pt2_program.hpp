// Internal to engine/import: the program model read from an ExportedProgram's
// JSON (torch/_export/serde/schema.py), independent of nlohmann-json, plus the
// zip and weight readers. Only what the importer needs is kept.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "egfuse/import.hpp"
#include "egfuse/interp.hpp"
#include "egfuse/ir.hpp"

namespace egfuse::pt2 {

// Thrown for malformed input; the importer turns it into one diagnostic.
struct FormatError : Error {
  std::string code;
  FormatError(std::string c, const std::string& msg) : Error(msg), code(std::move(c)) {}
};

// torch ScalarType codes as the schema numbers them.
struct ScalarType {
  int code = 0;
};
std::optional<DType> dtype_of_scalar_type(int code);   // nullopt: not representable
int scalar_type_bytes(int code);                       // element size in the weight files (0 if unknown)
std::string scalar_type_name(int code);                // "float32", "int64", ... or "code N"

struct TensorMeta {
  int scalar_type = 7;
  Shape sizes;
  std::vector<int64_t> strides;
  int64_t storage_offset = 0;
};

struct Graph;

// One argument of a node (schema.Argument), flattened.
struct Arg {
  enum class Kind { none, tensor, tensors, opt_tensors, int_, ints, float_, floats, bool_, bools, string, strings,
                    scalar_type, layout, memory_format, device, graph, sym_int, other } kind = Kind::none;
  std::string name;                 // tensor / sym_int name
  std::vector<std::string> names;   // tensors; "" for None inside optional tensors
  int64_t i = 0;
  std::vector<int64_t> ints;
  double f = 0;
  std::vector<double> floats;
  bool b = false;
  std::string s;
  std::vector<std::string> strings;
  std::shared_ptr<Graph> graph;     // nested graph (higher-order ops)
  std::string raw;                  // the schema field name, e.g. "as_tensor"
};
std::string_view arg_kind_name(Arg::Kind);

struct NamedArg {
  std::string name;  // may be empty (higher-order ops)
  Arg arg;
  int kind = 1;      // 1 positional, 2 keyword
};

struct Node {
  std::string target;            // "torch.ops.aten.add.Tensor"
  std::vector<NamedArg> inputs;
  std::vector<Arg> outputs;      // tensor / tensors / none / sym_int ...
  std::string name;              // node name in the archive (may be empty)
  std::string stack_trace;       // first line of where it came from, if any
};

struct Graph {
  std::vector<Arg> inputs, outputs;
  std::vector<Node> nodes;
  std::map<std::string, TensorMeta> tensor_values;
};

struct InputSpec {
  enum class Kind { parameter, buffer, constant_tensor, user_input, custom_obj, token, other } kind = Kind::other;
  std::string arg;     // placeholder name in the graph
  std::string target;  // parameter_name / buffer_name / tensor_constant_name
  bool persistent = true;
};
struct OutputSpec {
  enum class Kind { user_output, buffer_mutation, user_input_mutation, loss_output, other } kind = Kind::other;
  std::string arg;     // value name
  std::string target;  // buffer / input mutated
};

struct Program {
  int schema_major = 0, schema_minor = 0;
  std::string torch_version;
  Graph graph;
  std::vector<InputSpec> input_specs;
  std::vector<OutputSpec> output_specs;
};

// Parses model.json. Throws FormatError naming the JSON path of the problem.
Program parse_program(std::string_view json_text);

// Entry of model_weights_config.json / model_constants_config.json.
struct StoredTensor {
  std::string path_name;  // file under data/weights/ or data/constants/
  bool use_pickle = false;
  TensorMeta meta;
};
std::map<std::string, StoredTensor> parse_tensor_config(std::string_view json_text, const std::string& what);

// ---------------------------------------------------------------- zip
class ZipArchive {
 public:
  // Throws FormatError("E-pt2-not-zip") when the file is no readable zip.
  explicit ZipArchive(const std::string& path);
  ~ZipArchive();
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;
  const std::vector<std::string>& names() const { return names_; }
  bool has(const std::string& name) const;
  // Whole entry; throws FormatError("E-pt2-zip-read") naming it on failure.
  std::string read(const std::string& name) const;

 private:
  void* zip_ = nullptr;
  std::string path_;
  std::vector<std::string> names_;
};

// Decodes `bytes` (the raw little-endian storage) into a dense tensor.
Tensor decode_tensor(const std::string& bytes, const TensorMeta& meta, const std::string& what);

}  // namespace egfuse::pt2

namespace egfuse::pt2 {

// Loads the data of a parameter/buffer/constant placeholder; nullopt when the
// importer has no archive (JSON alone). Throws FormatError on damaged data.
using WeightLoader = std::function<std::optional<Tensor>(const InputSpec&)>;

// Lowers the program into `out.graph` (aten_ops.cpp). Throws FormatError for
// input it cannot make sense of; unknown ops become extern kernels.
void lower_program(const Program& p, const WeightLoader& load, const TemplateRegistry& reg, ImportedProgram& out,
                   Diagnostics& diags);

}  // namespace egfuse::pt2
