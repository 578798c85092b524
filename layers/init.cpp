#include "layers/init.h"

#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"

namespace nl::layers::init {

void uniform_(Tensor& t, double bound) {
  NoGradGuard no_grad;
  if (bound > 0)
    t.copy_(rand(t.shape(), t.dtype(), -bound, bound));
  else
    t.zero_();
}

void linear_default_(Tensor& t, int64_t fan_in) { uniform_(t, fan_in > 0 ? 1.0 / std::sqrt(double(fan_in)) : 0.0); }

void normal_(Tensor& t, double std) {
  NoGradGuard no_grad;
  t.copy_(randn(t.shape(), t.dtype()) * std);
}

}  // namespace nl::layers::init
