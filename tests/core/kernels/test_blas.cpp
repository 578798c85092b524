// kernels::gemm: a product big enough for the threads is cut into blocks of
// C's rows or columns, one 1-thread OpenBLAS call each, and β 0 is a memset
// of C then β 1. Every transpose, both cuts, sizes not a multiple of the
// cut's unit, C with and without padding, β 0 over NaN and β 1: the
// triple loop's values (in double), C's padding untouched, and the same bits
// from run to run. (Not the same bits as one thread: OpenBLAS picks its edge
// and small-matrix kernels by the block's size, and their float sums round
// differently; its own threaded GEMM was no different.)
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "core/kernels/blas.h"
#include "tests/core/core_test_helpers.h"

namespace {

struct Case {
  CBLAS_TRANSPOSE ta, tb;
  int64_t m, n, k;
  int64_t c_padding = 5;  // ldc = n + c_padding (0: C's rows back to back, zeroed by one memset for β 0)
};

template <typename T>
struct Product {
  std::vector<T> a, b, c;
  int64_t lda, ldb, ldc;
};

// A (m × k, or k × m when transposed) and B (k × n, or n × k) with leading
// dimensions 3 past their widths, C (m × n, ldc n + c_padding) starting as `c0`.
template <typename T>
Product<T> operands(const Case& s, T c0) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> uniform(-1, 1);
  Product<T> p;
  int64_t a_rows = s.ta == CblasNoTrans ? s.m : s.k, a_cols = s.ta == CblasNoTrans ? s.k : s.m;
  int64_t b_rows = s.tb == CblasNoTrans ? s.k : s.n, b_cols = s.tb == CblasNoTrans ? s.n : s.k;
  p.lda = a_cols + 3;
  p.ldb = b_cols + 3;
  p.ldc = s.n + s.c_padding;
  p.a.resize(size_t(a_rows * p.lda));
  p.b.resize(size_t(b_rows * p.ldb));
  for (T& v : p.a) v = T(uniform(rng));
  for (T& v : p.b) v = T(uniform(rng));
  p.c.assign(size_t(s.m * p.ldc), c0);
  return p;
}

template <typename T>
std::vector<T> product(const Case& s, T beta, T c0, int threads) {
  nl_test::ThreadCount scope(threads);
  Product<T> p = operands<T>(s, c0);
  nl::kernels::gemm<T>(s.ta, s.tb, s.m, s.n, s.k, T(0.5), p.a.data(), p.lda, p.b.data(), p.ldb, beta, p.c.data(),
                       p.ldc);
  return p.c;
}

// The largest error of C against 0.5·op(A)·op(B) + β·c0 computed in double,
// in units of the rounding bound of a sum of k + 1 terms in T:
// (k + 1)·ε·(0.5·Σ|a·b| + |β·c0|), ε = T's machine epsilon. Below 1 is a
// GEMM within rounding; a wrong block or a missed zeroing is far above.
// Also whether the padding past n was left alone.
template <typename T>
double worst_error(const Case& s, const std::vector<T>& c, T beta, T c0, bool* padding_kept) {
  const double eps = std::numeric_limits<T>::epsilon();
  Product<T> p = operands<T>(s, c0);
  double worst = 0;
  *padding_kept = true;
  for (int64_t i = 0; i < s.m; ++i) {
    for (int64_t j = 0; j < s.n; ++j) {
      double sum = 0, magnitude = 0;
      for (int64_t l = 0; l < s.k; ++l) {
        double x = s.ta == CblasNoTrans ? p.a[size_t(i * p.lda + l)] : p.a[size_t(l * p.lda + i)];
        double y = s.tb == CblasNoTrans ? p.b[size_t(l * p.ldb + j)] : p.b[size_t(j * p.ldb + l)];
        sum += x * y;
        magnitude += std::abs(x * y);
      }
      double start = beta == T(0) ? 0.0 : double(beta) * double(c0);
      double bound = double(s.k + 1) * eps * (0.5 * magnitude + std::abs(start));
      double error = std::abs(double(c[size_t(i * p.ldc + j)]) - (0.5 * sum + start)) / bound;
      if (std::isnan(error) || error > worst) worst = error;  // a NaN stays (std::max would drop it)
    }
    for (int64_t j = s.n; j < p.ldc; ++j)
      if (!(c[size_t(i * p.ldc + j)] == c0 || (std::isnan(c0) && std::isnan(c[size_t(i * p.ldc + j)]))))
        *padding_kept = false;
  }
  return worst;
}

template <typename T>
void check_cases() {
  const CBLAS_TRANSPOSE N = CblasNoTrans, Tr = CblasTrans;
  // m·n·k above kGemmSplitWork: rows cut (m ≥ n) or columns cut (n > m), not multiples of 16
  const std::vector<Case> cases = {{N, Tr, 301, 96, 67},    {N, N, 301, 40, 97},     {Tr, N, 97, 45, 300},
                                   {Tr, Tr, 133, 70, 150},  {N, N, 40, 333, 101},    {N, Tr, 37, 290, 111},
                                   {Tr, N, 50, 301, 99},    {Tr, Tr, 45, 257, 120},  {N, N, 2048, 128, 9, 0},
                                   {Tr, N, 97, 45, 300, 0}, {N, Tr, 40, 333, 101, 0}};
  for (const Case& s : cases) {
    for (T beta : {T(0), T(1)}) {
      INFO("m " << s.m << " n " << s.n << " k " << s.k << " ta " << (s.ta == N ? "N" : "T") << " tb "
                << (s.tb == N ? "N" : "T") << " beta " << double(beta));
      REQUIRE(double(s.m) * double(s.n) * double(s.k) >= nl::kernels::kGemmSplitWork);
      const T c0 = beta == T(0) ? T(NAN) : T(0.25);  // β 0 ignores what C held, NaN included
      std::vector<T> two = product<T>(s, beta, c0, 2), again = product<T>(s, beta, c0, 2);
      CHECK(std::equal(two.begin(), two.end(), again.begin(),
                       [](T x, T y) { return std::memcmp(&x, &y, sizeof(T)) == 0; }));
      for (int threads : {1, 2}) {
        INFO(threads << " threads");
        bool padding_kept = false;
        CHECK(worst_error<T>(s, product<T>(s, beta, c0, threads), beta, c0, &padding_kept) < 1.0);
        CHECK(padding_kept);
      }
    }
  }
}

}  // namespace

TEST_CASE("gemm: cut over threads, the triple loop's values at 1 and 2 threads, the same bits run to run", "[kernels]") {
  check_cases<double>();
  check_cases<float>();
}
