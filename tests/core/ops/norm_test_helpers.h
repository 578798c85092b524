#pragma once
// Shared checks for the normalization tests: fused kernel == composed reference.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "normlab.h"

namespace normlab_test {

inline double max_abs_diff(const nl::Tensor& a, const nl::Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  auto x = a.to_vector<double>(), y = b.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

// Tensor `name` of the PyTorch fixture file tests/fixtures/<file> (each file is loaded once).
inline nl::Tensor fixture_tensor(const std::string& file, const std::string& name) {
  static std::map<std::string, nl::StateDict> loaded;
  auto [entry, fresh] = loaded.try_emplace(file);
  if (fresh) entry->second = nl::io::load_safetensors(std::string(NORMLAB_FIXTURES_DIR) + "/" + file);
  auto it = entry->second.find(name);
  if (it == entry->second.end()) FAIL("fixture missing: " << name << " in " << file);
  return it->second;
}

using NormFn = std::function<nl::Tensor(const std::vector<nl::Tensor>&)>;

// Runs fused and reference on fresh leaf copies of inputs, backpropagates the
// same random upstream gradient through both, and requires the outputs and
// every input gradient to agree within tol (absolute, on values of order 1).
inline void require_fused_equals_reference(const NormFn& fused, const NormFn& reference,
                                           const std::vector<nl::Tensor>& inputs, double tol) {
  auto run = [&](const NormFn& fn, nl::Tensor& upstream) {
    std::vector<nl::Tensor> leaves;
    for (const nl::Tensor& t : inputs) leaves.push_back(t.detach().clone().requires_grad_(true));
    nl::Tensor y = fn(leaves);
    if (!upstream.defined()) upstream = nl::randn(y.shape(), y.dtype());
    y.backward(upstream);
    std::vector<nl::Tensor> out{y.detach()};
    for (auto& l : leaves) out.push_back(l.grad());
    return out;
  };
  nl::Tensor upstream;
  auto a = run(fused, upstream);
  auto b = run(reference, upstream);
  for (size_t i = 0; i < a.size(); ++i) {
    INFO((i == 0 ? std::string("output") : "gradient of input " + std::to_string(i - 1)));
    REQUIRE(a[i].defined());
    REQUIRE(b[i].defined());
    CHECK(max_abs_diff(a[i], b[i]) <= tol);
  }
}

inline void require_gradcheck(const NormFn& fn, const std::vector<nl::Tensor>& inputs) {
  std::vector<nl::Tensor> leaves;
  for (const nl::Tensor& t : inputs) leaves.push_back(t.detach().clone().requires_grad_(true));
  auto result = nl::gradcheck(fn, leaves);
  INFO(result.message);
  REQUIRE(result.ok);
}

}  // namespace normlab_test
