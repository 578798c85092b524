#pragma once
// One row of the masked softmax, forward and backward, shared by the
// masked_softmax op and the fused multi-head attention (core/ops/attention.cpp,
// core/ops/multi_head_attention.cpp). Either may run in place (y == x, dx == g).
//
//   forward   y_j = exp(x_j − m) / Σ_{k < visible} exp(x_k − m),  m = max_{k < visible} x_k,
//             for j < visible; y_j = 0 for the keys a causal mask hides (j >= visible)
//             and wherever x_j = −inf. A row with nothing visible is all zeros
//             (there is no distribution to normalize; PyTorch gives NaN).
//   backward  dx = y ⊙ (g − Σ_j g_j·y_j)   (blocked entries have y = 0, so dx = 0)
//
// Both are compiled for AVX2 as well (NL_SIMD_CLONES): their callers hold
// OpenMP regions, which are not cloned, and a row's exponentials are most of
// its cost (the GPT step's attention at T 64: the rows 4.0 thread-ms of 22 at
// the baseline's SSE2, 1.9 ns a value).
//
// Also the shift and exponential sum of an unmasked row, shared by
// softmax / log_softmax (core/ops/softmax.cpp) and cross_entropy's
// log-sum-exp (core/ops/nn.cpp):
//   log Σ_k exp(x_k) = m + log Σ_k exp(x_k − m),  m = max_k x_k
// with m = 0 when the maximum is ±inf (a NaN maximum is kept), so every
// exponent is <= 0 and nothing overflows. Always inlined: call them from an
// NL_SIMD_CLONES function.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

#include "core/kernels/simd.h"
#include "core/kernels/vec_math.h"

namespace nl::kernels {

// m for the n values x[k·stride]: their maximum, or 0 when that is ±inf.
template <typename T>
__attribute__((always_inline)) inline T softmax_shift(const T* x, int64_t stride, int64_t n) {
  T m = -INFINITY;
  for (int64_t k = 0; k < n; ++k) m = std::max(m, x[k * stride]);
  return std::isfinite(m) || std::isnan(m) ? m : T(0);
}

// {m, Σ_k exp(x_k − m)}, the sum in double.
template <typename T>
__attribute__((always_inline)) inline std::pair<T, double> shifted_exp_sum(const T* x, int64_t stride, int64_t n) {
  const T m = softmax_shift(x, stride, n);
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t k = 0; k < n; ++k) s += vec::exp(x[k * stride] - m);
  return {m, s};
}

template <typename T>
NL_SIMD_CLONES void masked_softmax_row(const T* x, T* y, int64_t S, int64_t visible) {
  T m = -INFINITY;
#pragma omp simd reduction(max : m)
  for (int64_t j = 0; j < visible; ++j) m = x[j] > m ? x[j] : m;
  if (m == -INFINITY) {  // every key blocked
    std::fill(y, y + S, T(0));
    return;
  }
  double sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < visible; ++j) sum += double(y[j] = vec::exp(x[j] - m));  // y_j ∝ exp(x_j − max)
  T inverse = T(1 / sum);
  for (int64_t j = 0; j < visible; ++j) y[j] *= inverse;
  std::fill(y + visible, y + S, T(0));
}

template <typename T>
NL_SIMD_CLONES void masked_softmax_row_backward(const T* g, const T* y, T* dx, int64_t S) {
  double dot = 0;  // Σ g·y
#pragma omp simd reduction(+ : dot)
  for (int64_t j = 0; j < S; ++j) dot += double(g[j]) * double(y[j]);
  for (int64_t j = 0; j < S; ++j) dx[j] = y[j] * (g[j] - T(dot));  // dx = y ⊙ (g − Σ g·y)
}

}  // namespace nl::kernels
