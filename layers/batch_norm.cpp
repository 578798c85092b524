// The BatchNorm family (layers/batch_norm.h): parameters, buffers, the
// running statistics' update factor, and a forward that checks the input's
// rank and picks the fused op or its composed reference (both in core/ops/).
#include "layers/batch_norm.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "core/autograd.h"
#include "core/ops.h"

namespace nl::layers {

// ---- the BatchNorm family ------------------------------------------------------------

BatchNorm::BatchNorm(std::string type, int64_t num_features, double eps, std::optional<double> momentum, bool affine,
                     bool track_running_stats, DType dtype)
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

void BatchNorm::check_input(const Tensor& x, std::initializer_list<int> ranks, const char* expected) const {
  bool rank_ok = std::find(ranks.begin(), ranks.end(), x.dim()) != ranks.end();
  if (!rank_ok || x.shape()[1] != num_features)
    fail("{}: expected input {} with C = {}, got {}", type_name(), expected, num_features, x.shape());
}

double BatchNorm::update_factor() {
  // As PyTorch: the update factor is momentum, or 1/num_batches_tracked for a cumulative average.
  if (!is_training() || !track_running_stats) return 0.0;
  NoGradGuard no_grad;
  // The count saturates: a loaded state dict may hold any int64, and the add must not overflow.
  if (num_batches_tracked.item<int64_t>() < std::numeric_limits<int64_t>::max())
    num_batches_tracked.add_(ones({}, i64));
  return momentum ? *momentum : 1.0 / double(num_batches_tracked.item<int64_t>());
}

Tensor BatchNorm::forward_batch_norm(const Tensor& x, const CrossProcessSum& sum) {
  double factor = update_factor();
  if (use_reference) {
    if (sum)
      fail("{}: the composed reference (use_reference) has no cross-process path; use the fused kernel", type_name());
    return nl::reference::batch_norm(x, running_mean, running_var, weight, bias, uses_batch_statistics(), factor, eps);
  }
  return nl::batch_norm(x, running_mean, running_var, weight, bias, uses_batch_statistics(), factor, eps, sum);
}

std::string BatchNorm::extra_repr() const {
  return fmt::format("{}, eps={}, momentum={}, affine={}, track_running_stats={}", num_features, eps,
                     momentum ? fmt::format("{}", *momentum) : "None", weight.defined(), track_running_stats);
}

BatchNorm1d::BatchNorm1d(int64_t num_features, double eps, std::optional<double> momentum, bool affine,
                         bool track_running_stats, DType dtype)
    : BatchNorm("BatchNorm1d", num_features, eps, momentum, affine, track_running_stats, dtype) {}

Tensor BatchNorm1d::forward(const Tensor& x) {
  check_input(x, {2, 3}, "(N, C) or (N, C, L)");
  return forward_batch_norm(x, CrossProcessSum());
}

BatchNorm2d::BatchNorm2d(int64_t num_features, double eps, std::optional<double> momentum, bool affine,
                         bool track_running_stats, DType dtype)
    : BatchNorm("BatchNorm2d", num_features, eps, momentum, affine, track_running_stats, dtype) {}

Tensor BatchNorm2d::forward(const Tensor& x) {
  check_input(x, {4}, "(N, C, H, W)");
  return forward_batch_norm(x, CrossProcessSum());
}

// ---- Batch Renormalization ---------------------------------------------------------

BatchRenorm::BatchRenorm(std::string type, int64_t num_features, double eps, std::optional<double> momentum,
                         bool affine, double r_max, double d_max, DType dtype)
    : BatchNorm(std::move(type), num_features, eps, momentum, affine, true, dtype), r_max(r_max), d_max(d_max) {
  if (!(r_max >= 1) || !(d_max >= 0))
    fail("{}: r_max must be >= 1 and d_max >= 0, got r_max={}, d_max={}", type_name(), r_max, d_max);
}

Tensor BatchRenorm::forward_batch_renorm(const Tensor& x) {
  double factor = update_factor();
  auto renorm = use_reference ? nl::reference::batch_renorm : nl::batch_renorm;
  return renorm(x, running_mean, running_var, weight, bias, is_training(), factor, eps, r_max, d_max);
}

std::string BatchRenorm::extra_repr() const {
  return fmt::format("{}, eps={}, momentum={}, affine={}, r_max={}, d_max={}", num_features, eps,
                     momentum ? fmt::format("{}", *momentum) : "None", weight.defined(), r_max, d_max);
}

BatchRenorm1d::BatchRenorm1d(int64_t num_features, double eps, std::optional<double> momentum, bool affine,
                             double r_max, double d_max, DType dtype)
    : BatchRenorm("BatchRenorm1d", num_features, eps, momentum, affine, r_max, d_max, dtype) {}

Tensor BatchRenorm1d::forward(const Tensor& x) {
  check_input(x, {2, 3}, "(N, C) or (N, C, L)");
  return forward_batch_renorm(x);
}

BatchRenorm2d::BatchRenorm2d(int64_t num_features, double eps, std::optional<double> momentum, bool affine,
                             double r_max, double d_max, DType dtype)
    : BatchRenorm("BatchRenorm2d", num_features, eps, momentum, affine, r_max, d_max, dtype) {}

Tensor BatchRenorm2d::forward(const Tensor& x) {
  check_input(x, {4}, "(N, C, H, W)");
  return forward_batch_renorm(x);
}

int64_t set_renorm_limits(Module& module, double r_max, double d_max) {
  if (!(r_max >= 1) || !(d_max >= 0))
    fail("set_renorm_limits: r_max must be >= 1 and d_max >= 0, got {} and {}", r_max, d_max);
  std::vector<Module*> modules = {&module};
  for (auto& [name, child] : module.named_modules()) modules.push_back(child.get());
  int64_t set = 0;
  for (Module* m : modules)
    if (auto* renorm = dynamic_cast<BatchRenorm*>(m)) {
      renorm->r_max = r_max;
      renorm->d_max = d_max;
      ++set;
    }
  return set;
}

}  // namespace nl::layers
