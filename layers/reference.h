#pragma once
// The normalization layers composed from primitive ops — the reference the
// fused kernels (core/ops/layer_norm.cpp, batch_norm.cpp) are tested against,
// and the clearest statement of what each layer computes. Autograd derives
// their backward from the primitives; the fused kernels use the closed form.
// Same arguments and results as nl::layer_norm, nl::rms_norm, nl::batch_norm.
#include "core/tensor.h"

namespace nl::layers::reference {

// mean and biased var over the trailing dims; y = (x − mean)/√(var + eps)·w + b
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);
// y = x / √(mean(x²) + eps) · w over the trailing dims
Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(), double eps = 1e-6);
// statistics over dims (0) of (N, C) or (0, 2) of (N, C, L); running stats
// updated in place in training when given
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), bool training = true,
                  double momentum = 0.1, double eps = 1e-5);

}  // namespace nl::layers::reference
