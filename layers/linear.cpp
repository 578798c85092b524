#include "layers/linear.h"

#include <fmt/format.h>

#include "core/ops.h"
#include "layers/init.h"

namespace nl::layers {

Linear::Linear(int64_t in, int64_t out, bool with_bias, DType dtype)
    : Layer("Linear"), in_features(in), out_features(out) {
  if (in < 0 || out < 0) fail("Linear: feature counts must be >= 0, got in_features={} out_features={}", in, out);
  weight = empty({out, in}, dtype);
  init::linear_default_(weight, in);
  register_parameter("weight", weight);
  if (with_bias) {
    bias = empty({out}, dtype);
    init::linear_default_(bias, in);
  }
  register_parameter("bias", bias);
}

Tensor Linear::forward(const Tensor& x) {
  if (x.dim() < 1 || x.shape()[x.dim() - 1] != in_features)
    fail("Linear: expected input (..., {}), got {}", in_features, x.shape());
  return linear(x, weight, bias);  // one GEMM, the bias its starting value (core/ops/linear.cpp)
}

std::string Linear::extra_repr() const {
  return fmt::format("in_features={}, out_features={}, bias={}", in_features, out_features, bias.defined());
}

}  // namespace nl::layers
