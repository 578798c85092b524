// kernels/batch_norm_columns.h: statistics merged from blocks of rows against
// the two-pass statistics of all rows, and the backward's three steps against
// BatchNorm's gradient written out per channel; eval; only the writer adds dw, db.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "core/kernels/batch_norm_columns.h"

namespace nlk = nl::kernels;

namespace {
// N = 19 rows (kStatRows 8: blocks of 8, 8 and 3) of 6 columns; the kernels run on columns [1, 5).
constexpr int64_t N = 19, W = 6, c0 = 1, c1 = 5;
static_assert(N > 2 * nl::kernels::kStatRows, "two whole blocks and a partial one");
constexpr double kEps = 1e-5;

// Values far from 0 with a small spread per column (Σx² − n·mean² would cancel).
std::vector<double> values(double offset, double phase) {
  std::vector<double> v(N * W);
  for (int64_t i = 0; i < N * W; ++i) v[size_t(i)] = offset + std::sin(double(i) * 1.7 + phase) + 0.01 * double(i % 7);
  return v;
}

// Every block's mean and variance (each block's at part + b·2W, variance W after), then merged.
void merged_statistics(const std::vector<double>& v, bool training, const double* running_mean,
                       const double* running_var, double* mean, double* var, double* rstd) {
  std::vector<double> part(size_t(nlk::stat_blocks(N) * 2 * W));
  for (int64_t b0 = 0; b0 < N; b0 += nlk::kStatRows) {
    double* q = part.data() + b0 / nlk::kStatRows * 2 * W;
    nlk::column_moments(v.data(), W, b0, std::min(b0 + nlk::kStatRows, N), c0, c1, q, q + W);
  }
  nlk::bn_statistics(part.data(), 2 * W, W, N, c0, c1, running_mean, running_var, training, kEps, mean, var, rstd);
}
}  // namespace

TEST_CASE("batch_norm_columns: statistics merged from blocks equal the two-pass statistics of all rows",
          "[kernels][batch_norm]") {
  std::vector<double> v = values(1e4, 0.3), mean(W, -1), var(W, -1), rstd(W, -1);
  merged_statistics(v, true, nullptr, nullptr, mean.data(), var.data(), rstd.data());
  for (int64_t c = c0; c < c1; ++c) {
    double m = 0, s = 0;
    for (int64_t n = 0; n < N; ++n) m += v[size_t(n * W + c)];
    m /= double(N);
    for (int64_t n = 0; n < N; ++n) s += (v[size_t(n * W + c)] - m) * (v[size_t(n * W + c)] - m);
    s /= double(N);
    INFO("column " << c);
    CHECK(std::abs(mean[size_t(c)] - m) <= 1e-12 * std::abs(m));
    CHECK(std::abs(var[size_t(c)] - s) <= 1e-10 * s);
    CHECK(std::abs(rstd[size_t(c)] - 1 / std::sqrt(s + kEps)) <= 1e-10 * rstd[size_t(c)]);
  }
  CHECK(mean[0] == -1);  // columns outside [c0, c1) untouched
  CHECK(var[W - 1] == -1);

  SECTION("eval: the running statistics") {
    std::vector<double> running_mean{0, 0.5, -0.25, 2, 1, 0}, running_var{1, 2, 0.5, 4, 1, 1};
    merged_statistics(v, false, running_mean.data(), running_var.data(), mean.data(), var.data(), rstd.data());
    for (int64_t c = c0; c < c1; ++c) {
      CHECK(mean[size_t(c)] == running_mean[size_t(c)]);
      CHECK(var[size_t(c)] == running_var[size_t(c)]);
      CHECK(rstd[size_t(c)] == 1 / std::sqrt(running_var[size_t(c)] + kEps));
    }
  }
}

TEST_CASE("batch_norm_columns: two BatchNorms sharing dy, backward from block sums", "[kernels][batch_norm]") {
  // BN k normalizes v_k (offsets 3 and −2) with weight w_k; both outputs feed one dy.
  std::vector<double> v[2] = {values(3, 0.1), values(-2, 0.9)}, dy = values(0, 2.2);
  std::vector<double> mean[2], var[2], rstd[2], w[2] = {{0, 0.7, -1.2, 0.4, 1.5, 0}, {0, 1.1, 0.3, -0.8, 0.6, 0}};
  for (int k = 0; k < 2; ++k) {
    mean[k].assign(W, 0), var[k].assign(W, 0), rstd[k].assign(W, 0);
    merged_statistics(v[k], true, nullptr, nullptr, mean[k].data(), var[k].data(), rstd[k].data());
  }
  for (bool training : {true, false})
    for (bool writer : {true, false}) {
      INFO("training " << training << ", writer " << writer);
      std::vector<double> dv[2] = {std::vector<double>(N * W), std::vector<double>(N * W)}, dw[2], db(W, 0.5);
      dw[0].assign(W, 0.25), dw[1].assign(W, -0.25);
      const nlk::ColumnBN<double> bns[2] = {
          {v[0].data(), dv[0].data(), mean[0].data(), rstd[0].data(), w[0].data(), dw[0].data()},
          {v[1].data(), dv[1].data(), mean[1].data(), rstd[1].data(), w[1].data(), dw[1].data()}};
      const int64_t stride = 3 * W;  // per block: Σdy, Σdy·xhat_0, Σdy·xhat_1
      std::vector<double> part(size_t(nlk::stat_blocks(N) * stride)),
          coef(size_t(nlk::column_bn_coefficients_size(2) * W));
      for (int64_t b0 = 0; b0 < N; b0 += nlk::kStatRows)
        nlk::column_bn_sums<double, 2>(dy.data(), bns, W, W, b0, std::min(b0 + nlk::kStatRows, N), c0, c1,
                                       part.data() + b0 / nlk::kStatRows * stride);
      nlk::column_bn_coefficients<double, 2>(part.data(), stride, bns, W, N, c0, c1, training, writer, db.data(),
                                             coef.data());
      nlk::column_bn_apply<double, 2>(dy.data(), bns, W, W, coef.data(), 0, N, c0, c1);
      for (int64_t c = c0; c < c1; ++c) {
        double sum_dy = 0;
        for (int64_t n = 0; n < N; ++n) sum_dy += dy[size_t(n * W + c)];
        CHECK(db[size_t(c)] == Approx(0.5 + (writer ? sum_dy : 0)).epsilon(1e-12));
        for (int k = 0; k < 2; ++k) {
          auto xhat = [&](int64_t n) { return (v[k][size_t(n * W + c)] - mean[k][size_t(c)]) * rstd[k][size_t(c)]; };
          double sum_dy_xhat = 0;
          for (int64_t n = 0; n < N; ++n) sum_dy_xhat += dy[size_t(n * W + c)] * xhat(n);
          CHECK(dw[k][size_t(c)] == Approx((k == 0 ? 0.25 : -0.25) + (writer ? sum_dy_xhat : 0)).epsilon(1e-12));
          for (int64_t n = 0; n < N; ++n) {  // dv = rstd·w/N·(N·dy − Σdy − xhat·Σdy·xhat); eval: rstd·w·dy
            const double g = dy[size_t(n * W + c)], a = rstd[k][size_t(c)] * w[k][size_t(c)];
            const double want = training ? a / double(N) * (double(N) * g - sum_dy - xhat(n) * sum_dy_xhat) : a * g;
            INFO("BN " << k << ", row " << n << ", column " << c);
            CHECK(dv[k][size_t(n * W + c)] == Approx(want).epsilon(1e-10).margin(1e-12));
          }
        }
      }
    }
}
