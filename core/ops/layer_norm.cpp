// layer_norm and rms_norm: the fused LayerNorm (Ba, Kiros & Hinton 2016) and
// RMSNorm (Zhang & Sennrich 2019) over the trailing dims, forward and backward
// side by side. Each row x of n values:
//
//   LayerNorm: mean = Σx / n,  var = Σ(x − mean)² / n,  rstd = 1 / √(var + eps)
//              xhat = (x − mean) · rstd,  y = xhat · w + b
//   RMSNorm:   rstd = 1 / √(Σx² / n + eps),  xhat = x · rstd,  y = xhat · w
//
// RMSNorm is LayerNorm without the centering (mean fixed at 0, no bias), so
// one kernel does both, switched by the template flag kCenter.
//
// The forward saves mean and rstd per row; the backward reads x and dy once
// and rebuilds xhat from them. With dxhat = dy · w, differentiating through
// mean and rstd gives the compact form (derivation in docs/normalization.md):
//
//   LayerNorm: dx = rstd / n · (n · dxhat − Σdxhat − xhat · Σ(dxhat · xhat))
//   RMSNorm:   dx = rstd / n · (n · dxhat − xhat · Σ(dxhat · xhat))
//   both:      dw = Σ_rows dy · xhat,   db = Σ_rows dy
//
// Rows run in parallel; dw and db are summed per block of rows and the blocks
// added in order (kernels/row_blocks.h), so results do not depend on threads.
// The row sums carry `omp simd` so the compiler may vectorize them
// (reassociating a float sum is otherwise forbidden).
#include <cmath>

#include "core/kernels/row_blocks.h"
#include "core/ops/norm_checks.h"

namespace nl {

namespace {
using kernels::for_each_row_block;

template <typename T, bool kCenter>
void layer_norm_forward(const T* x, const T* weight, const T* bias, T* y, T* mean, T* rstd, int64_t rows,
                        int64_t n, double eps) {
  for_each_row_block(rows, n, [&](int64_t lo, int64_t hi, int64_t) {
    for (int64_t r = lo; r < hi; ++r) {
      const T* xr = x + r * n;
      T* yr = y + r * n;
      T m = 0;
      if constexpr (kCenter) {
        T sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int64_t k = 0; k < n; ++k) sum += xr[k];
        m = sum / T(n);
      }
      T squares = 0;
#pragma omp simd reduction(+ : squares)
      for (int64_t k = 0; k < n; ++k) squares += (xr[k] - m) * (xr[k] - m);
      T s = T(1) / std::sqrt(squares / T(n) + T(eps));
      for (int64_t k = 0; k < n; ++k) {
        T xhat = (xr[k] - m) * s;
        yr[k] = (weight ? xhat * weight[k] : xhat) + (bias ? bias[k] : T(0));
      }
      mean[r] = m;
      rstd[r] = s;
    }
  });
}

// dx, dweight, dbias may each be null when that gradient is not wanted.
template <typename T, bool kCenter>
void layer_norm_backward(const T* dy, const T* x, const T* weight, const T* mean, const T* rstd, T* dx, T* dweight,
                         T* dbias, int64_t rows, int64_t n) {
  kernels::BlockPartials<T> dweight_partials(dweight ? rows : 0, n), dbias_partials(dbias ? rows : 0, n);
  for_each_row_block(rows, n, [&](int64_t lo, int64_t hi, int64_t block) {
    T* dw = dweight ? dweight_partials.row(block) : nullptr;
    T* db = dbias ? dbias_partials.row(block) : nullptr;
    for (int64_t r = lo; r < hi; ++r) {
      const T* dyr = dy + r * n;
      const T* xr = x + r * n;
      T m = mean[r], s = rstd[r];
      if (dw)
        for (int64_t k = 0; k < n; ++k) dw[k] += dyr[k] * (xr[k] - m) * s;
      if (db)
        for (int64_t k = 0; k < n; ++k) db[k] += dyr[k];
      if (!dx) continue;
      T sum_dxhat = 0, sum_dxhat_xhat = 0;
#pragma omp simd reduction(+ : sum_dxhat, sum_dxhat_xhat)
      for (int64_t k = 0; k < n; ++k) {
        T dxhat = weight ? dyr[k] * weight[k] : dyr[k];
        sum_dxhat += dxhat;
        sum_dxhat_xhat += dxhat * (xr[k] - m) * s;
      }
      if constexpr (!kCenter) sum_dxhat = 0;
      T* dxr = dx + r * n;
      for (int64_t k = 0; k < n; ++k) {
        T dxhat = weight ? dyr[k] * weight[k] : dyr[k];
        T xhat = (xr[k] - m) * s;
        dxr[k] = s / T(n) * (T(n) * dxhat - sum_dxhat - xhat * sum_dxhat_xhat);
      }
    }
  });
  if (dweight) dweight_partials.reduce(dweight);
  if (dbias) dbias_partials.reduce(dbias);
}

// The op around the kernels, for both norms (mean is all zeros for RMSNorm).
template <bool kCenter>
Tensor row_norm(const char* op, const Tensor& input, const Shape& normalized_shape, const Tensor& weight,
                const Tensor& bias, double eps) {
  auto [rows, n] = ops::check_trailing_shape(op, input, normalized_shape);
  ops::check_affine(op, "weight", weight, input, normalized_shape);
  ops::check_affine(op, "bias", bias, input, normalized_shape);
  if (!(eps >= 0)) fail("{}: eps must be >= 0, got {}", op, eps);

  Tensor x = input.contiguous();
  Tensor w = weight.defined() ? weight.contiguous() : weight;
  Tensor b = bias.defined() ? bias.contiguous() : bias;
  Tensor y = Tensor::make(x.shape(), x.dtype(), op);
  Tensor mean = Tensor::make({rows}, x.dtype(), op), rstd = Tensor::make({rows}, x.dtype(), op);
  dispatch_floating(op, x.dtype(), [&]<typename T>() {
    layer_norm_forward<T, kCenter>(x.data<T>(), ops::data_or_null<T>(w), ops::data_or_null<T>(b), y.data<T>(),
                                   mean.data<T>(), rstd.data<T>(), rows, n, eps);
  });
  if (!needs_grad(input, weight, bias)) return y;

  bool want_dx = needs_grad(input), want_dw = needs_grad(weight), want_db = needs_grad(bias);
  attach(y, op, {input, weight, bias},
         [x = x.detach(), w = w.defined() ? w.detach() : w, mean, rstd, normalized_shape, rows, n, want_dx, want_dw,
          want_db](const Tensor& grad) -> Grads {
           const char* backward_op = kCenter ? "layer_norm_backward" : "rms_norm_backward";
           Tensor dy = grad.contiguous();
           auto make_if = [&](bool wanted, const Shape& shape) {
             return wanted ? Tensor::make(shape, x.dtype(), backward_op) : Tensor();
           };
           Tensor dx = make_if(want_dx, x.shape()), dw = make_if(want_dw, normalized_shape),
                  db = make_if(want_db, normalized_shape);
           dispatch_floating(backward_op, x.dtype(), [&]<typename T>() {
             auto out = [](const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
             layer_norm_backward<T, kCenter>(dy.data<T>(), x.data<T>(), ops::data_or_null<T>(w), mean.data<T>(),
                                             rstd.data<T>(), out(dx), out(dw), out(db), rows, n);
           });
           return {dx, dw, db};
         });
  return y;
}
}  // namespace

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  return row_norm<true>("layer_norm", x, normalized_shape, weight, bias, eps);
}

Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, double eps) {
  return row_norm<false>("rms_norm", x, normalized_shape, weight, Tensor(), eps);
}

}  // namespace nl
