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
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/kernels/simd.h"
#include "core/kernels/vec_math.h"

namespace nl::kernels {

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
