#pragma once
// One thread pool for everything: OpenMP runs our loops, and OpenBLAS (its
// OpenMP build) runs GEMM on the same OpenMP runtime, so the two never
// oversubscribe the cores. NORMLAB_NUM_THREADS or set_num_threads() set the count.
#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace nl {

int get_num_threads();
void set_num_threads(int n);  // n >= 1; also sets OpenBLAS's count

// Below this many elements a loop stays on one thread: waking the pool costs
// more than it saves.
inline constexpr int64_t kParallelGrain = 32768;

// Calls fn(chunk_begin, chunk_end) over [begin, end) split into contiguous
// chunks, one per thread, when the range is at least `grain` long. Chunk
// boundaries never change a result: callers write disjoint outputs.
template <typename Fn>
void parallel_for(int64_t begin, int64_t end, int64_t grain, Fn&& fn) {
  int64_t n = end - begin;
  if (n <= 0) return;
  int threads = get_num_threads();
  if (threads <= 1 || n < grain || omp_in_parallel()) {
    fn(begin, end);
    return;
  }
  int64_t chunks = std::min<int64_t>(threads, (n + grain - 1) / std::max<int64_t>(grain, 1));
  if (chunks <= 1) {
    fn(begin, end);
    return;
  }
#pragma omp parallel num_threads(int(chunks))
  {
    int64_t t = omp_get_thread_num(), count = omp_get_num_threads();
    int64_t lo = begin + n * t / count, hi = begin + n * (t + 1) / count;
    if (lo < hi) fn(lo, hi);
  }
}

}  // namespace nl
