#pragma once
// Small building blocks shared by the op files: allocate an output and run an
// elementwise lambda over it, with the dtype dispatched once per call.
#include "core/autograd.h"
#include "core/kernels/elementwise.h"
#include "core/ops.h"

namespace nl::ops {

// y = f(x) elementwise; x must be floating. f is generic: [](auto v) { ... }.
template <typename F>
Tensor map_float(const char* op, const Tensor& x, F f) {
  Tensor y = Tensor::make(x.shape(), x.dtype(), op);
  dispatch_floating(op, x.dtype(), [&]<typename T>() { kernels::map_unary<T, T>(x, y, [&](T v) { return T(f(v)); }); });
  return y;
}

// y = f(x) elementwise for any dtype (f receives T and a value of type T).
template <typename F>
Tensor map_any(const char* op, const Tensor& x, F f) {
  Tensor y = Tensor::make(x.shape(), x.dtype(), op);
  dispatch_all(x.dtype(), [&]<typename T>() { kernels::map_unary<T, T>(x, y, [&](T v) { return T(f(v)); }); });
  return y;
}

inline void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    fail("{}: dtype mismatch, {} {} and {} {} (convert one with .to())", op, a.shape(), a.dtype(), b.shape(),
         b.dtype());
}

// y = f(a, b) elementwise with broadcasting; same dtype required.
// Floating only unless any_dtype is set.
template <typename F>
Tensor zip(const char* op, const Tensor& a, const Tensor& b, F f, bool any_dtype = false) {
  check_same_dtype(op, a, b);
  Tensor y = Tensor::make(broadcast_shapes(op, a.shape(), b.shape()), a.dtype(), op);
  auto run = [&]<typename T>() { kernels::map_binary<T, T>(a, b, y, [&](T u, T v) { return T(f(u, v)); }); };
  if (any_dtype)
    dispatch_all(a.dtype(), run);
  else
    dispatch_floating(op, a.dtype(), run);
  return y;
}

// Data pointer of an optional tensor (nullptr when undefined).
template <typename T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

inline void check_floating(const char* op, const Tensor& x) {
  if (!x.is_floating_point())
    fail("{}: expected a floating tensor (float32 or float64), got {} of shape {}", op, x.dtype(), x.shape());
}

}  // namespace nl::ops
