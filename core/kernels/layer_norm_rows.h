#pragma once
// One row of LayerNorm (kCenter = true) or RMSNorm (kCenter = false), forward
// and backward: what layer_norm (core/ops/layer_norm.cpp) runs on every row
// and the fused layer-normalized LSTM (core/ops/layer_norm_lstm_sequence.cpp)
// runs inside its time steps. For a row x of n values:
//
//   forward:  mean = Σx / n,  rstd = 1 / √(Σ(x − mean)² / n + eps)
//             xhat = (x − mean) · rstd,  y = xhat · w + b
//   backward: dxhat = dy · w
//             dx = rstd / n · (n · dxhat − Σdxhat − xhat · Σ(dxhat · xhat))
//             dw += dy · xhat,  db += dy
//
// (RMSNorm: mean fixed at 0 and no Σdxhat term.) The sums run in lanes
// (lane_sum.h). Always inlined: call them from an NL_SIMD_CLONES function,
// whose AVX2 clone then compiles them for AVX2.
#include <cmath>
#include <cstdint>
#include <utility>

#include "core/kernels/lane_sum.h"

namespace nl::kernels {

// {mean, rstd} of one row of n values (RMSNorm: mean 0): the sum, then the
// squared deviations (two passes, no cancellation), each in lanes.
template <typename T, bool kCenter = true>
__attribute__((always_inline)) inline std::pair<T, T> layer_norm_row_statistics(const T* x, int64_t n, T eps) {
  T m = 0;
  if constexpr (kCenter) m = lane_sum<T>(n, [&](int64_t k) { return x[k]; }) / T(n);
  T squares = lane_sum<T>(n, [&](int64_t k) { return (x[k] - m) * (x[k] - m); });
  return {m, T(1) / std::sqrt(squares / T(n) + eps)};
}

// y = LN(x)·w + b for one row (b may be null); returns {mean, rstd}. y may be x.
template <typename T, bool kCenter = true>
__attribute__((always_inline)) inline std::pair<T, T> layer_norm_row_forward(const T* x, const T* w, const T* b, T* y,
                                                                             int64_t n, T eps) {
  const auto [m, s] = layer_norm_row_statistics<T, kCenter>(x, n, eps);
  for (int64_t k = 0; k < n; ++k) y[k] = (x[k] - m) * s * w[k] + (b ? b[k] : T(0));
  return {m, s};
}

// dx for one row from dy and the forward's x, mean, rstd; adds the row's
// dw and db terms into dw and db. Returns {Σdxhat, Σdxhat·xhat} (Σdxhat is 0
// for RMSNorm).
template <typename T, bool kCenter = true>
__attribute__((always_inline)) inline std::pair<T, T> layer_norm_row_backward(const T* dy, const T* x, const T* w, T m,
                                                                              T s, T* __restrict dx, T* __restrict dw,
                                                                              T* __restrict db, int64_t n) {
  auto [sum_dxhat, sum_dxhat_xhat] = lane_sums<T>(
      n, [&](int64_t k) { return dy[k] * w[k]; }, [&](int64_t k) { return dy[k] * w[k] * (x[k] - m) * s; });
  if constexpr (!kCenter) sum_dxhat = 0;
  for (int64_t k = 0; k < n; ++k) {  // the row still in L1
    T xhat = (x[k] - m) * s;
    dw[k] += dy[k] * xhat;  // dw = Σ_rows dy·xhat
    db[k] += dy[k];         // db = Σ_rows dy
    dx[k] = s / T(n) * (T(n) * dy[k] * w[k] - sum_dxhat - xhat * sum_dxhat_xhat);
  }
  return {sum_dxhat, sum_dxhat_xhat};
}

}  // namespace nl::kernels
