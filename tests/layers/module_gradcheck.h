#pragma once
// Finite-difference check of a module's parameter gradients (float64):
// nl::gradcheck covers a function's inputs; a layer's parameters live inside
// the module, so this perturbs them in place instead.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>

#include "normlab.h"

namespace normlab_test {

// loss() must run the module and return a scalar. For every parameter, up to
// max_entries entries (spread over the tensor) are checked against
// (loss(p + eps) − loss(p − eps)) / 2eps.
inline void require_parameter_gradients(nl::layers::Module& module, const std::function<nl::Tensor()>& loss,
                                        int64_t max_entries = 6, double eps = 1e-6, double tolerance = 1e-6) {
  module.zero_grad();
  loss().backward();
  for (auto& [name, p] : module.named_parameters()) {
    REQUIRE(p.dtype() == nl::f64);
    INFO("parameter " << name);
    REQUIRE(p.grad().defined());
    std::vector<double> analytic = p.grad().to_vector<double>();
    int64_t n = p.numel(), stride = std::max<int64_t>(1, n / max_entries);
    for (int64_t i = 0; i < n; i += stride) {
      double* value = p.data<double>() + i;
      double saved = *value;
      double plus, minus;
      {
        nl::NoGradGuard no_grad;
        *value = saved + eps;
        plus = loss().item<double>();
        *value = saved - eps;
        minus = loss().item<double>();
        *value = saved;
      }
      double numeric = (plus - minus) / (2 * eps);
      INFO("entry " << i << ": autograd " << analytic[size_t(i)] << ", finite differences " << numeric);
      CHECK(std::abs(analytic[size_t(i)] - numeric) <= tolerance + 1e-4 * std::abs(numeric));
    }
  }
}

}  // namespace normlab_test
