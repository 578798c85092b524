// kernels::channel_sum / channel_sums: one channel's sums over contiguous
// (N, C, L) data against a plain loop over the same values, for sample
// lengths on both sides of the lanes (L < kSumLanes runs one chain).
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "core/kernels/channel_sums.h"

TEST_CASE("channel_sums: equal the plain sums over one channel, every sample length", "[kernels][channel_sums]") {
  const int64_t N = 3, C = 4;
  for (int64_t L : {1, 5, 31, 32, 33, 100, 784}) {
    INFO("L = " << L);
    std::vector<double> x(size_t(N * C * L));
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(double(i) * 0.37) + 0.001 * double(i);
    const double per_sample[N] = {0.5, -2.0, 3.0};  // a value that depends on the sample, as GroupNorm's mean
    for (int64_t c = 0; c < C; ++c) {
      double plain = 0, plain_scaled = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t l = 0; l < L; ++l) {
          double v = x[size_t((n * C + c) * L + l)];
          plain += v;
          plain_scaled += v * per_sample[n];
        }
      auto value = [&](int64_t, int64_t i) { return x[size_t(i)]; };
      auto scaled = [&](int64_t n, int64_t i) { return x[size_t(i)] * per_sample[n]; };
      auto [sum, sum_scaled] = nl::kernels::channel_sums(N, C, L, c, value, scaled);
      CHECK(std::abs(sum - plain) <= 1e-12 * (1 + std::abs(plain)));
      CHECK(std::abs(sum_scaled - plain_scaled) <= 1e-12 * (1 + std::abs(plain_scaled)));
      CHECK(nl::kernels::channel_sum(N, C, L, c, value) == sum);  // the same adds in the same order
    }
  }
}

TEST_CASE("channel_sum: reads only its own channel", "[kernels][channel_sums]") {
  const int64_t N = 2, C = 3, L = 40;
  std::vector<float> x(size_t(N * C * L), 0.0f);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t l = 0; l < L; ++l) x[size_t((n * C + 1) * L + l)] = 1.0f;  // channel 1 only
  auto value = [&](int64_t, int64_t i) { return x[size_t(i)]; };
  CHECK(nl::kernels::channel_sum(N, C, L, 0, value) == 0.0);
  CHECK(nl::kernels::channel_sum(N, C, L, 1, value) == double(N * L));
  CHECK(nl::kernels::channel_sum(N, C, L, 2, value) == 0.0);
}
