#include "layers/reference.h"

#include "core/autograd.h"
#include "core/ops.h"

namespace nl::layers::reference {

namespace {
// The last k dims of a rank-r tensor: {r−k, ..., r−1}.
Shape trailing_dims(const Tensor& x, const Shape& normalized_shape) {
  Shape dims;
  for (int i = x.dim() - normalized_shape.size(); i < x.dim(); ++i) dims.push_back(i);
  return dims;
}

Tensor affine(Tensor y, const Tensor& weight, const Tensor& bias) {
  if (weight.defined()) y = y * weight;
  if (bias.defined()) y = y + bias;
  return y;
}
}  // namespace

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  Shape dims = trailing_dims(x, normalized_shape);
  Tensor mean = x.mean(dims, /*keepdim=*/true);
  Tensor var = x.var(dims, /*unbiased=*/false, /*keepdim=*/true);
  Tensor xhat = (x - mean) * rsqrt(var + eps);
  return affine(xhat, weight, bias);
}

Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, double eps) {
  Tensor mean_square = (x * x).mean(trailing_dims(x, normalized_shape), /*keepdim=*/true);
  return affine(x * rsqrt(mean_square + eps), weight, Tensor());
}

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  // Per-channel tensors broadcast against x as (1, C) or (1, C, 1).
  int64_t C = x.size(1);
  Shape channel_shape = x.dim() == 2 ? Shape{1, C} : Shape{1, C, 1};
  auto per_channel = [&](const Tensor& t) { return t.defined() ? t.reshape(channel_shape) : t; };
  Shape dims = x.dim() == 2 ? Shape{0} : Shape{0, 2};

  Tensor mean, var;
  if (training) {
    mean = x.mean(dims, /*keepdim=*/true);
    var = x.var(dims, /*unbiased=*/false, /*keepdim=*/true);
    if (running_mean.defined()) {
      NoGradGuard no_grad;
      double n = double(x.numel() / C);
      Tensor(running_mean).copy_(running_mean * (1 - momentum) + mean.reshape({C}) * momentum);
      Tensor(running_var).copy_(running_var * (1 - momentum) + var.reshape({C}) * (momentum * n / (n - 1)));
    }
  } else {
    mean = per_channel(running_mean);
    var = per_channel(running_var);
  }
  Tensor xhat = (x - mean) * rsqrt(var + eps);
  return affine(xhat, per_channel(weight), per_channel(bias));
}

}  // namespace nl::layers::reference
