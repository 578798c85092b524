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
#include "core/storage.h"

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
// Every block must be started (for_each_row_block visits each once).
template <typename T>
struct BlockPartials {
  int64_t blocks = 0, width = 0;
  Storage values;  // blocks × width, from the storage cache (no fresh pages per call)
  BlockPartials(int64_t rows, int64_t width_)
      : blocks(row_block_count(rows)), width(width_), values("block partials", size_t(blocks * width_) * sizeof(T)) {}
  T* data() const { return static_cast<T*>(values.data()); }
  // The block's partial row, zeroed: call once per block, from the thread that fills it.
  T* start_row(int64_t block) {
    T* p = data() + block * width;
    std::fill(p, p + width, T(0));
    return p;
  }
  const T* row(int64_t block) const { return data() + block * width; }
  // out[j] = Σ_blocks partial[block][j], summed in double, in block order
  // (Out: T, or double to keep the sum's precision).
  template <typename Out>
  void reduce(Out* out) const {
    parallel_for(0, width, std::max<int64_t>(64, kParallelGrain / std::max<int64_t>(blocks, 1)),
                 [&](int64_t lo, int64_t hi) {
                   std::vector<double> total(size_t(hi - lo), 0.0);
                   for (int64_t b = 0; b < blocks; ++b) {
                     const T* p = data() + b * width;
                     for (int64_t j = lo; j < hi; ++j) total[size_t(j - lo)] += double(p[j]);
                   }
                   for (int64_t j = lo; j < hi; ++j) out[j] = Out(total[size_t(j - lo)]);
                 });
  }
};

// out[j] = Σ_r x[r·width + j] (a bias gradient): per-block partial rows,
// added in block order, so the sums do not depend on the thread count.
template <typename T>
void sum_rows(const T* x, T* out, int64_t rows, int64_t width) {
  BlockPartials<T> partials(rows, width);
  for_each_row_block(rows, width, [&](int64_t lo, int64_t hi, int64_t block) {
    T* p = partials.start_row(block);
    for (int64_t r = lo; r < hi; ++r)
      for (int64_t j = 0; j < width; ++j) p[j] += x[r * width + j];
  });
  partials.reduce(out);
}

}  // namespace nl::kernels
