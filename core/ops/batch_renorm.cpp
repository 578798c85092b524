// batch_renorm: Batch Renormalization (Ioffe 2017), forward and backward side
// by side, and its composed reference.
//
// BatchNorm normalizes with the batch's statistics in training and the running
// ones in eval, so a model sees two different functions; with small or
// non-i.i.d. batches they drift apart. Batch Renormalization corrects the
// batch-normalized value towards what the running statistics would give,
// per channel c over a batch of M = N·L values:
//   μ_B, σ_B = √(var_B + eps)        batch mean and (biased) std, as BatchNorm
//   μ,   σ   = √(running_var + eps)   the running statistics before this step
//   r = clip(σ_B / σ, 1/r_max, r_max),   d = clip((μ_B − μ) / σ, −d_max, d_max)
//   xhat = (x − μ_B) / σ_B · r + d,    y = xhat · w + b
// r and d are constants in the backward ("stop gradient"): with r = σ_B/σ and
// d = (μ_B − μ)/σ unclipped, xhat = (x − μ)/σ, the eval function. r_max = 1,
// d_max = 0 give r = 1, d = 0: BatchNorm. Eval is batch_norm with the running
// statistics. The running statistics move as BatchNorm's (momentum, unbiased
// variance), after r and d are formed.
//
// Forward: BatchNorm's statistics μ_B, 1/σ_B (and the running statistics
// moved); r and d from them; then one normalizing pass
//   y = xbn · (w·r) + (w·d + b),  xbn = (x − μ_B)/σ_B       (ops::batch_norm_forward_with_batch_affine)
// Backward, with dy = ∂loss/∂y: y is BatchNorm's output with the affine
// weight w·r and bias w·d + b, r and d constant, so
//   dx      = batch_norm_backward(dy, weight = w·r)               (its closed form)
//   db      = Σ dy,   dw = Σ dy·xhat = r·Σ dy·xbn + d·Σ dy         (per channel)
// where batch_norm_backward's dweight is Σ dy·xbn and its dbias Σ dy.
#include <algorithm>
#include <cmath>
#include <tuple>

#include "core/ops/norm_helpers.h"

namespace nl {

namespace {

void check_arguments(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, double r_max,
                     double d_max) {
  if (!running_mean.defined() || !running_var.defined())
    fail("batch_renorm: needs running_mean and running_var (r and d compare the batch with them), got {} and {}",
         running_mean.defined() ? "running_mean" : "no running_mean",
         running_var.defined() ? "running_var" : "no running_var");
  if (!(r_max >= 1)) fail("batch_renorm: r_max must be >= 1 (r is clipped to [1/r_max, r_max]), got {}", r_max);
  if (!(d_max >= 0)) fail("batch_renorm: d_max must be >= 0 (d is clipped to [-d_max, d_max]), got {}", d_max);
  if (x.dim() < 2) fail("batch_renorm: expected an input (N, C) or (N, C, *), got {}", x.shape());
}

// r and d per channel (in x's dtype), from the batch's mean and 1/σ_B and the
// running statistics before their update.
std::pair<Tensor, Tensor> correction(const Tensor& batch_mean, const Tensor& batch_rstd, const Tensor& running_mean,
                                     const Tensor& running_var, double eps, double r_max, double d_max) {
  int64_t C = batch_mean.numel();
  Tensor r = Tensor::make({C}, batch_mean.dtype(), "batch_renorm"),
         d = Tensor::make({C}, batch_mean.dtype(), "batch_renorm");
  dispatch_floating("batch_renorm", batch_mean.dtype(), [&]<typename T>() {
    const T *mean = batch_mean.data<T>(), *rstd = batch_rstd.data<T>();
    const T *mu = running_mean.data<T>(), *var = running_var.data<T>();
    for (int64_t c = 0; c < C; ++c) {
      double sigma = std::sqrt(double(var[c]) + eps), sigma_batch = 1.0 / double(rstd[c]);
      r.data<T>()[c] = T(std::clamp(sigma_batch / sigma, 1.0 / r_max, r_max));
      d.data<T>()[c] = T(std::clamp((double(mean[c]) - double(mu[c])) / sigma, -d_max, d_max));
    }
  });
  return {r, d};
}

}  // namespace

Tensor batch_renorm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                    const Tensor& bias, bool training, double momentum, double eps, double r_max, double d_max) {
  check_arguments(input, running_mean, running_var, r_max, d_max);
  if (!training) return batch_norm(input, running_mean, running_var, weight, bias, false, momentum, eps);

  // the running statistics before batch_norm_forward moves them: r and d compare the batch with these
  Tensor mu = running_mean.detach().clone(), var = running_var.detach().clone();
  Tensor x = input.detach().contiguous();
  Tensor w = weight.defined() ? weight.detach().contiguous() : Tensor();
  Tensor b = bias.defined() ? bias.detach().contiguous() : Tensor();
  ops::check_affine("batch_renorm", "weight", w, x, {x.size(1)});
  ops::check_affine("batch_renorm", "bias", b, x, {x.size(1)});
  // BatchNorm's statistics, then y = xbn · scale + shift in the normalizing pass:
  // scale = w·r, shift = w·d + b, r and d from the batch's statistics
  Tensor r, d, scale, shift;
  NormForward bn = ops::batch_norm_forward_with_batch_affine(
      "batch_renorm", x, running_mean, running_var, momentum, eps, [&](const Tensor& mean, const Tensor& rstd) {
        std::tie(r, d) = correction(mean, rstd, mu, var, eps, r_max, d_max);
        scale = w.defined() ? w * r : r;
        shift = w.defined() ? w * d : d;
        if (b.defined()) shift = shift + b;
        return std::pair{scale, shift};
      });
  Tensor y = bn.y;
  if (!needs_grad(input, weight, bias)) return y;

  NormGradsWanted wanted{needs_grad(input), needs_grad(weight), needs_grad(weight) || needs_grad(bias), false};
  bool affine_weight = w.defined(), wants_bias = needs_grad(bias);
  attach(
      y, "batch_renorm", {input, weight, bias}, save(x, scale, bn.mean, bn.rstd, r, d),
      [wanted, affine_weight, wants_bias](const Tensor& grad, const Tensor& x, const Tensor& scale, const Tensor& mean,
                                          const Tensor& rstd, const Tensor& r, const Tensor& d) -> Grads {
        // BatchNorm's backward with the weight w·r: dx, Σ dy·xbn (dweight) and Σ dy (dbias)
        NormBackward bn = batch_norm_backward(grad, x, scale, mean, rstd, true, wanted);
        Tensor dw = wanted.weight && affine_weight ? bn.dweight * r + bn.dbias * d : Tensor();
        return {bn.dx, dw, wants_bias ? bn.dbias : Tensor()};
      });
  return y;
}

// ---- the composed reference: the same math from primitive ops; autograd derives its backward

// r and d from the batch's statistics and the running ones, detached (the
// stop-gradient); then BatchNorm in training with the weight w·r and bias
// w·d + b — xbn·w·r + w·d + b = w·xhat + b — which also moves the running statistics.
Tensor reference::batch_renorm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                               const Tensor& weight, const Tensor& bias, bool training, double momentum, double eps,
                               double r_max, double d_max) {
  check_arguments(x, running_mean, running_var, r_max, d_max);
  if (!training) return reference::batch_norm(x, running_mean, running_var, weight, bias, false, momentum, eps);
  Tensor r, d;
  {
    NoGradGuard no_grad;
    Shape dims = ops::non_channel_dims(x);
    Tensor batch_mean = x.mean(dims).reshape({x.size(1)});
    Tensor batch_std = sqrt(x.var(dims, /*unbiased=*/false).reshape({x.size(1)}) + eps);
    Tensor sigma = sqrt(running_var + eps);
    r = clamp(batch_std / sigma, 1.0 / r_max, r_max);
    d = clamp((batch_mean - running_mean) / sigma, -d_max, d_max);
  }
  Tensor w = weight.defined() ? weight * r : r, b = weight.defined() ? weight * d : d;
  if (bias.defined()) b = b + bias;
  return reference::batch_norm(x, running_mean, running_var, w, b, true, momentum, eps);
}

}  // namespace nl
