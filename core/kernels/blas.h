#pragma once
// C = alpha·op(A)·op(B) + beta·C through OpenBLAS (row-major), for the ops
// that call GEMM directly (matmul, the fused LSTM sequence, linear,
// attention, conv2d).
//
// Threads. OpenBLAS's own threaded GEMM loses at this library's shapes, where
// one side is 64–512 and the other thousands: the GPT step's linear products
// (2048 rows, 96–512 columns, K 96–2048) ran at 87–143 GFLOP/s on 2 threads,
// and the same products cut into two blocks of C, each a 1-thread OpenBLAS
// GEMM on its own thread, at 121–169 (2-core Zen 3, where the 2048² sgemm
// runs at 176): the cut costs each thread a copy of the other operand's
// packing but no waiting on each other inside the product. So a product worth
// the threads is cut here, C's longer side into one contiguous block per
// thread (whole multiples of kGemmAlign). Inside a parallel region OpenBLAS's
// OpenMP build runs single-threaded, so each block is one thread's. (Float
// sums may round differently at 1 and 2 threads, as with OpenBLAS's own
// threads: it picks its edge and small-matrix kernels by the block's size.)
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/parallel.h"

namespace nl::kernels {

inline constexpr int64_t kGemmAlign = 16;          // rows or columns of C per unit of the cut
inline constexpr double kGemmSplitWork = 1 << 20;  // multiply-adds below which one call does it all

namespace detail {
// β = 0: C's rows are zeroed here and BLAS adds onto them (β = 1). OpenBLAS's
// own β = 0 pass (its sgemm_beta, writing the zeros a value at a time) took
// 3–5% of the GPT and CNN steps; memset then β = 1 was 2–16% faster on the
// GPT's dx products. The same bits: OpenBLAS too zeroes C and then adds.
template <typename T>
void blas_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
               int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (beta == T(0) && m > 0 && n > 0) {
    if (ldc == n)
      std::memset(c, 0, size_t(m * n) * sizeof(T));
    else
      for (int64_t i = 0; i < m; ++i) std::memset(c + i * ldc, 0, size_t(n) * sizeof(T));
    beta = T(1);
  }
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, ta, tb, int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
  else
    cblas_dgemm(CblasRowMajor, ta, tb, int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}
}  // namespace detail

template <typename T>
void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  const bool rows = m >= n;  // cut C's rows (A's rows) or its columns (B's columns)
  const int64_t units = (std::max(m, n) + kGemmAlign - 1) / kGemmAlign;
  const int threads = int(std::min<int64_t>(get_num_threads(), units));
  if (threads <= 1 || omp_in_parallel() || double(m) * double(n) * double(k) < kGemmSplitWork) {
    detail::blas_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num(), count = omp_get_num_threads(), size = rows ? m : n;
    const int64_t lo = std::min(size, units * t / count * kGemmAlign);
    const int64_t hi = std::min(size, units * (t + 1) / count * kGemmAlign);
    if (lo < hi) {
      if (rows)  // C rows [lo, hi) = op(A) rows [lo, hi) · op(B)
        detail::blas_gemm(ta, tb, hi - lo, n, k, alpha, ta == CblasNoTrans ? a + lo * lda : a + lo, lda, b, ldb, beta,
                          c + lo * ldc, ldc);
      else  // C columns [lo, hi) = op(A) · op(B) columns [lo, hi)
        detail::blas_gemm(ta, tb, m, hi - lo, k, alpha, a, lda, tb == CblasNoTrans ? b + lo : b + lo * ldb, ldb, beta,
                          c + lo, ldc);
    }
  }
}

}  // namespace nl::kernels
