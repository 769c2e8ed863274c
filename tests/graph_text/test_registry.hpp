// The template registry the graph-text and interpreter tests use: the
// built-ins plus the in-place kinds the standard rules declare
// (kv_cache_update: index_copy; kv_cache_update_pair: index_copy_pair;
// mm_accumulate: gemm_accumulate).
#pragma once

#include "egfuse/templates.hpp"

namespace egfuse::testing {

inline TemplateRegistry test_registry() {
  TemplateRegistry reg;
  auto var = [](const char* v) { return DimExpr::variable(v); };
  std::string err;
  TemplateKind kv;
  kv.name = "kv_cache_update";
  kv.impl = "index_copy";
  kv.epilogue = false;
  kv.inputs = {{"cache", {var("S"), var("D")}, {}, false, true},
               {"idx", {var("T")}, DType::i64, false, false},
               {"src", {var("T"), var("D")}, {}, true, false}};
  kv.out_shape = {var("T"), var("D")};
  reg.add(kv, err);
  TemplateKind pair;
  pair.name = "kv_cache_update_pair";
  pair.impl = "index_copy_pair";
  pair.epilogue = false;
  pair.inputs = {{"k", {var("S"), var("D")}, {}, false, true},
                 {"v", {var("S"), var("D")}, {}, false, true},
                 {"idx", {var("T")}, DType::i64, false, false},
                 {"ks", {var("T"), var("D")}, {}, true, false},
                 {"vs", {var("T"), var("D")}, {}, true, false}};
  pair.out_shape = {var("T"), var("D")};
  reg.add(pair, err);
  TemplateKind acc;
  acc.name = "mm_accumulate";
  acc.impl = "gemm_accumulate";
  acc.inputs = {{"c", {var("M"), var("N")}, {}, false, true},
                {"a", {var("M"), var("K")}, {}, true, false},
                {"b", {var("K"), var("N")}, {}, true, false}};
  acc.out_shape = {var("M"), var("N")};
  reg.add(acc, err);
  return reg;
}

}  // namespace egfuse::testing
