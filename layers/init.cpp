#include "layers/init.h"

#include <cmath>

#include "core/autograd.h"
#include "core/error.h"
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

void xavier_uniform_(Tensor& t, double gain) {
  if (t.dim() < 2)
    fail("xavier_uniform_: expected a weight of at least 2 dimensions (fan_out, fan_in, ...), got {}", t.shape());
  int64_t receptive = 1;  // the kernel's size, for a convolution's weight
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  const double fan_in = double(t.size(1) * receptive), fan_out = double(t.size(0) * receptive);
  uniform_(t, gain * std::sqrt(6.0 / (fan_in + fan_out)));
}

}  // namespace nl::layers::init
