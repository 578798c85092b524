// instance_norm: InstanceNorm (Ulyanov et al. 2016), as
// torch.nn.functional.instance_norm, and its composed reference.
//
// Each sample's channel of x (N, C, *) is normalized over its L positions:
//   mean[n,c], var[n,c] over the L values of x[n,c,:] (biased var)
//   y[n,c,l] = (x[n,c,l] − mean[n,c]) / √(var[n,c] + eps) · w[c] + b[c]
// That is GroupNorm with one channel per group (G = C), so the op is
// group_norm — its fused forward and its gradient rule. Like LayerNorm it
// never looks across samples.
//
// What InstanceNorm adds is optional running statistics (PyTorch's
// track_running_stats): in training they move towards the batch's mean of the
// instance statistics,
//   running_mean ← (1 − momentum)·running_mean + momentum · mean_n mean[n,c]
//   running_var  ← (1 − momentum)·running_var  + momentum · mean_n var_unbiased[n,c]
// and with use_input_stats = false (eval with tracked statistics) they
// normalize, per channel, as BatchNorm's eval does: batch_norm(training=false).
// The update reads x once more (primitive ops, no graph); without running
// statistics (PyTorch's default) there is no such pass.
#include "core/ops/norm_helpers.h"

namespace nl {

namespace {

// (N, C, L): the input as instances of L positions.
Shape check_arguments(const char* op, const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                      bool use_input_stats) {
  if (!x.is_floating_point()) fail("{}: expected a floating input, got {} of shape {}", op, x.dtype(), x.shape());
  if (x.dim() < 3) fail("{}: expected an input (N, C, L) or (N, C, H, W) (N, C, *), got {}", op, x.shape());
  if (running_mean.defined() != running_var.defined())
    fail("{}: running_mean and running_var must be given together", op);
  for (auto [name, stat] : {std::pair{"running_mean", &running_mean}, std::pair{"running_var", &running_var}})
    if (stat->defined() && (stat->shape() != Shape{x.size(1)} || stat->dtype() != x.dtype()))
      fail("{}: {} must be a {} tensor of shape [{}] (the channels of input {}), got {} {}", op, name, x.dtype(),
           x.size(1), x.shape(), stat->dtype(), stat->shape());
  if (!use_input_stats && !running_mean.defined())
    fail("{}: use_input_stats=false normalizes with running_mean and running_var, but none were given", op);
  int64_t N = x.size(0), C = x.size(1), L = N * C == 0 ? 0 : x.numel() / (N * C);
  if (use_input_stats && N * C > 0 && L <= 1)
    fail("{}: expected more than 1 value per instance (sample and channel) when using input statistics, got input {}",
         op, x.shape());
  return {N, C, L};
}

// The running statistics' update from x's instance statistics (see the top).
void update_running_stats(const Tensor& x, const Shape& instances, const Tensor& running_mean,
                          const Tensor& running_var, double momentum) {
  if (!running_mean.defined() || instances[0] == 0) return;
  NoGradGuard no_grad;
  Tensor values = x.detach().reshape(instances);
  Tensor mean = values.mean({2}).mean({0}), var = values.var({2}, /*unbiased=*/true).mean({0});
  Tensor(running_mean).copy_(running_mean * (1 - momentum) + mean * momentum);
  Tensor(running_var).copy_(running_var * (1 - momentum) + var * momentum);
}

}  // namespace

Tensor instance_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                     const Tensor& bias, bool use_input_stats, double momentum, double eps) {
  Shape instances = check_arguments("instance_norm", x, running_mean, running_var, use_input_stats);
  if (!use_input_stats) return batch_norm(x, running_mean, running_var, weight, bias, false, momentum, eps);
  update_running_stats(x, instances, running_mean, running_var, momentum);
  return group_norm(x, x.size(1), weight, bias, eps);
}

// ---- the composed reference: the same math from primitive ops; autograd derives its backward

Tensor reference::instance_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                                const Tensor& weight, const Tensor& bias, bool use_input_stats, double momentum,
                                double eps) {
  Shape instances = check_arguments("reference::instance_norm", x, running_mean, running_var, use_input_stats);
  if (!use_input_stats) return reference::batch_norm(x, running_mean, running_var, weight, bias, false, momentum, eps);
  update_running_stats(x, instances, running_mean, running_var, momentum);
  return reference::group_norm(x, x.size(1), weight, bias, eps);  // mean and var over each x[n,c,:]
}

}  // namespace nl
