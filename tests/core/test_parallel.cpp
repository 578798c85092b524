// Thread count and parallel_for; results that don't depend on the number of
// threads (core/parallel.h, kernels).
#include <atomic>
#include <catch2/catch.hpp>

#include "core/core_test_helpers.h"
#include "normlab.h"

using nl::Shape;
using nl::Tensor;
using nl_test::bitwise_equal;
using nl_test::ThreadCount;

namespace {
// fn computed once with 1 thread and once with 2.
template <typename Fn>
std::pair<Tensor, Tensor> with_1_and_2_threads(Fn fn) {
  Tensor one, two;
  {
    ThreadCount scope(1);
    one = fn();
  }
  {
    ThreadCount scope(2);
    two = fn();
  }
  return {one, two};
}

Tensor big_input(nl::DType dtype = nl::f32) {
  nl::manual_seed(3);
  return nl::randn({(1 << 20) + 12344}, dtype);  // > 2^20 elements = 35 * 30312, not a power of 2
}
}  // namespace

TEST_CASE("get/set_num_threads round trip", "[core][parallel]") {
  int before = nl::get_num_threads();
  CHECK(before >= 1);
  {
    ThreadCount scope(1);
    CHECK(nl::get_num_threads() == 1);
    nl::set_num_threads(3);
    CHECK(nl::get_num_threads() == 3);
    nl::set_num_threads(2);
    CHECK(nl::get_num_threads() == 2);
  }
  CHECK(nl::get_num_threads() == before);
}

TEST_CASE("set_num_threads: fewer than 1 thread is an error and changes nothing", "[core][parallel]") {
  int before = nl::get_num_threads();
  CHECK(nl_test::error_of([] { nl::set_num_threads(0); }) == "set_num_threads: expected at least 1 thread, got 0");
  CHECK(nl_test::error_of([] { nl::set_num_threads(-4); }) == "set_num_threads: expected at least 1 thread, got -4");
  CHECK(nl::get_num_threads() == before);
}

TEST_CASE("parallel_for: covers the range exactly once with 2 threads", "[core][parallel]") {
  ThreadCount scope(2);
  const int64_t n = 200003;
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  std::atomic<int> chunks{0};
  nl::parallel_for(0, n, 1000, [&](int64_t lo, int64_t hi) {
    ++chunks;
    for (int64_t i = lo; i < hi; ++i) ++hits[size_t(i)];
  });
  int64_t wrong = 0;
  for (auto& h : hits) wrong += h.load() != 1;
  CHECK(wrong == 0);
  CHECK(chunks.load() == 2);
}

TEST_CASE("parallel_for: small and empty ranges", "[core][parallel]") {
  ThreadCount scope(2);
  std::vector<std::pair<int64_t, int64_t>> calls;
  nl::parallel_for(5, 100, nl::kParallelGrain, [&](int64_t lo, int64_t hi) { calls.emplace_back(lo, hi); });
  REQUIRE(calls.size() == 1);  // below the grain: one call on this thread
  CHECK(calls[0] == std::make_pair(int64_t(5), int64_t(100)));
  calls.clear();
  nl::parallel_for(7, 7, 1, [&](int64_t lo, int64_t hi) { calls.emplace_back(lo, hi); });
  nl::parallel_for(9, 3, 1, [&](int64_t lo, int64_t hi) { calls.emplace_back(lo, hi); });
  CHECK(calls.empty());
}

TEST_CASE("parallel_for: one thread runs the whole range in one call", "[core][parallel]") {
  ThreadCount scope(1);
  int calls = 0;
  nl::parallel_for(0, 1 << 22, 1, [&](int64_t lo, int64_t hi) {
    ++calls;
    CHECK(lo == 0);
    CHECK(hi == (1 << 22));
  });
  CHECK(calls == 1);
}

TEST_CASE("elementwise ops: bitwise identical with 1 and 2 threads", "[core][parallel]") {
  Tensor x = big_input();
  auto [a, b] = with_1_and_2_threads([&] { return (x.exp() * x + 1.0).tanh(); });
  CHECK(bitwise_equal(a, b));
  Tensor m = x.reshape({-1, 5}), row = nl::from_vector<float>({1, 2, 3, 4, 5});
  auto [c, d] = with_1_and_2_threads([&] { return m * row + m.t().t(); });  // broadcast, strided
  CHECK(bitwise_equal(c, d));
  auto [e, f] = with_1_and_2_threads([&] { return m.t().contiguous(); });  // strided copy
  CHECK(bitwise_equal(e, f));
}

TEST_CASE("full reductions: bitwise identical with 1 and 2 threads", "[core][parallel]") {
  Tensor x = big_input();
  auto [s1, s2] = with_1_and_2_threads([&] { return x.sum(); });
  CHECK(bitwise_equal(s1, s2));
  auto [m1, m2] = with_1_and_2_threads([&] { return x.mean(); });
  CHECK(bitwise_equal(m1, m2));
  auto [x1, x2] = with_1_and_2_threads([&] { return x.max(); });
  CHECK(bitwise_equal(x1, x2));
  Tensor d = big_input(nl::f64);
  auto [d1, d2] = with_1_and_2_threads([&] { return (d * d).sum(); });
  CHECK(bitwise_equal(d1, d2));
}

TEST_CASE("reductions over one dim: bitwise identical with 1 and 2 threads", "[core][parallel]") {
  Tensor x = big_input().slice(0, 0, 1 << 20).reshape({1024, 1024});
  auto [a1, a2] = with_1_and_2_threads([&] { return x.sum({0}); });  // leading dims
  CHECK(bitwise_equal(a1, a2));
  auto [b1, b2] = with_1_and_2_threads([&] { return x.sum({1}); });  // trailing dim
  CHECK(bitwise_equal(b1, b2));
  auto [c1, c2] = with_1_and_2_threads([&] { return x.t().var({0}); });  // strided input
  CHECK(bitwise_equal(c1, c2));
  auto [e1, e2] = with_1_and_2_threads([&] { return x.softmax(-1); });
  CHECK(bitwise_equal(e1, e2));
}

TEST_CASE("backward over a large tensor: identical with 1 and 2 threads", "[core][parallel]") {
  auto grad_of = [](int threads) {
    ThreadCount scope(threads);
    Tensor x = big_input().reshape({-1, 7});
    x.requires_grad_();
    (x.tanh() * x).mean().backward();
    return x.grad();
  };
  Tensor g1 = grad_of(1), g2 = grad_of(2);
  CHECK(bitwise_equal(g1, g2));
}

TEST_CASE("float32 sums of 2^21 ones are exact (double accumulation)", "[core][parallel]") {
  ThreadCount scope(2);
  int64_t n = (int64_t(1) << 21) + 3;
  CHECK(nl::ones({n}).sum().item<double>() == double(n));
  CHECK(nl::full({n}, 0.1).sum().item<double>() == Approx(0.1 * double(n)).epsilon(1e-6));
}
