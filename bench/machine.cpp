// The machine's limits, measured: memory bandwidth by a STREAM triad and
// single-precision GEMM throughput through OpenBLAS, each at the thread count
// of the benchmarks.
//
// STREAM triad (McCalpin): a[i] = b[i] + s·c[i] over three arrays of doubles
// far larger than the last-level cache, each thread touching its own part
// first (so pages land near it), in memory from nl::allocate_aligned like the
// tensors' (huge pages where the OS has them); bytes counted 3 · 8 · n per pass (STREAM's
// convention: no write-allocate traffic). Best of 10 passes, as STREAM reports.
//
// sgemm: C = A·B for square float32 matrices of 2048 through cblas_sgemm
// (2·n³ FLOPs); best of 5 after one warm-up.
#include "bench/machine.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "core/storage.h"

namespace bench {

namespace {
double seconds(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

struct FreeDeleter {
  void operator()(double* p) const { std::free(p); }
};
}  // namespace

double stream_triad_gbs(int threads, int64_t n) {
  auto alloc = [n] {
    return std::unique_ptr<double[], FreeDeleter>(static_cast<double*>(nl::allocate_aligned(size_t(n) * 8)));
  };
  auto a = alloc(), b = alloc(), c = alloc();
  double* ap = a.get();
  double* bp = b.get();
  double* cp = c.get();
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t i = 0; i < n; ++i) {
    ap[i] = 1.0;
    bp[i] = 2.0;
    cp[i] = 0.5;
  }
  const double s = 3.0;
  double best = 1e30;
  for (int pass = 0; pass < 10; ++pass) {
    auto t = std::chrono::steady_clock::now();
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < n; ++i) ap[i] = bp[i] + s * cp[i];
    best = std::min(best, seconds(t));
  }
  if (ap[n / 2] != 2.0 + 3.0 * 0.5) return 0;  // the loop really ran
  return 3.0 * 8.0 * double(n) / best / 1e9;
}

double sgemm_gflops(int threads, int n) {
  openblas_set_num_threads(threads);
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
  auto run = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  };
  run();
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    auto t = std::chrono::steady_clock::now();
    run();
    best = std::min(best, seconds(t));
  }
  return 2.0 * double(n) * n * n / best / 1e9;
}

}  // namespace bench
