#pragma once
// Sums over one channel of contiguous (N, C, L) data: the N·L values
// x[n, c, 0..L) of every sample n, as BatchNorm's statistics and the
// per-channel parameter gradients of the image norms (Σdy, Σdy·xhat) need.
//
//   Σ_{n, l} value(n, (n·C + c)·L + l)        in double
//
// Sample by sample: each sample's L values are contiguous, so they go into the
// independent lanes of lane_sum.h when there are at least kSumLanes of them
// (a 28×28 map: 784 values, 24 full rounds of 32 lanes), else into one chain.
// The samples are added in order. The order of every add depends on the shape
// alone, never on the thread count or on which thread sums the channel.
// value gets the sample n as well as the flat index i, for values that
// depend on a per-sample statistic (GroupNorm's mean and rstd per sample and
// group). Inlined into the caller: call from an NL_SIMD_CLONES function.
#include <cstdint>
#include <utility>

#include "core/kernels/lane_sum.h"

namespace nl::kernels {

// {Σ first(n, i), Σ second(n, i)} over channel c's values, in one pass.
template <typename First, typename Second>
inline std::pair<double, double> channel_sums(int64_t N, int64_t C, int64_t L, int64_t c, First&& first,
                                              Second&& second) {
  double a = 0, b = 0;
  for (int64_t n = 0; n < N; ++n) {
    const int64_t base = (n * C + c) * L;
    auto at_first = [&](int64_t l) { return double(first(n, base + l)); };
    auto at_second = [&](int64_t l) { return double(second(n, base + l)); };
    if (L >= kSumLanes) {
      auto [sa, sb] = lane_sums<double>(L, at_first, at_second);
      a += sa, b += sb;
    } else {
      for (int64_t l = 0; l < L; ++l) a += at_first(l), b += at_second(l);
    }
  }
  return {a, b};
}

// Σ value(n, i) over channel c's values, as channel_sums.
template <typename Value>
inline double channel_sum(int64_t N, int64_t C, int64_t L, int64_t c, Value&& value) {
  double sum = 0;
  for (int64_t n = 0; n < N; ++n) {
    const int64_t base = (n * C + c) * L;
    auto at = [&](int64_t l) { return double(value(n, base + l)); };
    if (L >= kSumLanes) {
      sum += lane_sum<double>(L, at);
    } else {
      for (int64_t l = 0; l < L; ++l) sum += at(l);
    }
  }
  return sum;
}

}  // namespace nl::kernels
