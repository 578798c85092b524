#pragma once
// GroupNorm (Wu & He 2018), as torch.nn.GroupNorm: the C channels of an input
// (N, C) or (N, C, L) are split into num_groups groups of C/G consecutive
// channels; each sample's group is normalized over its C/G·L values, then
// every channel gets its own scale and shift:
//
//   g = c / (C/G),  mean[n,g], var[n,g] over the group's values (biased var)
//   y[n,c,l] = (x[n,c,l] − mean[n,g]) / √(var[n,g] + eps) · weight[c] + bias[c]
//
// G = 1 is LayerNorm over (C, L) with per-channel affine; G = C is
// InstanceNorm. Like LayerNorm it never looks across samples: the same in
// training and eval, any batch size. The worked example of docs/extending.md.
#include "layers/module.h"

namespace nl::layers {

// The fused op: the LayerNorm kernels (nl::layer_norm_forward/backward) on
// the N·G rows of C/G·L values, plus the per-channel affine, with one gradient
// rule for all of it. weight and bias: shape [C] or undefined.
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight = Tensor(), const Tensor& bias = Tensor(),
                  double eps = 1e-5);

namespace reference {
// The same, composed from primitive ops (mean, var, rsqrt, broadcasting);
// autograd derives its backward. The fused op is tested against it.
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight = Tensor(), const Tensor& bias = Tensor(),
                  double eps = 1e-5);
}  // namespace reference

class GroupNorm : public Module {
 public:
  // weight starts at 1, bias at 0 (when affine).
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true, DType dtype = f32);
  Tensor forward(const Tensor& x) override;

  int64_t num_groups, num_channels;
  double eps;
  Tensor weight, bias;  // [num_channels]; undefined without affine
  bool use_reference = false;

 protected:
  std::string extra_repr() const override;
};

}  // namespace nl::layers
