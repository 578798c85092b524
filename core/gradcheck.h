#pragma once
// gradcheck: compares autograd's gradients with central finite differences.
//
// For every input element x_j and every output element y_i it checks
//   ∂y_i/∂x_j (autograd: one backward per output element, a one-hot seed)
//   ≈ (y_i(x_j + eps) - y_i(x_j - eps)) / (2·eps)
// within |analytic - numeric| <= atol + rtol·|numeric|. Inputs must be
// float64 (float32 finite differences are too coarse to prove anything).
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace nl {

struct GradcheckResult {
  bool ok = true;
  std::string message;  // on failure: the worst element, with both values
  size_t input = 0;     // which input held the worst element
  int64_t input_index = 0, output_index = 0;
  double analytic = 0, numeric = 0, max_abs_error = 0;
  explicit operator bool() const { return ok; }
};

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs, double eps = 1e-6,
                          double atol = 1e-5, double rtol = 1e-3);

}  // namespace nl
