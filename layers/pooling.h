#pragma once
// MaxPool2d, AvgPool2d and AdaptiveAvgPool2d, as torch.nn: stateless wrappers
// of the ops of the same name (core/ops/pool2d.cpp), with their options
// (dilation, ceil_mode, count_include_pad, divisor_override: 0 for None).
// Without a stride, stride = kernel_size.
#include <fmt/format.h>

#include <string>

#include "core/ops.h"
#include "layers/module.h"

namespace nl::layers {

namespace pooling_detail {
// PyTorch prints an int when both sizes agree, else the pair.
inline std::string size_repr(Size2 s) {
  return s.h == s.w ? fmt::format("{}", s.h) : fmt::format("({}, {})", s.h, s.w);
}
inline void check(const char* layer, Size2 kernel, Size2 stride, Size2 padding) {
  if (kernel.h <= 0 || kernel.w <= 0 || stride.h <= 0 || stride.w <= 0)
    fail("{}: kernel_size and stride must be positive, got kernel_size={} stride={}", layer, size_repr(kernel),
         size_repr(stride));
  if (padding.h < 0 || padding.w < 0 || 2 * padding.h > kernel.h || 2 * padding.w > kernel.w)
    fail("{}: padding must be non-negative and at most half the kernel size, got padding={} for kernel_size={}", layer,
         size_repr(padding), size_repr(kernel));
}
}  // namespace pooling_detail

class MaxPool2d : public Layer<MaxPool2d> {
 public:
  explicit MaxPool2d(Size2 kernel_size) : MaxPool2d(kernel_size, kernel_size) {}
  MaxPool2d(Size2 kernel_size_, Size2 stride_, Size2 padding_ = 0, Size2 dilation_ = 1, bool ceil_mode_ = false)
      : Layer("MaxPool2d"),
        kernel_size(kernel_size_),
        stride(stride_),
        padding(padding_),
        dilation(dilation_),
        ceil_mode(ceil_mode_) {
    pooling_detail::check("MaxPool2d", kernel_size, stride, padding);
    if (dilation.h <= 0 || dilation.w <= 0)
      fail("MaxPool2d: dilation must be positive, got dilation={}", pooling_detail::size_repr(dilation));
  }
  Size2 kernel_size, stride, padding, dilation;
  bool ceil_mode;

 protected:
  friend Layer<MaxPool2d>;
  Tensor forward(const Tensor& x) override { return max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode); }
  std::string extra_repr() const override {
    using pooling_detail::size_repr;
    return fmt::format("kernel_size={}, stride={}, padding={}, dilation={}, ceil_mode={}", size_repr(kernel_size),
                       size_repr(stride), size_repr(padding), size_repr(dilation), ceil_mode ? "True" : "False");
  }
};

class AvgPool2d : public Layer<AvgPool2d> {
 public:
  explicit AvgPool2d(Size2 kernel_size) : AvgPool2d(kernel_size, kernel_size) {}
  AvgPool2d(Size2 kernel_size_, Size2 stride_, Size2 padding_ = 0, bool ceil_mode_ = false,
            bool count_include_pad_ = true, int64_t divisor_override_ = 0)
      : Layer("AvgPool2d"),
        kernel_size(kernel_size_),
        stride(stride_),
        padding(padding_),
        ceil_mode(ceil_mode_),
        count_include_pad(count_include_pad_),
        divisor_override(divisor_override_) {
    pooling_detail::check("AvgPool2d", kernel_size, stride, padding);
    if (divisor_override < 0)
      fail("AvgPool2d: divisor_override must be positive (or 0: None), got {}", divisor_override);
  }
  Size2 kernel_size, stride, padding;
  bool ceil_mode, count_include_pad;
  int64_t divisor_override;

 protected:
  friend Layer<AvgPool2d>;
  Tensor forward(const Tensor& x) override {
    return avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override);
  }
  std::string extra_repr() const override {
    using pooling_detail::size_repr;
    return fmt::format("kernel_size={}, stride={}, padding={}", size_repr(kernel_size), size_repr(stride),
                       size_repr(padding));
  }
};

class AdaptiveAvgPool2d : public Layer<AdaptiveAvgPool2d> {
 public:
  explicit AdaptiveAvgPool2d(Size2 output_size_) : Layer("AdaptiveAvgPool2d"), output_size(output_size_) {
    if (output_size.h <= 0 || output_size.w <= 0)
      fail("AdaptiveAvgPool2d: output_size must be positive, got {}", pooling_detail::size_repr(output_size));
  }
  Size2 output_size;

 protected:
  friend Layer<AdaptiveAvgPool2d>;
  Tensor forward(const Tensor& x) override { return adaptive_avg_pool2d(x, output_size); }
  std::string extra_repr() const override {
    return fmt::format("output_size={}", pooling_detail::size_repr(output_size));
  }
};

}  // namespace nl::layers
