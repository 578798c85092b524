#pragma once
// Sums along a row in independent lanes.
//
// `for k: s += v(k)` is one dependency chain: each add waits for the one
// before (3–4 cycles), so even vectorized it adds one vector per 3–4 cycles.
// For a LayerNorm row already in L1 that chain, not memory, sets the time
// (a 512-wide row: ~190 cycles for its mean, ~250 for its variance). Summing
// into kSumLanes partial sums, lane j taking the k ≡ j (mod kSumLanes), gives
// the vectorizer several independent chains (4 AVX2 registers of floats);
// the lanes are added pairwise at the end. The order of the adds is fixed
// by the code, not by the compiler's vector width or the thread count (the
// AVX2 clone may still fuse a multiply into an add, as everywhere).
#include <cstdint>
#include <utility>

namespace nl::kernels {

inline constexpr int64_t kSumLanes = 32;

// Σ lanes, added pairwise (halves, then quarters, ...): five vector adds
// rather than a chain of 31 scalar ones.
template <typename T>
__attribute__((always_inline)) inline T fold_lanes(T* lanes) {
  for (int64_t width = kSumLanes / 2; width > 0; width /= 2)
    for (int64_t j = 0; j < width; ++j) lanes[j] += lanes[j + width];
  return lanes[0];
}

// {Σ first(k), Σ second(k)} over k < n, in one pass.
template <typename T, typename First, typename Second>
__attribute__((always_inline)) inline std::pair<T, T> lane_sums(int64_t n, First&& first, Second&& second) {
  T a[kSumLanes] = {}, b[kSumLanes] = {};
  int64_t k = 0;
  for (; k + kSumLanes <= n; k += kSumLanes)
    for (int64_t j = 0; j < kSumLanes; ++j) {
      a[j] += first(k + j);
      b[j] += second(k + j);
    }
  for (int64_t j = 0; k + j < n; ++j) {
    a[j] += first(k + j);
    b[j] += second(k + j);
  }
  return {fold_lanes(a), fold_lanes(b)};
}

// Σ value(k) over k < n.
template <typename T, typename Value>
__attribute__((always_inline)) inline T lane_sum(int64_t n, Value&& value) {
  T lanes[kSumLanes] = {};
  int64_t k = 0;
  for (; k + kSumLanes <= n; k += kSumLanes)
    for (int64_t j = 0; j < kSumLanes; ++j) lanes[j] += value(k + j);
  for (int64_t j = 0; k + j < n; ++j) lanes[j] += value(k + j);
  return fold_lanes(lanes);
}

}  // namespace nl::kernels
