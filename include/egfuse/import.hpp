// Importer for PyTorch programs saved by torch.export.save (.pt2 archives).
//
// An archive is a zip holding the serialized ExportedProgram (JSON) and its
// weights. import_pt2 turns it into an egfuse Graph: parameters, buffers and
// constants become graph inputs (their data in `weights`), aten ops become IR
// ops, templates (mm, bmm, addmm) or decompositions, and ops without a mapping
// become opaque extern kernels, listed in one warning. Values that depend on no
// graph input (masks built from arange, ...) are computed at import time and
// enter the graph as constant inputs with their data in `weights`.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "egfuse/diagnostics.hpp"
#include "egfuse/interp.hpp"
#include "egfuse/ir.hpp"

namespace egfuse {

class TemplateRegistry;

struct ImportedProgram {
  Graph graph;
  // Data of every graph input that is not a user input: parameters, buffers,
  // constants and folded values, keyed by input-node name.
  std::map<std::string, Tensor> weights;
  std::vector<std::string> user_inputs;    // input-node names the caller must supply, in order
  std::vector<std::string> extern_ops;     // aten targets that became extern kernels (sorted, unique)
  std::map<std::string, int> op_counts;    // aten target -> number of nodes in the archive
  std::string torch_version;               // as recorded in the archive
  int schema_major = 0, schema_minor = 0;  // serialization schema version of the archive
  std::vector<std::string> warnings;       // also reported to the Diagnostics
};

// Serialization schema versions this importer reads (major versions; any minor).
std::vector<int> supported_pt2_schema_majors();

// True when `path` names a .pt2 archive: by extension, or by a zip signature
// with an archive_format entry. Used by `egfuse compile` / `egfuse run`.
bool is_pt2_path(const std::string& path);

// Imports an archive. Problems are reported to `diags` (code "E-pt2-...",
// naming the archive entry and what was wrong); on error the result is partial
// and diags.has_errors() is true. Never throws for bad input files.
ImportedProgram import_pt2(const std::string& path, const TemplateRegistry& reg, Diagnostics& diags);

// Same, for an ExportedProgram JSON text alone (no weights: parameters become
// inputs without data). `name` is used in diagnostics. The fuzz target uses it.
ImportedProgram import_pt2_json(std::string_view json_text, const std::string& name, const TemplateRegistry& reg,
                                Diagnostics& diags);

}  // namespace egfuse
