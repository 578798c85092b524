#pragma once
// Row-parallel loops whose results never depend on the thread count.
//
// The norm kernels work row by row (LayerNorm, RMSNorm: one row per sample;
// BatchNorm over (N, C): one row per sample too, reduced over rows). Rows are
// cut into fixed blocks of kRowsPerBlock; threads take whole blocks. A sum
// over rows (dweight, dbias, a channel mean) is formed per block into its own
// partial row, and the partial rows are added in block order — so 1 thread
// and 16 threads add the same numbers in the same order.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/parallel.h"

namespace nl::kernels {

inline constexpr int64_t kRowsPerBlock = 32;

inline int64_t row_block_count(int64_t rows) { return (rows + kRowsPerBlock - 1) / kRowsPerBlock; }

// Calls fn(row_begin, row_end, block) for every block of rows, in parallel
// when rows × row_length is large enough to pay for waking the threads.
template <typename Fn>
void for_each_row_block(int64_t rows, int64_t row_length, Fn&& fn) {
  int64_t blocks = row_block_count(rows);
  int64_t grain = std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, kRowsPerBlock * row_length));
  parallel_for(0, blocks, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) fn(b * kRowsPerBlock, std::min(rows, (b + 1) * kRowsPerBlock), b);
  });
}

// One partial row of `width` sums per block; reduce() adds them in block order.
template <typename T>
struct BlockPartials {
  int64_t blocks = 0, width = 0;
  std::vector<T> values;  // blocks × width
  BlockPartials(int64_t rows, int64_t width_)
      : blocks(row_block_count(rows)), width(width_), values(size_t(blocks * width_), T(0)) {}
  T* row(int64_t block) { return values.data() + block * width; }
  // out[j] = Σ_blocks partial[block][j], summed in double, in block order.
  void reduce(T* out) const {
    std::vector<double> total(size_t(width), 0.0);
    for (int64_t b = 0; b < blocks; ++b) {
      const T* p = values.data() + b * width;
      for (int64_t j = 0; j < width; ++j) total[size_t(j)] += double(p[j]);
    }
    for (int64_t j = 0; j < width; ++j) out[j] = T(total[size_t(j)]);
  }
};

}  // namespace nl::kernels
