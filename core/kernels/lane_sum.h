#pragma once
// Sums along a row in independent lanes.
//
// `for k: s += v(k)` is one dependency chain: each add waits for the one
// before (3–4 cycles), so even vectorized it adds one vector per 3–4 cycles.
// For a LayerNorm row already in L1 that chain, not memory, sets the time
// (a 512-wide row: ~190 cycles for its mean, ~250 for its variance). Summing
// into kSumLanes partial sums, lane j taking the k ≡ j (mod kSumLanes), gives
// the vectorizer several independent chains (4 AVX2 registers of floats;
// short rows use fewer lanes, below);
// the lanes are added pairwise at the end. The order of the adds is fixed
// by the code, not by the compiler's vector width or the thread count (the
// AVX2 clone may still fuse a multiply into an add, as everywhere).
#include <cstdint>
#include <utility>

namespace nl::kernels {

inline constexpr int64_t kSumLanes = 32;

// Rows shorter than kShortRow are summed in kShortRowLanes lanes: for a row
// of 49 values (BatchNorm over 7×7 maps) 32 lanes leave one full block and a
// tail of 17, and zeroing and folding 32 lanes costs more than the adds.
// BatchNorm's row moments at 128 × 128 rows of 49, one thread: 1.12 ms in 32
// lanes, 0.70 in 8 (196 values: 0.32 and 0.31; 784: 0.19 and 0.24). Their
// tail runs all the lanes, adding 0 past the row's end, so that every index
// into the lanes is a constant and the lanes stay in registers: indexed by a
// running j they went through the stack, and each row's fold stalled on
// reloading them. With that, 4 lanes (one AVX2 register of doubles) beat 8:
// BatchNorm forward + backward on (128, 128, 7, 7), one thread, 1.92–1.96 ms
// with 8 lanes and the running tail, 1.41–1.49 with 4 lanes and the fixed one.
inline constexpr int64_t kShortRow = 128, kShortRowLanes = 4;

namespace detail {

// Σ lanes, added pairwise (halves, then quarters, ...): five vector adds
// rather than a chain of 31 scalar ones.
template <int64_t Lanes, typename T>
__attribute__((always_inline)) inline T fold_lanes(T* lanes) {
  for (int64_t width = Lanes / 2; width > 0; width /= 2)
    for (int64_t j = 0; j < width; ++j) lanes[j] += lanes[j + width];
  return lanes[0];
}

template <int64_t Lanes, typename T, typename First, typename Second>
__attribute__((always_inline)) inline std::pair<T, T> lane_sums(int64_t n, First&& first, Second&& second) {
  T a[Lanes] = {}, b[Lanes] = {};
  int64_t k = 0;
  for (; k + Lanes <= n; k += Lanes)
    for (int64_t j = 0; j < Lanes; ++j) {
      a[j] += first(k + j);
      b[j] += second(k + j);
    }
  if constexpr (Lanes <= kShortRowLanes)  // the tail in all lanes: see kShortRowLanes
    for (int64_t j = 0; j < Lanes; ++j) {
      a[j] += k + j < n ? first(k + j) : T(0);
      b[j] += k + j < n ? second(k + j) : T(0);
    }
  else
    for (int64_t j = 0; k + j < n; ++j) {
      a[j] += first(k + j);
      b[j] += second(k + j);
    }
  return {fold_lanes<Lanes>(a), fold_lanes<Lanes>(b)};
}

template <int64_t Lanes, typename T, typename Value>
__attribute__((always_inline)) inline T lane_sum(int64_t n, Value&& value) {
  T lanes[Lanes] = {};
  int64_t k = 0;
  for (; k + Lanes <= n; k += Lanes)
    for (int64_t j = 0; j < Lanes; ++j) lanes[j] += value(k + j);
  if constexpr (Lanes <= kShortRowLanes)  // the tail in all lanes: see kShortRowLanes
    for (int64_t j = 0; j < Lanes; ++j) lanes[j] += k + j < n ? value(k + j) : T(0);
  else
    for (int64_t j = 0; k + j < n; ++j) lanes[j] += value(k + j);
  return fold_lanes<Lanes>(lanes);
}

}  // namespace detail

// {Σ first(k), Σ second(k)} over k < n, in one pass.
template <typename T, typename First, typename Second>
__attribute__((always_inline)) inline std::pair<T, T> lane_sums(int64_t n, First&& first, Second&& second) {
  if (n < kShortRow) return detail::lane_sums<kShortRowLanes, T>(n, first, second);
  return detail::lane_sums<kSumLanes, T>(n, first, second);
}

// Σ value(k) over k < n.
template <typename T, typename Value>
__attribute__((always_inline)) inline T lane_sum(int64_t n, Value&& value) {
  if (n < kShortRow) return detail::lane_sum<kShortRowLanes, T>(n, value);
  return detail::lane_sum<kSumLanes, T>(n, value);
}

}  // namespace nl::kernels
