#include "layers/instance_norm.h"

#include <fmt/format.h>

namespace nl::layers {

InstanceNorm::InstanceNorm(std::string type, int rank, const char* expected, int64_t num_features, double eps,
                           double momentum, bool affine, bool track_running_stats, DType dtype)
    : Layer(std::move(type)),
      num_features(num_features),
      eps(eps),
      momentum(momentum),
      track_running_stats(track_running_stats),
      rank_(rank),
      expected_(expected) {
  if (num_features <= 0) fail("{}: num_features must be > 0, got {}", type_name(), num_features);
  if (!(momentum >= 0 && momentum <= 1)) fail("{}: momentum must be in [0, 1], got {}", type_name(), momentum);
  if (!(eps >= 0)) fail("{}: eps must be >= 0, got {}", type_name(), eps);
  register_parameter("weight", weight = affine ? ones({num_features}, dtype) : Tensor());
  register_parameter("bias", bias = affine ? zeros({num_features}, dtype) : Tensor());
  register_buffer("running_mean", running_mean = track_running_stats ? zeros({num_features}, dtype) : Tensor());
  register_buffer("running_var", running_var = track_running_stats ? ones({num_features}, dtype) : Tensor());
  register_buffer("num_batches_tracked", num_batches_tracked = track_running_stats ? zeros({}, i64) : Tensor());
}

Tensor InstanceNorm::forward(const Tensor& x) {
  if (x.dim() != rank_ || x.shape()[1] != num_features)
    fail("{}: expected input {} with C = {}, got {}", type_name(), expected_, num_features, x.shape());
  // as PyTorch: instance statistics in training, and in eval when nothing is tracked
  bool use_input_stats = is_training() || !track_running_stats;
  auto norm = use_reference ? nl::reference::instance_norm : nl::instance_norm;
  return norm(x, running_mean, running_var, weight, bias, use_input_stats, momentum, eps);
}

std::string InstanceNorm::extra_repr() const {
  return fmt::format("{}, eps={}, momentum={}, affine={}, track_running_stats={}", num_features, eps, momentum,
                     weight.defined(), track_running_stats);
}

InstanceNorm1d::InstanceNorm1d(int64_t num_features, double eps, double momentum, bool affine, bool track_running_stats,
                               DType dtype)
    : InstanceNorm("InstanceNorm1d", 3, "(N, C, L)", num_features, eps, momentum, affine, track_running_stats, dtype) {}

InstanceNorm2d::InstanceNorm2d(int64_t num_features, double eps, double momentum, bool affine, bool track_running_stats,
                               DType dtype)
    : InstanceNorm("InstanceNorm2d", 4, "(N, C, H, W)", num_features, eps, momentum, affine, track_running_stats,
                   dtype) {}

}  // namespace nl::layers
