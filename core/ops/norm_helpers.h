#pragma once
// What the fused normalization ops (layer_norm.cpp, batch_norm.cpp,
// group_norm.cpp) and their composed references share: argument checks,
// optional tensors, and the references' affine step.
#include <algorithm>
#include <functional>
#include <utility>

#include "core/kernels/lane_sum.h"
#include "core/ops/helpers.h"

namespace nl::ops {

// The trailing dims of x must equal normalized_shape; returns (rows, row length).
inline std::pair<int64_t, int64_t> check_trailing_shape(const char* op, const Tensor& x,
                                                        const Shape& normalized_shape) {
  check_floating(op, x);
  int k = normalized_shape.size();
  bool ok = k >= 1 && k <= x.dim();
  for (int i = 0; ok && i < k; ++i) ok = x.shape()[x.dim() - k + i] == normalized_shape[i];
  if (!ok)
    fail("{}: normalized_shape {} must equal the trailing dims of the input, got input {}", op, normalized_shape,
         x.shape());
  int64_t n = numel_of(normalized_shape);
  return {n == 0 ? 0 : x.numel() / n, n};
}

// An optional affine parameter (weight or bias): undefined, or `shape` in x's dtype.
inline void check_affine(const char* op, const char* name, const Tensor& p, const Tensor& x, const Shape& shape) {
  if (!p.defined()) return;
  if (p.shape() != shape) fail("{}: {} must have shape {}, got {} (input {})", op, name, shape, p.shape(), x.shape());
  if (p.dtype() != x.dtype())
    fail("{}: {} has dtype {} but the input has {} (convert with .to())", op, name, p.dtype(), x.dtype());
}

// A required tensor argument of a norm's backward (grad_output, mean, rstd):
// defined, of `shape`, in x's dtype.
inline void check_same_shape(const char* op, const char* name, const Tensor& t, const Tensor& x, const Shape& shape) {
  if (!t.defined()) fail("{}: {} is required (input {})", op, name, x.shape());
  if (t.shape() != shape) fail("{}: {} must have shape {}, got {} (input {})", op, name, shape, t.shape(), x.shape());
  if (t.dtype() != x.dtype())
    fail("{}: {} has dtype {} but the input has {} (convert with .to())", op, name, t.dtype(), x.dtype());
}

// Fresh outputs for the gradients a norm's backward was asked for (undefined
// where not wanted): dx like x, dweight and dbias of param_shape (no dbias
// without a bias), the two sums one per group.
inline NormBackward allocate_norm_grads(const char* op, NormGradsWanted wanted, const Tensor& x,
                                        const Shape& param_shape, int64_t groups, bool has_bias = true) {
  auto make_if = [&](bool wanted_here, const Shape& shape) {
    return wanted_here ? Tensor::make(shape, x.dtype(), op) : Tensor();
  };
  return {make_if(wanted.input, x.shape()), make_if(wanted.weight, param_shape),
          make_if(wanted.bias && has_bias, param_shape), make_if(wanted.sums, {groups}),
          make_if(wanted.sums, {groups})};
}

// {Σdy, Σdy·xhat} over one row of L values, xhat = (x − mean)·rstd, in double,
// in lanes (kernels/lane_sum.h): a row's share of the image norms' dweight and
// dbias. Inlined into the caller: call from an NL_SIMD_CLONES function.
template <typename T>
__attribute__((always_inline)) inline std::pair<double, double> row_dy_sums(const T* dy, const T* x, T mean, T rstd,
                                                                            int64_t L) {
  return kernels::lane_sums<double>(
      L, [&](int64_t l) { return double(dy[l]); },
      [&](int64_t l) { return double(dy[l]) * double((x[l] - mean) * rstd); });
}

// ---- for the composed references ------------------------------------------------------

// The last k dims of a rank-r tensor, k = normalized_shape's rank: {r−k, ..., r−1}.
inline Shape trailing_dims(const Tensor& x, const Shape& normalized_shape) {
  Shape dims;
  for (int i = x.dim() - normalized_shape.size(); i < x.dim(); ++i) dims.push_back(i);
  return dims;
}

// Every dim of x (N, C, *) but the channels': {0, 2, 3, ...}, what BatchNorm reduces over.
inline Shape non_channel_dims(const Tensor& x) {
  Shape dims{0};
  for (int i = 2; i < x.dim(); ++i) dims.push_back(i);
  return dims;
}

// (1, C, 1, ...): the shape in which a per-channel tensor broadcasts against x (N, C, *).
inline Shape channel_shape(const Tensor& x) {
  Shape shape = Shape::filled(x.dim(), 1);
  shape[1] = x.size(1);
  return shape;
}

// y·weight + bias, each only when defined (they broadcast against y).
inline Tensor affine(Tensor y, const Tensor& weight, const Tensor& bias) {
  if (weight.defined()) y = y * weight;
  if (bias.defined()) y = y + bias;
  return y;
}

// batch_norm's training forward (core/ops/batch_norm.cpp) that normalizes with
// an affine formed from the batch's statistics: after the mean and rstd are
// formed and the running statistics have moved, affine(mean, rstd) returns
// the weight and bias ([C] each) of y = xhat·weight + bias, applied in the
// same pass as the normalization. Batch Renormalization's w·r and w·d + b
// (core/ops/batch_renorm.cpp).
using BatchAffine = std::function<std::pair<Tensor, Tensor>(const Tensor& mean, const Tensor& rstd)>;
NormForward batch_norm_forward_with_batch_affine(const char* op, const Tensor& x, const Tensor& running_mean,
                                                 const Tensor& running_var, double momentum, double eps,
                                                 const BatchAffine& affine);

}  // namespace nl::ops
