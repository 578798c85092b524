// The three normalization modules: parameters, buffers, and a forward that
// picks the fused op or its composed reference (both in core/ops/).
#include <fmt/format.h>

#include <limits>

#include "core/autograd.h"
#include "core/ops.h"
#include "layers/batch_norm.h"
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

// ---- BatchNorm1d -------------------------------------------------------------------

BatchNorm1d::BatchNorm1d(int64_t num_features, double eps, std::optional<double> momentum, bool affine,
                         bool track_running_stats, DType dtype)
    : BatchNorm1d("BatchNorm1d", num_features, eps, momentum, affine, track_running_stats, dtype) {}

BatchNorm1d::BatchNorm1d(std::string type, int64_t num_features, double eps, std::optional<double> momentum,
                         bool affine, bool track_running_stats, DType dtype)
    : Layer(std::move(type)),
      num_features(num_features),
      eps(eps),
      momentum(momentum),
      track_running_stats(track_running_stats) {
  if (num_features <= 0) fail("{}: num_features must be > 0, got {}", type_name(), num_features);
  if (momentum && !(*momentum >= 0 && *momentum <= 1))
    fail("{}: momentum must be in [0, 1], got {}", type_name(), *momentum);
  if (affine) {
    weight = ones({num_features}, dtype);
    bias = zeros({num_features}, dtype);
  }
  register_parameter("weight", weight);
  register_parameter("bias", bias);
  if (track_running_stats) {
    running_mean = zeros({num_features}, dtype);
    running_var = ones({num_features}, dtype);
    num_batches_tracked = zeros({}, i64);
  }
  register_buffer("running_mean", running_mean);
  register_buffer("running_var", running_var);
  register_buffer("num_batches_tracked", num_batches_tracked);
}

Tensor BatchNorm1d::forward(const Tensor& x) { return forward_batch_norm(x, CrossProcessSum()); }

Tensor BatchNorm1d::forward_batch_norm(const Tensor& x, const CrossProcessSum& sum) {
  if ((x.dim() != 2 && x.dim() != 3) || x.shape()[1] != num_features)
    fail("{0}: expected input (N, {1}) or (N, {1}, L), got {2}", type_name(), num_features, x.shape());
  // As PyTorch: the update factor is momentum, or 1/num_batches_tracked for a
  // cumulative average; batch statistics in training or when nothing is tracked.
  double factor = 0.0;
  if (is_training() && track_running_stats) {
    NoGradGuard no_grad;
    // The count saturates: a loaded state dict may hold any int64, and the add must not overflow.
    if (num_batches_tracked.item<int64_t>() < std::numeric_limits<int64_t>::max())
      num_batches_tracked.add_(ones({}, i64));
    factor = momentum ? *momentum : 1.0 / double(num_batches_tracked.item<int64_t>());
  }
  if (use_reference) {
    if (sum)
      fail("{}: the composed reference (use_reference) has no cross-process path; use the fused kernel", type_name());
    return nl::reference::batch_norm(x, running_mean, running_var, weight, bias, uses_batch_statistics(), factor, eps);
  }
  return nl::batch_norm(x, running_mean, running_var, weight, bias, uses_batch_statistics(), factor, eps, sum);
}

std::string BatchNorm1d::extra_repr() const {
  return fmt::format("{}, eps={}, momentum={}, affine={}, track_running_stats={}", num_features, eps,
                     momentum ? fmt::format("{}", *momentum) : "None", weight.defined(), track_running_stats);
}

}  // namespace nl::layers
