#pragma once
// Measured machine limits (bench/machine.cpp).
#include <cstdint>

namespace bench {

// STREAM triad bandwidth in GB/s (10^9 bytes/s) over arrays of n doubles.
double stream_triad_gbs(int threads, int64_t n = int64_t(1) << 25);
// cblas_sgemm throughput in GFLOP/s for square n×n matrices.
double sgemm_gflops(int threads, int n = 2048);

}  // namespace bench
