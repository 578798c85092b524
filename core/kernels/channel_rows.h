#pragma once
// Per-channel sums over contiguous (N, C, L) data, walked in memory order.
//
// (N, C, L) data is N·C rows of L values; row t = n·C + c belongs to channel
// c. BatchNorm's statistics, the image norms' parameter gradients and a
// convolution's bias gradient each need a sum per channel over its N·L
// values. Walking one channel at a time reads N pieces of L values, C·L apart
// (for a 28×28 map, 3 KB pieces 200 KB apart); walking the rows in memory
// order streams instead. BatchNorm2d(64) forward + backward on
// (32, 64, 28, 28) went from 0.89–1.01 ms (channel by channel, its lane sums
// inlined) to 0.73 ms at 2 threads (bench/RESULTS.md has the steps). So a
// per-channel sum is formed in two steps:
//
//   1. each row's result, rows in parallel      (for_each_channel_row; the
//      caller sums a row's values in lanes, kernels/lane_sum.h)
//   2. each channel's N row results combined in sample order   (combine_channel_rows)
//
//   out[c] = combine(... combine(combine(Result{}, row[0·C + c]), row[1·C + c]) ..., row[(N−1)·C + c])
//
// The order of every add depends on the shape alone, never on the thread count.
#include <algorithm>
#include <cstdint>

#include "core/parallel.h"

namespace nl::kernels {

// fn(lo, hi) over the N·C rows [lo, hi), in parallel when there is enough work.
template <typename Fn>
void for_each_channel_row(int64_t N, int64_t C, int64_t L, Fn&& fn) {
  parallel_for(0, N * C, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, L)), fn);
}

// out[c] for each channel c: its N row results rows[n·C + c] combined in sample
// order from Result{}; channels in parallel.
template <typename Result, typename Row, typename Combine>
void combine_channel_rows(int64_t N, int64_t C, const Row* rows, Result* out, Combine&& combine) {
  parallel_for(0, C, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(1, N)), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      Result total{};
      for (int64_t n = 0; n < N; ++n) total = combine(total, rows[n * C + c]);
      out[c] = total;
    }
  });
}

// out[c] = Σ_n rows[n·C + c], added in sample order.
inline void add_channel_rows(int64_t N, int64_t C, const double* rows, double* out) {
  combine_channel_rows(N, C, rows, out, [](double total, double row) { return total + row; });
}

}  // namespace nl::kernels
