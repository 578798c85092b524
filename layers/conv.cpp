#include "layers/conv.h"

#include <fmt/format.h>

#include "layers/init.h"

namespace nl::layers {

namespace {

void check_channels(const char* layer, int64_t in, int64_t out, int64_t groups) {
  if (in <= 0 || out <= 0 || groups <= 0 || in % groups != 0 || out % groups != 0)
    fail(
        "{}: in_channels and out_channels must be positive and divisible by groups, got in_channels={} "
        "out_channels={} groups={}",
        layer, in, out, groups);
}

// weight and bias U(−1/√fan_in, 1/√fan_in), fan_in = weight.numel() / out
void init_parameters(Tensor& weight, Tensor& bias, int64_t out_channels) {
  int64_t fan_in = weight.numel() / out_channels;
  init::linear_default_(weight, fan_in);
  if (bias.defined()) init::linear_default_(bias, fan_in);
}

// PyTorch's tuples: (3, 3) for Conv2d, (3,) for Conv1d.
std::string tuple(Size2 s) { return fmt::format("({}, {})", s.h, s.w); }
std::string tuple(int64_t v) { return fmt::format("({},)", v); }

// "in, out, kernel_size=..., stride=..." with padding, dilation, groups and
// bias shown only when not the default, as PyTorch prints them.
template <typename S>
std::string conv_repr(int64_t in, int64_t out, S kernel, S stride, S padding, S dilation, int64_t groups, bool bias) {
  std::string s = fmt::format("{}, {}, kernel_size={}, stride={}", in, out, tuple(kernel), tuple(stride));
  if (!(padding == S(0))) s += fmt::format(", padding={}", tuple(padding));
  if (!(dilation == S(1))) s += fmt::format(", dilation={}", tuple(dilation));
  if (groups != 1) s += fmt::format(", groups={}", groups);
  if (!bias) s += ", bias=False";
  return s;
}

}  // namespace

Conv2d::Conv2d(int64_t in, int64_t out, Size2 kernel, Size2 stride_, Size2 padding_, Size2 dilation_, int64_t groups_,
               bool with_bias, DType dtype)
    : Layer("Conv2d"),
      in_channels(in),
      out_channels(out),
      kernel_size(kernel),
      stride(stride_),
      padding(padding_),
      dilation(dilation_),
      groups(groups_) {
  check_channels("Conv2d", in, out, groups);
  if (kernel.h <= 0 || kernel.w <= 0) fail("Conv2d: kernel_size must be positive, got ({}, {})", kernel.h, kernel.w);
  weight = empty({out, in / groups, kernel.h, kernel.w}, dtype);
  if (with_bias) bias = empty({out}, dtype);
  init_parameters(weight, bias, out);
  register_parameter("weight", weight);
  register_parameter("bias", bias);
}

Tensor Conv2d::forward(const Tensor& x) {
  if (x.dim() != 4 || x.shape()[1] != in_channels)
    fail("Conv2d: expected input (N, {}, H, W), got {}", in_channels, x.shape());
  return conv2d(x, weight, bias, stride, padding, dilation, groups);  // im2col + GEMM (core/ops/conv2d.cpp)
}

std::string Conv2d::extra_repr() const {
  return conv_repr(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias.defined());
}

Conv1d::Conv1d(int64_t in, int64_t out, int64_t kernel, int64_t stride_, int64_t padding_, int64_t dilation_,
               int64_t groups_, bool with_bias, DType dtype)
    : Layer("Conv1d"),
      in_channels(in),
      out_channels(out),
      kernel_size(kernel),
      stride(stride_),
      padding(padding_),
      dilation(dilation_),
      groups(groups_) {
  check_channels("Conv1d", in, out, groups);
  if (kernel <= 0) fail("Conv1d: kernel_size must be positive, got {}", kernel);
  weight = empty({out, in / groups, kernel}, dtype);
  if (with_bias) bias = empty({out}, dtype);
  init_parameters(weight, bias, out);
  register_parameter("weight", weight);
  register_parameter("bias", bias);
}

Tensor Conv1d::forward(const Tensor& x) {
  if (x.dim() != 3 || x.shape()[1] != in_channels)
    fail("Conv1d: expected input (N, {}, L), got {}", in_channels, x.shape());
  return conv1d(x, weight, bias, stride, padding, dilation, groups);
}

std::string Conv1d::extra_repr() const {
  return conv_repr(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias.defined());
}

}  // namespace nl::layers
