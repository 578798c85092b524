#pragma once
// Argument checks shared by the fused normalization ops.
#include "core/ops/helpers.h"

namespace nl::ops {

// The trailing dims of x must equal normalized_shape; returns (rows, row length).
inline std::pair<int64_t, int64_t> check_trailing_shape(const char* op, const Tensor& x, const Shape& normalized_shape) {
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
  if (p.shape() != shape)
    fail("{}: {} must have shape {}, got {} (input {})", op, name, shape, p.shape(), x.shape());
  if (p.dtype() != x.dtype())
    fail("{}: {} has dtype {} but the input has {} (convert with .to())", op, name, p.dtype(), x.dtype());
}

// A required tensor argument of a norm's backward (grad_output, mean, rstd):
// defined, of `shape`, in x's dtype.
inline void check_same_shape(const char* op, const char* name, const Tensor& t, const Tensor& x, const Shape& shape) {
  if (!t.defined()) fail("{}: {} is required (input {})", op, name, x.shape());
  if (t.shape() != shape)
    fail("{}: {} must have shape {}, got {} (input {})", op, name, shape, t.shape(), x.shape());
  if (t.dtype() != x.dtype())
    fail("{}: {} has dtype {} but the input has {} (convert with .to())", op, name, t.dtype(), x.dtype());
}

// Contiguous data pointer of an optional tensor (nullptr when undefined).
template <typename T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

}  // namespace nl::ops
