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
// training and eval, any batch size. forward calls the fused op nl::group_norm
// (core/ops/group_norm.cpp); use_reference switches to nl::reference::group_norm.
// The worked example of docs/extending.md.
#include "layers/module.h"

namespace nl::layers {

class GroupNorm : public Layer<GroupNorm> {
 public:
  // weight starts at 1, bias at 0 (when affine).
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true, DType dtype = f32);

  int64_t num_groups, num_channels;
  double eps;
  Tensor weight, bias;  // [num_channels]; undefined without affine
  bool use_reference = false;

 protected:
  friend Layer<GroupNorm>;
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
};

}  // namespace nl::layers
