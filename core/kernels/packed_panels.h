#pragma once
// A matrix product with one operand packed once and reused many times: the
// recurrent weight of an LSTM, multiplied by a new h_{t−1} at every step.
//
//   C (rows × 32·P) = A (rows × K) · B (K × 32·P)
//
// B is packed into P panels of kPanelWidth = 32 columns, each panel K rows of
// 32 contiguous values (one cache line pair), in whatever column order the
// caller chooses (lstm_sequence puts the four gates of 8 hidden units in one
// panel, so one tile of C holds whole units). A BLAS call packs B again on
// every call — for a 32-row step that is as much memory traffic as the
// product itself — so packing once per sequence is what makes the
// per-step product cheap.
//
// panel_product computes one tile, R rows × 32 columns (R ≤ panel_rows<T>()),
// holding the R × 32 sums in vector registers over the whole K loop:
//
//   tile[r][c] = Σ_k A[r][k] · panel[k][c]
//
// The vectors are GCC vector types: 8 floats (or 4 doubles) per 256-bit
// register on AVX2 and AVX-512, two SSE registers per vector elsewhere.
// panel_product is always inlined: call it from an NL_SIMD_CLONES function
// (core/kernels/simd.h), whose clones then compute it with AVX2 and FMA or
// with AVX-512's 32 registers. Each row of a tile is its own chain of
// multiply-adds in k order, so a row's values do not depend on the tile it is in.
#include <algorithm>
#include <cstdint>

#include "core/kernels/simd.h"
#include "core/parallel.h"

namespace nl::kernels {

inline constexpr int64_t kPanelWidth = 32;
// The most rows a tile of T has (panel_rows below), and of any type.
template <typename T>
inline constexpr int kMaxPanelRowsOf = sizeof(T) == 4 ? 4 : 3;
inline constexpr int kMaxPanelRows = kMaxPanelRowsOf<float>;

// Rows of one tile. A float tile row is 4 vector accumulators: 3 rows (12)
// fit AVX2's 16 registers with the panel row and a broadcast; 4 rows (16) fit
// AVX-512's 32 and load each panel row once per 4 rows of A instead of 3.
// One thread's 16 rows of the LSTM step (rows × 1024 · 256, Zen 4, one
// thread): 106 GFLOP/s in tiles of 3 (3, 3, 3, 3, 3, 1), 113 in tiles of 4;
// in the AVX2 clone 4-row tiles spill and run at 66. A double row is 8
// accumulators: 3 rows as before (the float64 path is for gradcheck).
template <typename T>
inline int64_t panel_rows() {
  return simd_clones_use_avx512() ? kMaxPanelRowsOf<T> : 3;
}

// Panels in parallel when there are enough values: kParallelGrain values a task.
inline int64_t panels_per_task(int64_t K) {
  return std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, K * kPanelWidth));
}

// packed[p][k][c] = value(p, k, c) for p < panels, k < K, c < kPanelWidth.
// k runs innermost: the callers gather rows of a weight along k
// (pack_transposed, the LSTM's gate panels), so the reads are contiguous.
template <typename T, typename Value>
void pack_panels(T* packed, int64_t panels, int64_t K, Value&& value) {
  parallel_for(0, panels, panels_per_task(K), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p)
      for (int64_t c = 0; c < kPanelWidth; ++c)
        for (int64_t k = 0; k < K; ++k) packed[(p * K + k) * kPanelWidth + c] = value(p, k, c);
  });
}

inline int64_t panel_count(int64_t columns) { return (columns + kPanelWidth - 1) / kPanelWidth; }

// B (K × M, row-major) packed in its natural column order: panel q holds
// columns 32q .. 32q+31 (zero past M), each of its K rows a copy of 32
// contiguous values of a row of B. packed: panel_count(M)·K·32 values.
template <typename T>
void pack_columns(T* packed, const T* b, int64_t K, int64_t M) {
  parallel_for(0, panel_count(M), panels_per_task(K), [&](int64_t lo, int64_t hi) {
    for (int64_t q = lo; q < hi; ++q) {
      const int64_t c0 = q * kPanelWidth, count = std::min(kPanelWidth, M - c0);
      for (int64_t k = 0; k < K; ++k) {
        T* row = packed + (q * K + k) * kPanelWidth;
        std::copy(b + k * M + c0, b + k * M + c0 + count, row);
        std::fill(row + count, row + kPanelWidth, T(0));
      }
    }
  });
}

// B = Wᵀ for W (M × K, row-major), packed as pack_columns packs B: panel q
// column c is row 32q + c of W (zero past M).
template <typename T>
void pack_transposed(T* packed, const T* w, int64_t M, int64_t K) {
  pack_panels(packed, panel_count(M), K, [&](int64_t q, int64_t k, int64_t c) {
    int64_t row = q * kPanelWidth + c;
    return row < M ? w[row * K + k] : T(0);
  });
}

namespace detail {
// 32 bytes of T as one GCC vector (may alias T: it is loaded from T arrays).
template <typename T>
struct Vec32;
template <>
struct Vec32<float> {
  typedef float type __attribute__((vector_size(32), __may_alias__));
};
template <>
struct Vec32<double> {
  typedef double type __attribute__((vector_size(32), __may_alias__));
};

template <typename T, int R>
__attribute__((always_inline)) inline void panel_product_rows(const T* a, int64_t lda, const T* panel, int64_t K,
                                                              T* tile) {
  using V = typename Vec32<T>::type;
  constexpr int kVectors = int(kPanelWidth * sizeof(T) / sizeof(V));
  V acc[R][kVectors] = {};
  for (int64_t k = 0; k < K; ++k) {
    const V* b = reinterpret_cast<const V*>(panel + k * kPanelWidth);
    for (int r = 0; r < R; ++r) {
      const T ar = a[r * lda + k];  // broadcast into every lane by the vector-scalar product
      for (int v = 0; v < kVectors; ++v) acc[r][v] += b[v] * ar;
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < kVectors; ++v) reinterpret_cast<V*>(tile + r * kPanelWidth)[v] = acc[r][v];
}
}  // namespace detail

// tile (rows × kPanelWidth, rows ≤ panel_rows<T>()) = A rows · panel. panel
// and tile must be 32-byte aligned (packed buffers from Tensor::make are 64).
template <typename T>
__attribute__((always_inline)) inline void panel_product(const T* a, int64_t lda, int64_t rows, const T* panel,
                                                         int64_t K, T* tile) {
  switch (rows) {
    case 1: detail::panel_product_rows<T, 1>(a, lda, panel, K, tile); break;
    case 2: detail::panel_product_rows<T, 2>(a, lda, panel, K, tile); break;
    case 3: detail::panel_product_rows<T, 3>(a, lda, panel, K, tile); break;
    default: detail::panel_product_rows<T, kMaxPanelRowsOf<T>>(a, lda, panel, K, tile); break;
  }
}

// C rows = A rows · B, columns [32·q_lo, min(32·q_hi, M)), from B packed by
// pack_columns or pack_transposed; row r goes to c + r·ldc. Panels outside,
// tiles of panel_rows<T>() rows inside: a panel serves every row from L1, and
// B is streamed once however many rows there are (tile by tile it would be
// streamed once per tile).
template <typename T>
__attribute__((always_inline)) inline void panel_products(const T* a, int64_t lda, int64_t rows, const T* packed,
                                                          int64_t K, int64_t M, int64_t q_lo, int64_t q_hi, T* c,
                                                          int64_t ldc) {
  alignas(64) T tile[kMaxPanelRows * kPanelWidth];
  const int64_t R = panel_rows<T>();
  for (int64_t q = q_lo; q < q_hi; ++q) {
    const int64_t c0 = q * kPanelWidth, count = std::min(kPanelWidth, M - c0);
    for (int64_t r0 = 0; r0 < rows; r0 += R) {
      const int64_t tile_rows = std::min<int64_t>(R, rows - r0);
      panel_product(a + r0 * lda, lda, tile_rows, packed + q * K * kPanelWidth, K, tile);
      for (int64_t r = 0; r < tile_rows; ++r)
        std::copy(tile + r * kPanelWidth, tile + r * kPanelWidth + count, c + (r0 + r) * ldc + c0);
    }
  }
}

}  // namespace nl::kernels
