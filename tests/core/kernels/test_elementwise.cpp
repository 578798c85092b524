// kernels/elementwise.h: for_each_strided visits every element exactly once at
// 1 and 2 threads, for shapes whose innermost run is cut into pieces (a
// contiguous tensor merges into one long run) and for shapes that are not.
#include <catch2/catch.hpp>
#include <vector>

#include "core/kernels/elementwise.h"
#include "core/parallel.h"

namespace {
// How often each offset of a dense buffer was visited by for_each_strided over shape and strides.
std::vector<int> visits(const nl::Shape& shape, const nl::Shape& strides, int64_t buffer, int threads) {
  const int previous = nl::get_num_threads();
  nl::set_num_threads(threads);
  std::vector<int> seen(size_t(buffer), 0);
  int64_t calls = 0;
  nl::kernels::for_each_strided<1>(
      shape, {strides}, [&](const nl::kernels::Offsets<1>& off, int64_t n, const nl::kernels::Offsets<1>& step) {
        for (int64_t i = 0; i < n; ++i) ++seen[size_t(off[0] + i * step[0])];
#pragma omp atomic
        ++calls;
      });
  nl::set_num_threads(previous);
  CHECK(calls >= 1);
  return seen;
}
}  // namespace

TEST_CASE("for_each_strided: every element once, long runs cut into pieces, 1 and 2 threads",
          "[kernels][elementwise]") {
  const int64_t G = nl::kParallelGrain;
  struct Case {
    nl::Shape shape, strides;
    int64_t buffer;
  };
  const Case cases[] = {
      {{3 * G + 5}, {1}, 3 * G + 5},  // contiguous: one run of 3 pieces and a tail
      {{2, 4, G / 2 + 3}, {4 * (G / 2 + 3), G / 2 + 3, 1}, 8 * (G / 2 + 3)},  // merges into one run
      {{3, 2 * G + 7}, {2 * (2 * G + 7), 1}, 3 * 2 * (2 * G + 7)},            // every other row: three long runs
      {{G + 1, 3}, {1, G + 1}, 3 * (G + 1)},                                  // transposed: runs of 3
      {{5}, {1}, 5},                                                          // one short run
  };
  for (const Case& c : cases)
    for (int threads : {1, 2}) {
      INFO(fmt::format("shape {}, {} threads", c.shape, threads));
      std::vector<int> seen = visits(c.shape, c.strides, c.buffer, threads);
      int64_t once = 0, never = 0, other = 0;
      for (int v : seen) (v == 1 ? once : v == 0 ? never : other) += 1;
      CHECK(once == nl::numel_of(c.shape));
      CHECK(other == 0);
      CHECK(once + never == c.buffer);
    }
}
