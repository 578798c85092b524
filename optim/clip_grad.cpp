#include "optim/clip_grad.h"

#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"

namespace nl::optim {

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  if (!(max_norm >= 0)) fail("clip_grad_norm_: max_norm must be >= 0, got {}", max_norm);
  if (!(norm_type > 0)) fail("clip_grad_norm_: norm_type must be > 0 (or infinity), got {}", norm_type);
  NoGradGuard no_grad;
  double total = 0;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    std::vector<double> values = g.to_vector<double>();
    for (double v : values) {
      double a = std::abs(v);
      total = std::isinf(norm_type) ? std::max(total, a) : total + (norm_type == 2 ? a * a : std::pow(a, norm_type));
    }
  }
  if (!std::isinf(norm_type)) total = std::pow(total, 1.0 / norm_type);
  double clip_coef = max_norm / (total + 1e-6);
  if (clip_coef < 1)
    for (const Tensor& p : params) {
      Tensor g = p.grad();
      if (g.defined()) g.mul_(clip_coef);
    }
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  if (!(clip_value >= 0)) fail("clip_grad_value_: clip_value must be >= 0, got {}", clip_value);
  NoGradGuard no_grad;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (g.defined()) g.copy_(clamp(g, -clip_value, clip_value));
  }
}

}  // namespace nl::optim
