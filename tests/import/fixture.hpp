// Reference fixtures of the import tests: torch's output on a seeded input
// (recorded by record_fixtures.py; the input is regenerated, not stored).
#pragma once

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "egfuse/interp.hpp"

namespace egfuse::test {

struct ImportFixture {
  std::string model;
  DType input_dtype = DType::f32;
  Shape input_shape, output_shape;
  uint64_t seed = 0;
  int64_t bound = 0;
  std::vector<double> input_head;
  double mean = 0, absmax = 0;
  std::vector<int64_t> argmax;
  std::vector<std::pair<int64_t, double>> samples;  // flat index, value
};

inline bool read_fixture(const std::string& path, ImportFixture& f) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  auto read_shape = [](std::istringstream& s) {
    size_t r = 0;
    s >> r;
    Shape sh(r);
    for (auto& d : sh) s >> d;
    return sh;
  };
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string key;
    s >> key;
    if (key == "model") s >> f.model;
    else if (key == "input") {
      std::string dt, w;
      s >> dt;
      f.input_dtype = dt == "i64" ? DType::i64 : DType::f32;
      f.input_shape = read_shape(s);
      s >> w >> f.seed >> w >> f.bound;
    } else if (key == "input_head") {
      double v;
      while (s >> v) f.input_head.push_back(v);
    } else if (key == "output") {
      std::string dt;
      s >> dt;
      f.output_shape = read_shape(s);
    } else if (key == "mean") s >> f.mean;
    else if (key == "absmax") s >> f.absmax;
    else if (key == "argmax") {
      size_t n = 0;
      s >> n;
      f.argmax.resize(n);
      for (auto& a : f.argmax) s >> a;
    } else if (key == "sample") {
      int64_t i;
      double v;
      s >> i >> v;
      f.samples.push_back({i, v});
    }
  }
  return !f.model.empty();
}

// The seeded input of record_fixtures.py:
//   x_{k+1} = x_k * 6364136223846793005 + 1442695040888963407 (mod 2^64), x_0 = seed
//   integers: (x >> 33) % bound;  floats: (x >> 40) / 2^24 * 2 - 1
inline Tensor seeded_input(DType dt, const Shape& shape, uint64_t seed, int64_t bound) {
  Tensor t;
  t.type = TensorType{dt, shape, {}, 0};
  int64_t n = 1;
  for (auto d : shape) n *= d;
  t.data.resize(size_t(n));
  uint64_t x = seed;
  for (auto& v : t.data) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    if (dt == DType::i64) v = double((x >> 33) % uint64_t(bound));
    else v = double(x >> 40) / double(1 << 24) * 2.0 - 1.0;
  }
  return t;
}

}  // namespace egfuse::test
