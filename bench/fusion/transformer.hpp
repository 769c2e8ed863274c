// A transformer-like graph generator (layer norm, per-head attention with
// softmax, output projection, MLP with GELU, residuals), for the fusion
// benchmark and the large-graph tests. Generated at run time, never stored.
#pragma once

#include <string>

#include "egfuse/ir.hpp"
#include "egfuse/templates.hpp"

namespace egfuse::bench {

struct TransformerShape {
  int layers = 24;
  int heads = 16;
  int64_t tokens = 64, dim = 256;
};

inline NodeId layer_norm(Builder& b, NodeId x, int64_t dim, const std::string& p) {
  auto mean = b.reduce(Op::mean, x, {1}, true);
  auto c = b.binary(Op::sub, x, mean);
  auto var = b.reduce(Op::mean, b.binary(Op::mul, c, c), {1}, true);
  auto r = b.unary(Op::rsqrt, b.binary(Op::add, var, b.constant(1e-5, DType::f32)));
  auto n = b.binary(Op::mul, c, r);
  auto gamma = b.input(p + "_g", TensorType{DType::f32, {dim}, {}, 0});
  auto beta = b.input(p + "_b", TensorType{DType::f32, {dim}, {}, 0});
  return b.binary(Op::add, b.binary(Op::mul, n, gamma), beta);
}

inline Graph transformer(const TransformerShape& s, const TemplateRegistry& reg) {
  Graph g;
  g.name = "transformer";
  Builder b(g, reg);
  auto f32 = [](Shape sh) { return TensorType{DType::f32, std::move(sh), {}, 0}; };
  const int64_t T = s.tokens, D = s.dim, dh = D / s.heads;
  NodeId x = b.input("x", f32({T, D}));
  for (int l = 0; l < s.layers; ++l) {
    std::string p = "l" + std::to_string(l);
    auto h = layer_norm(b, x, D, p + "_ln1");
    auto q = b.templ("mm", {h, b.input(p + "_wq", f32({D, D}))});
    auto k = b.templ("mm", {h, b.input(p + "_wk", f32({D, D}))});
    auto v = b.templ("mm", {h, b.input(p + "_wv", f32({D, D}))});
    NodeId attn = kNoNode;
    for (int hd = 0; hd < s.heads; ++hd) {
      auto qh = b.slice(q, 1, hd * dh, (hd + 1) * dh);
      auto kh = b.permute(b.slice(k, 1, hd * dh, (hd + 1) * dh), {1, 0});
      auto vh = b.slice(v, 1, hd * dh, (hd + 1) * dh);
      auto sc = b.binary(Op::mul, b.templ("mm", {qh, kh}), b.constant(0.125, DType::f32));
      auto mx = b.reduce(Op::amax, sc, {1}, true);
      auto e = b.unary(Op::exp, b.binary(Op::sub, sc, mx));
      auto pr = b.binary(Op::div, e, b.reduce(Op::sum, e, {1}, true));
      auto oh = b.templ("mm", {pr, vh});
      auto proj = b.templ("mm", {oh, b.input(p + "_wo" + std::to_string(hd), f32({dh, D}))});
      attn = attn == kNoNode ? proj : b.binary(Op::add, attn, proj);
    }
    x = b.binary(Op::add, x, attn);
    auto h2 = layer_norm(b, x, D, p + "_ln2");
    auto up = b.templ("mm", {h2, b.input(p + "_w1", f32({D, 4 * D}))});
    auto act = b.unary(Op::gelu, b.binary(Op::add, up, b.input(p + "_b1", f32({4 * D}))));
    auto down = b.templ("mm", {act, b.input(p + "_w2", f32({4 * D, D}))});
    x = b.binary(Op::add, x, b.binary(Op::add, down, b.input(p + "_b2", f32({D}))));
  }
  b.output(x, "y");
  return g;
}

}  // namespace egfuse::bench
