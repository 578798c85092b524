// kernels/channel_rows.h: every row visited once, in any thread count; each
// channel's rows combined in sample order, against plain loops over the same
// values.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "core/kernels/channel_rows.h"
#include "core/kernels/lane_sum.h"
#include "core/kernels/moments.h"
#include "core/parallel.h"

namespace {
// Each row's sum in lanes, then per channel in sample order.
std::vector<double> channel_sums(const std::vector<double>& x, int64_t N, int64_t C, int64_t L) {
  std::vector<double> rows(size_t(N * C), -1.0), out(size_t(C), -1.0);
  nl::kernels::for_each_channel_row(N, C, L, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t)
      rows[size_t(t)] = nl::kernels::lane_sum<double>(L, [&](int64_t l) { return x[size_t(t * L + l)]; });
  });
  nl::kernels::add_channel_rows(N, C, rows.data(), out.data());
  return out;
}
}  // namespace

TEST_CASE("channel_rows: per-channel sums equal plain loops over each channel, every row length",
          "[kernels][channel_rows]") {
  for (int64_t N : {1, 3, 64})
    for (int64_t L : {1, 5, 31, 32, 33, 784}) {
      const int64_t C = 4;
      INFO("N = " << N << ", L = " << L);
      std::vector<double> x(size_t(N * C * L));
      for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(double(i) * 0.37) + 0.001 * double(i);
      std::vector<double> sums = channel_sums(x, N, C, L);
      for (int64_t c = 0; c < C; ++c) {
        double plain = 0;
        for (int64_t n = 0; n < N; ++n)
          for (int64_t l = 0; l < L; ++l) plain += x[size_t((n * C + c) * L + l)];
        CHECK(std::abs(sums[size_t(c)] - plain) <= 1e-12 * (1 + std::abs(plain)));
      }
    }
}

TEST_CASE("channel_rows: a channel's sum reads only its own rows", "[kernels][channel_rows]") {
  const int64_t N = 5, C = 3, L = 40;
  std::vector<double> x(size_t(N * C * L), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t l = 0; l < L; ++l) x[size_t((n * C + 1) * L + l)] = 1.0;  // channel 1 only
  std::vector<double> sums = channel_sums(x, N, C, L);
  CHECK(sums[0] == 0.0);
  CHECK(sums[1] == double(N * L));
  CHECK(sums[2] == 0.0);
}

TEST_CASE("channel_rows: rows combine in sample order, the same bits at 1 and 2 threads", "[kernels][channel_rows]") {
  // Values spanning 12 orders of magnitude: a different order of adds changes the bits.
  const int64_t N = 257, C = 6, L = 50;
  std::vector<double> x(size_t(N * C * L));
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::pow(10.0, double(i % 13) - 6) * (i % 2 ? 1 : -1);
  const int threads = nl::get_num_threads();
  nl::set_num_threads(1);
  std::vector<double> one = channel_sums(x, N, C, L);
  nl::set_num_threads(2);
  std::vector<double> two = channel_sums(x, N, C, L);
  nl::set_num_threads(threads);
  CHECK(one == two);
  // combine sees the rows of a channel in sample order: record them.
  std::vector<int64_t> rows(size_t(N * C));
  for (int64_t t = 0; t < N * C; ++t) rows[size_t(t)] = t;
  std::vector<std::vector<int64_t>> seen(static_cast<size_t>(C));
  std::vector<int> out(static_cast<size_t>(C));
  nl::kernels::combine_channel_rows(N, C, rows.data(), out.data(), [&](int total, int64_t row) {
    seen[size_t(row % C)].push_back(row);
    return total + 1;
  });
  for (int64_t c = 0; c < C; ++c) {
    CHECK(out[size_t(c)] == N);
    REQUIRE(seen[size_t(c)].size() == size_t(N));
    for (int64_t n = 0; n < N; ++n) CHECK(seen[size_t(c)][size_t(n)] == n * C + c);
  }
}

TEST_CASE("channel_rows: row moments merged per channel give the two-pass mean and variance",
          "[kernels][channel_rows]") {
  const int64_t N = 9, C = 2, L = 37;
  std::vector<double> x(size_t(N * C * L));
  for (size_t i = 0; i < x.size(); ++i) x[i] = 1000.0 + std::cos(double(i) * 1.3) * double(i % 7);  // a large offset
  std::vector<nl::kernels::Moments> rows(size_t(N * C)), channels(static_cast<size_t>(C));
  for (int64_t t = 0; t < N * C; ++t) {
    double mean = 0, m2 = 0;
    for (int64_t l = 0; l < L; ++l) mean += x[size_t(t * L + l)];
    mean /= double(L);
    for (int64_t l = 0; l < L; ++l) m2 += (x[size_t(t * L + l)] - mean) * (x[size_t(t * L + l)] - mean);
    rows[size_t(t)] = {double(L), mean, m2};
  }
  nl::kernels::combine_channel_rows(N, C, rows.data(), channels.data(), nl::kernels::merge);
  for (int64_t c = 0; c < C; ++c) {
    double mean = 0, var = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t l = 0; l < L; ++l) mean += x[size_t((n * C + c) * L + l)];
    mean /= double(N * L);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t l = 0; l < L; ++l) var += std::pow(x[size_t((n * C + c) * L + l)] - mean, 2);
    var /= double(N * L);
    CHECK(channels[size_t(c)].count == double(N * L));
    CHECK(std::abs(channels[size_t(c)].mean - mean) <= 1e-12 * mean);
    CHECK(std::abs(channels[size_t(c)].variance() - var) <= 1e-10 * var);
  }
}
