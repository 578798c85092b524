// LayerNorm and RMSNorm: parameters and a forward that picks the fused op or
// its composed reference (both in core/ops/). The BatchNorm family: batch_norm.cpp.
#include <fmt/format.h>

#include <limits>

#include "core/autograd.h"
#include "core/ops.h"
#include "layers/layer_norm.h"
#include "layers/rms_norm.h"

namespace nl::layers {

namespace {
void check_normalized_shape(const char* layer, const Shape& shape) {
  if (shape.size() == 0) fail("{}: normalized_shape must have at least one dim", layer);
  for (int64_t s : shape)
    if (s <= 0) fail("{}: normalized_shape must be positive, got {}", layer, shape);
}
}  // namespace

// ---- LayerNorm ---------------------------------------------------------------------

LayerNorm::LayerNorm(Shape shape, double eps, bool elementwise_affine, bool with_bias, DType dtype)
    : Layer("LayerNorm"), normalized_shape(shape), eps(eps) {
  check_normalized_shape("LayerNorm", shape);
  if (elementwise_affine) {
    weight = ones(shape, dtype);
    if (with_bias) bias = zeros(shape, dtype);
  }
  register_parameter("weight", weight);
  register_parameter("bias", bias);
}

Tensor LayerNorm::forward(const Tensor& x) {
  return use_reference ? nl::reference::layer_norm(x, normalized_shape, weight, bias, eps)
                       : layer_norm(x, normalized_shape, weight, bias, eps);
}

std::string LayerNorm::extra_repr() const {
  return fmt::format("{}, eps={}, elementwise_affine={}", normalized_shape, eps, weight.defined());
}

// ---- RMSNorm -----------------------------------------------------------------------

RMSNorm::RMSNorm(Shape shape, std::optional<double> eps, bool elementwise_affine, DType dtype)
    : Layer("RMSNorm"), normalized_shape(shape), eps(eps) {
  check_normalized_shape("RMSNorm", shape);
  if (elementwise_affine) weight = ones(shape, dtype);
  register_parameter("weight", weight);
}

Tensor RMSNorm::forward(const Tensor& x) {
  double e =
      eps ? *eps : (x.dtype() == f64 ? std::numeric_limits<double>::epsilon() : std::numeric_limits<float>::epsilon());
  return use_reference ? nl::reference::rms_norm(x, normalized_shape, weight, e)
                       : rms_norm(x, normalized_shape, weight, e);
}

std::string RMSNorm::extra_repr() const {
  return fmt::format("{}, eps={}, elementwise_affine={}", normalized_shape, eps ? fmt::format("{}", *eps) : "None",
                     weight.defined());
}

}  // namespace nl::layers
