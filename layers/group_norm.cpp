// GroupNorm: the module. The op and its composed reference are in
// core/ops/group_norm.cpp.
#include "layers/group_norm.h"

#include <fmt/format.h>

#include "core/ops.h"

namespace nl::layers {

GroupNorm::GroupNorm(int64_t num_groups, int64_t num_channels, double eps, bool affine, DType dtype)
    : Layer("GroupNorm"), num_groups(num_groups), num_channels(num_channels), eps(eps) {
  if (num_groups <= 0 || num_channels <= 0 || num_channels % num_groups != 0)
    fail(
        "GroupNorm: num_channels must be divisible by num_groups (both positive), got num_groups={}, "
        "num_channels={}",
        num_groups, num_channels);
  if (!(eps >= 0)) fail("GroupNorm: eps must be >= 0, got {}", eps);
  if (affine) {
    weight = ones({num_channels}, dtype);
    bias = zeros({num_channels}, dtype);
  }
  register_parameter("weight", weight);
  register_parameter("bias", bias);
}

Tensor GroupNorm::forward(const Tensor& x) {
  if (x.dim() < 2 || x.shape()[1] != num_channels)
    fail("GroupNorm: expected input (N, {0}) or (N, {0}, *), got {1}", num_channels, x.shape());
  return use_reference ? nl::reference::group_norm(x, num_groups, weight, bias, eps)
                       : group_norm(x, num_groups, weight, bias, eps);
}

std::string GroupNorm::extra_repr() const {
  return fmt::format("{}, {}, eps={}, affine={}", num_groups, num_channels, eps, weight.defined());
}

}  // namespace nl::layers
