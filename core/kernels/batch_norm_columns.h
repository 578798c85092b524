#pragma once
// BatchNorm over the columns of a batch whose rows are split among threads:
// what the fused BatchNorm LSTM (core/ops/batch_norm_lstm_sequence.cpp) runs
// on each gate's channels at every time step. Each channel's statistics and
// backward sums are taken per block of kStatRows rows, by whichever thread
// owns the block, then merged over all blocks in block order, so the results
// do not depend on how the rows or the columns are split. For a channel of
// N values v with weight w:
//
//   forward:  mean, var over the N rows (biased),  xhat = (v − mean)·rstd,  rstd = 1/√(var + eps)
//   backward: dv = rstd·w/N·(N·dy − Σdy − xhat·Σ(dy·xhat))   (training; eval: dv = rstd·w·dy)
//             dw += Σ dy·xhat,  db += Σ dy
//
// Every array is row-major with leading dimension ld, columns [c0, c1).
// Always inlined: call them from an NL_SIMD_CLONES function.
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace nl::kernels {

// Rows per block of the partial statistics and sums. Each thread merges all
// blocks, half written by the other core: 8 rows halve that traffic against 4
// (faster in the host's slow minutes, bench/RESULTS.md), and a batch of 32
// still splits four ways.
inline constexpr int64_t kStatRows = 8;
// Blocks of rows in a batch of N, the last one partial.
inline constexpr int64_t stat_blocks(int64_t N) { return (N + kStatRows - 1) / kStatRows; }

// Columns [c0, c1) of rows [n0, n1) of v (leading dimension ld): mean and
// biased variance over the rows, two passes (no cancellation).
template <typename T>
__attribute__((always_inline)) inline void column_moments(const T* v, int64_t ld, int64_t n0, int64_t n1, int64_t c0,
                                                          int64_t c1, T* mean, T* var) {
  for (int64_t c = c0; c < c1; ++c) mean[c] = var[c] = 0;
  for (int64_t n = n0; n < n1; ++n)
#pragma omp simd
    for (int64_t c = c0; c < c1; ++c) mean[c] += v[n * ld + c];
  for (int64_t c = c0; c < c1; ++c) mean[c] /= T(n1 - n0);
  for (int64_t n = n0; n < n1; ++n)
#pragma omp simd
    for (int64_t c = c0; c < c1; ++c) var[c] += (v[n * ld + c] - mean[c]) * (v[n * ld + c] - mean[c]);
  for (int64_t c = c0; c < c1; ++c) var[c] /= T(n1 - n0);
}

// One BN's statistics for columns [c0, c1): in training, the N rows' mean and
// variance merged from the blocks' (block b's mean at part + b·stride, its
// variance `width` after), in block order (Chan, Golub & LeVeque 1979):
//   mean = Σ n_b·mean_b / N,   var = Σ n_b·(var_b + (mean_b − mean)²) / N;
// in eval, the running statistics. Then rstd = 1/√(var + eps).
template <typename T>
__attribute__((always_inline)) inline void bn_statistics(const T* part, int64_t stride, int64_t width, int64_t N,
                                                         int64_t c0, int64_t c1, const T* running_mean,
                                                         const T* running_var, bool training, T eps, T* mean, T* var,
                                                         T* rstd) {
  if (training) {
    for (int64_t c = c0; c < c1; ++c) mean[c] = var[c] = 0;
    for (int64_t b0 = 0; b0 < N; b0 += kStatRows) {
      const T* m = part + b0 / kStatRows * stride;
      const T rows = T(std::min(kStatRows, N - b0));
#pragma omp simd
      for (int64_t c = c0; c < c1; ++c) mean[c] += rows * m[c];
    }
    for (int64_t c = c0; c < c1; ++c) mean[c] /= T(N);
    for (int64_t b0 = 0; b0 < N; b0 += kStatRows) {
      const T *m = part + b0 / kStatRows * stride, *v = m + width;
      const T rows = T(std::min(kStatRows, N - b0));
#pragma omp simd
      for (int64_t c = c0; c < c1; ++c) var[c] += rows * (v[c] + (m[c] - mean[c]) * (m[c] - mean[c]));
    }
    for (int64_t c = c0; c < c1; ++c) var[c] /= T(N);
  } else {
    std::copy(running_mean + c0, running_mean + c1, mean + c0);
    std::copy(running_var + c0, running_var + c1, var + c0);
  }
  for (int64_t c = c0; c < c1; ++c) rstd[c] = T(1) / std::sqrt(var[c] + eps);
}

// The backward of K BatchNorms whose outputs are summed into one gradient dy
// (BN_ih and BN_hh both feed a; K = 1 for BN_c), columns [c0, c1), every
// array with leading dimension ld. BN k normalizes v_k with its mean and rstd
// and weight w_k; it writes dv_k (dv may be dy when K = 1) and adds Σ dy·xhat_k
// to dw_k, and Σ dy to db when not null. With Σdxhat = w·Σdy and Σdxhat·xhat =
// w·Σdy·xhat, training's rule dv = rstd·w/N·(N·dy − Σdy − xhat·Σdy·xhat) is,
// per column, dv = A·dy + B·(v − mean) + C with
//   A = rstd·w,  B = −A·rstd·Σ(dy·xhat)/N,  C = −A·Σdy/N
// (eval: dv = A·dy), so the second pass is two FMAs per value, no division.
// Three steps: the sums of a block of rows (column_bn_sums), all blocks'
// sums merged into A, B, C (column_bn_coefficients), then dv of a thread's
// rows (column_bn_apply).
template <typename T>
struct ColumnBN {
  const T* v;  // the BN's input
  T* dv;       // its input gradient
  const T *mean, *rstd, *w;
  T* dw;
};

// Rows [n0, n1): Σdy into sums[c] and Σdy·xhat_k into sums[(1 + k)·width + c].
template <typename T, int K>
__attribute__((always_inline)) inline void column_bn_sums(const T* dy, const ColumnBN<T> (&bns)[K], int64_t ld,
                                                          int64_t width, int64_t n0, int64_t n1, int64_t c0, int64_t c1,
                                                          T* sums) {
  for (int k = 0; k <= K; ++k)
    for (int64_t c = c0; c < c1; ++c) sums[k * width + c] = 0;
  for (int64_t n = n0; n < n1; ++n) {
    const T* g = dy + n * ld;
#pragma omp simd
    for (int64_t c = c0; c < c1; ++c) sums[c] += g[c];
    for (int k = 0; k < K; ++k) {
      const T *v = bns[k].v + n * ld, *mean = bns[k].mean, *rstd = bns[k].rstd;
      T* sum_dy_xhat = sums + (1 + k) * width;
#pragma omp simd
      for (int64_t c = c0; c < c1; ++c) sum_dy_xhat[c] += g[c] * (v[c] - mean[c]) * rstd[c];
    }
  }
}

// The N rows' sums, from the blocks' (block b's at part + b·stride) in block
// order, to coef: Σdy at coef[c], then A, B, C of BN k at coef[(1 + 3k + {0, 1, 2})·width + c].
// The writer adds dγ_k = Σdy·xhat_k and dβ = Σdy.
constexpr int64_t column_bn_coefficients_size(int K) { return 1 + 3 * int64_t(K); }  // times width
template <typename T, int K>
__attribute__((always_inline)) inline void column_bn_coefficients(const T* part, int64_t stride,
                                                                  const ColumnBN<T> (&bns)[K], int64_t width, int64_t N,
                                                                  int64_t c0, int64_t c1, bool training, bool writer,
                                                                  T* db, T* coef) {
  T* sum_dy = coef;
  for (int64_t c = c0; c < c1; ++c) sum_dy[c] = 0;
  for (int k = 0; k < K; ++k)  // Σdy·xhat_k, in A_k's place
    for (int64_t c = c0; c < c1; ++c) coef[(1 + 3 * k) * width + c] = 0;
  for (int64_t b0 = 0; b0 < N; b0 += kStatRows) {
    const T* sums = part + b0 / kStatRows * stride;
#pragma omp simd
    for (int64_t c = c0; c < c1; ++c) sum_dy[c] += sums[c];
    for (int k = 0; k < K; ++k)
#pragma omp simd
      for (int64_t c = c0; c < c1; ++c) coef[(1 + 3 * k) * width + c] += sums[(1 + k) * width + c];
  }
  if (writer && db)
    for (int64_t c = c0; c < c1; ++c) db[c] += sum_dy[c];  // dβ = Σ dy
  const T inv_n = T(1) / T(N);
  for (int k = 0; k < K; ++k) {
    const ColumnBN<T>& bn = bns[k];
    T *A = coef + (1 + 3 * k) * width, *B = A + width, *C = B + width;
    for (int64_t c = c0; c < c1; ++c) {
      const T sum_dy_xhat = A[c], a = bn.rstd[c] * bn.w[c];
      if (writer) bn.dw[c] += sum_dy_xhat;  // dγ = Σ dy·xhat
      A[c] = a;
      B[c] = training ? -a * bn.rstd[c] * sum_dy_xhat * inv_n : T(0);
      C[c] = training ? -a * sum_dy[c] * inv_n : T(0);
    }
  }
}

// Rows [n0, n1): dv_k = A_k·dy + B_k·(v_k − mean_k) + C_k.
template <typename T, int K>
__attribute__((always_inline)) inline void column_bn_apply(const T* dy, const ColumnBN<T> (&bns)[K], int64_t ld,
                                                           int64_t width, const T* coef, int64_t n0, int64_t n1,
                                                           int64_t c0, int64_t c1) {
  for (int64_t n = n0; n < n1; ++n) {
    const T* g = dy + n * ld;
    for (int k = 0; k < K; ++k) {
      const T *v = bns[k].v + n * ld, *mean = bns[k].mean, *A = coef + (1 + 3 * k) * width, *B = A + width,
              *C = B + width;
      T* dv = bns[k].dv + n * ld;
#pragma omp simd
      for (int64_t c = c0; c < c1; ++c) dv[c] = A[c] * g[c] + (B[c] * (v[c] - mean[c]) + C[c]);
    }
  }
}

}  // namespace nl::kernels
