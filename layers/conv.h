#pragma once
// Conv1d and Conv2d, as torch.nn: weight (out_channels, in_channels/groups,
// kernel...) and bias (out_channels), both starting U(−1/√fan_in, 1/√fan_in)
// with fan_in = in_channels/groups · kernel size (PyTorch's
// kaiming_uniform_(a=√5) and its bias rule). Zero padding only.
#include "core/ops.h"
#include "layers/module.h"

namespace nl::layers {

class Conv2d : public Layer<Conv2d> {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, Size2 stride = 1, Size2 padding = 0,
         Size2 dilation = 1, int64_t groups = 1, bool bias = true, DType dtype = f32);

  int64_t in_channels, out_channels;
  Size2 kernel_size, stride, padding, dilation;
  int64_t groups;
  Tensor weight, bias;  // (out, in/groups, kH, kW), (out) or undefined

 protected:
  friend Layer<Conv2d>;
  Tensor forward(const Tensor& x) override;  // (N, in, H, W) -> (N, out, H_out, W_out)
  std::string extra_repr() const override;
};

class Conv1d : public Layer<Conv1d> {
 public:
  Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1, int64_t padding = 0,
         int64_t dilation = 1, int64_t groups = 1, bool bias = true, DType dtype = f32);

  int64_t in_channels, out_channels, kernel_size, stride, padding, dilation, groups;
  Tensor weight, bias;  // (out, in/groups, K), (out) or undefined

 protected:
  friend Layer<Conv1d>;
  Tensor forward(const Tensor& x) override;  // (N, in, L) -> (N, out, L_out)
  std::string extra_repr() const override;
};

}  // namespace nl::layers
