// kernels::lane_sum / lane_sums: the lane-split row sums of the norm kernels
// against a plain double-precision sum, over lengths that leave every tail.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "core/kernels/lane_sum.h"

TEST_CASE("lane_sum: equals the plain sum for every tail length", "[kernels][lane_sum]") {
  for (int64_t n : {0, 1, 5, 31, 32, 33, 64, 100, 1000}) {
    INFO("length " << n);
    std::vector<double> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[size_t(i)] = std::sin(double(i) * 0.7) + 0.01 * double(i);
    double plain = 0;
    for (double e : v) plain += e;
    double lanes = nl::kernels::lane_sum<double>(n, [&](int64_t k) { return v[size_t(k)]; });
    CHECK(std::abs(lanes - plain) <= 1e-12 * (1 + std::abs(plain)));
  }
}

TEST_CASE("lane_sums: two sums in one pass, each equal to its plain sum", "[kernels][lane_sum]") {
  const int64_t n = 77;
  std::vector<float> a(n), b(n);
  double plain_a = 0, plain_product = 0;
  for (int64_t i = 0; i < n; ++i) {
    a[size_t(i)] = float(i % 7) - 3.0f;
    b[size_t(i)] = 0.5f * float(i % 5);
    plain_a += a[size_t(i)];
    plain_product += double(a[size_t(i)]) * b[size_t(i)];
  }
  auto [sum_a, sum_product] = nl::kernels::lane_sums<float>(
      n, [&](int64_t k) { return a[size_t(k)]; }, [&](int64_t k) { return a[size_t(k)] * b[size_t(k)]; });
  CHECK(sum_a == float(plain_a));  // small integers and halves: exact in float
  CHECK(sum_product == float(plain_product));
}

TEST_CASE("lane_sum: the lanes are added in a fixed order (same bits however called)", "[kernels][lane_sum]") {
  std::vector<float> v(1000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = 1.0f / float(i + 1);
  auto f = [&](int64_t k) { return v[size_t(k)]; };
  float first = nl::kernels::lane_sum<float>(1000, f), second = nl::kernels::lane_sum<float>(1000, f);
  CHECK(first == second);
  auto [pair_sum, unused] = nl::kernels::lane_sums<float>(1000, f, f);
  CHECK(pair_sum == first);
  CHECK(unused == first);
}

TEST_CASE("lane_sum: a short row's tail reads no value past its end", "[kernels][lane_sum]") {
  // the short rows' tail runs all kShortRowLanes lanes; those past n add 0
  // and must not call value(k) (it would read past the row)
  for (int64_t n : {1, 2, 3, 5, 49, 127, 128, 131}) {
    INFO("length " << n);
    int64_t calls = 0, outside = 0;
    double sum = nl::kernels::lane_sum<double>(n, [&](int64_t k) {
      ++calls;
      outside += k < 0 || k >= n;
      return double(k);
    });
    CHECK(outside == 0);
    CHECK(calls == n);
    CHECK(sum == double(n * (n - 1) / 2));
  }
}

TEST_CASE("lane_sum: a short row in kShortRowLanes lanes, folded pairwise, bit for bit", "[kernels][lane_sum]") {
  // the order the header states: lane j sums the k ≡ j (mod lanes) in k
  // order, then halves are added to halves. ±1e8 in lanes 0 and 2 swallow
  // the ones added to them (float's spacing there is 8), so another order
  // gives another sum: a plain running sum gives 0 + the ones after v[2],
  // (l0 + l1) + (l2 + l3) loses lane 1's ones
  constexpr int64_t kLanes = nl::kernels::kShortRowLanes;
  static_assert(kLanes == 4, "the reference below folds 4 lanes");
  for (int64_t n : {1, 3, 4, 7, 49, 101}) {
    INFO("length " << n);
    std::vector<float> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[size_t(i)] = i == 0 ? 1e8f : i == 2 ? -1e8f : 1.0f;
    float lanes[kLanes] = {};
    for (int64_t i = 0; i < n; ++i) lanes[i % kLanes] += v[size_t(i)];
    float reference = (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]);
    CHECK(nl::kernels::lane_sum<float>(n, [&](int64_t k) { return v[size_t(k)]; }) == reference);
  }
}
