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
