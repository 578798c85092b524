// The counter-based generator behind rand/randn: reproducibility, ranges,
// moments, and independence from the thread count (core/random.h).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>

#include "core/core_test_helpers.h"
#include "normlab.h"

using nl::Tensor;
using nl_test::bitwise_equal;

TEST_CASE("manual_seed: the same seed gives the same rand sequence", "[core][random]") {
  nl::manual_seed(1234);
  Tensor a1 = nl::rand({5, 7}), a2 = nl::rand({3}, nl::f64);
  nl::manual_seed(1234);
  Tensor b1 = nl::rand({5, 7}), b2 = nl::rand({3}, nl::f64);
  CHECK(bitwise_equal(a1, b1));
  CHECK(bitwise_equal(a2, b2));
}

TEST_CASE("manual_seed: the same seed gives the same randn sequence", "[core][random]") {
  nl::manual_seed(99);
  Tensor a = nl::randn({1000}, nl::f64), a2 = nl::randn({4, 4});
  nl::manual_seed(99);
  Tensor b = nl::randn({1000}, nl::f64), b2 = nl::randn({4, 4});
  CHECK(bitwise_equal(a, b));
  CHECK(bitwise_equal(a2, b2));
}

TEST_CASE("different seeds and consecutive draws differ", "[core][random]") {
  nl::manual_seed(1);
  Tensor a = nl::rand({64}, nl::f64);
  Tensor next = nl::rand({64}, nl::f64);
  nl::manual_seed(2);
  Tensor b = nl::rand({64}, nl::f64);
  CHECK_FALSE(bitwise_equal(a, b));
  CHECK_FALSE(bitwise_equal(a, next));
  nl::manual_seed(1);
  Tensor n1 = nl::randn({64});
  nl::manual_seed(2);
  CHECK_FALSE(bitwise_equal(n1, nl::randn({64})));
  // no element shared at the same position either
  std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  int same = 0;
  for (size_t i = 0; i < va.size(); ++i) same += va[i] == vb[i];
  CHECK(same == 0);
}

TEST_CASE("draws advance the generator by the values they used", "[core][random]") {
  nl::manual_seed(7);
  CHECK(nl::default_generator().seed() == 7);
  CHECK(nl::default_generator().offset() == 0);
  Tensor first = nl::rand({3}, nl::f64);
  CHECK(nl::default_generator().offset() == 3);
  Tensor second = nl::rand({4}, nl::f64);
  CHECK(nl::default_generator().offset() == 7);
  nl::randn({5});
  CHECK(nl::default_generator().offset() == 17);  // two counters per normal value
  nl::manual_seed(7);
  Tensor all = nl::rand({7}, nl::f64);  // one draw of 7 == draws of 3 then 4
  CHECK(bitwise_equal(nl::cat({first, second}), all));
}

TEST_CASE("rand: float32 is the float64 draw rounded", "[core][random]") {
  nl::manual_seed(5);
  std::vector<double> d = nl::rand({256}, nl::f64).to_vector<double>();
  nl::manual_seed(5);
  std::vector<float> f = nl::rand({256}, nl::f32).to_vector<float>();
  for (size_t i = 0; i < d.size(); ++i) {
    INFO("element " << i);
    CHECK((f[i] == static_cast<float>(d[i]) || (static_cast<float>(d[i]) == 1.0f && f[i] < 1.0f)));
  }
}

TEST_CASE("rand: values lie in 0 <= u < 1 and in low <= u < high", "[core][random]") {
  nl::manual_seed(11);
  for (nl::DType dt : {nl::f32, nl::f64}) {
    std::vector<double> v = nl::rand({200000}, dt).to_vector<double>();
    double lo = 1, hi = 0, sum = 0;
    for (double x : v) {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
      sum += x;
    }
    CHECK(lo >= 0.0);
    CHECK(hi < 1.0);
    CHECK(sum / double(v.size()) == Approx(0.5).margin(0.01));
  }
  std::vector<double> r = nl::rand({10000}, nl::f64, -3.0, -2.5).to_vector<double>();
  CHECK(*std::min_element(r.begin(), r.end()) >= -3.0);
  CHECK(*std::max_element(r.begin(), r.end()) < -2.5);
}

TEST_CASE("rand/randn: invalid ranges and integer dtypes are errors", "[core][random]") {
  CHECK(nl_test::error_of([] { nl::rand({2}, nl::f32, 1.0, 1.0); }) == "rand: expected low < high, got [1, 1)");
  CHECK_THROWS_AS(nl::rand({2}, nl::f32, 2.0, 1.0), nl::Error);
  CHECK_THROWS_AS(nl::rand({2}, nl::f32, 0.0, NAN), nl::Error);
  CHECK(nl_test::error_of([] { nl::rand({2}, nl::i64); }) ==
        "rand: expected a floating tensor (float32 or float64), got int64");
  CHECK_THROWS_WITH(nl::randn({2}, nl::i64), Catch::Matchers::Contains("randn: expected a floating tensor"));
}

TEST_CASE("randn: mean ~ 0 and std ~ 1 over 10^6 samples", "[core][random]") {
  nl::manual_seed(2024);
  std::vector<double> v = nl::randn({1000000}, nl::f64).to_vector<double>();
  double sum = 0, sq = 0, fourth = 0;
  int beyond3 = 0, non_finite = 0;
  for (double x : v) {
    non_finite += !std::isfinite(x);
    sum += x;
    sq += x * x;
    fourth += x * x * x * x;
    beyond3 += std::abs(x) > 3;
  }
  REQUIRE(non_finite == 0);
  double n = double(v.size()), mean = sum / n, var = sq / n - mean * mean;
  CHECK(std::abs(mean) < 0.005);
  CHECK(std::sqrt(var) == Approx(1.0).margin(0.005));
  CHECK(fourth / n == Approx(3.0).margin(0.05));  // kurtosis of a normal
  CHECK(beyond3 / n == Approx(0.0027).margin(0.0005));
}

TEST_CASE("rand/randn: identical with 1 and 2 threads", "[core][random][threads]") {
  auto draw = [](int threads) {
    nl_test::ThreadCount scope(threads);
    nl::manual_seed(77);
    Tensor u = nl::rand({300001});  // well above the parallel grain
    Tensor n = nl::randn({300001}, nl::f64);
    return std::make_pair(u, n);
  };
  int before = nl::get_num_threads();
  auto [u1, n1] = draw(1);
  auto [u2, n2] = draw(2);
  CHECK(nl::get_num_threads() == before);  // restored
  CHECK(bitwise_equal(u1, u2));
  CHECK(bitwise_equal(n1, n2));
}

TEST_CASE("Generator: a pure function of (seed, counter)", "[core][random]") {
  nl::Generator a(42), b(42), c(43);
  CHECK(a.bits(0) == b.bits(0));
  CHECK(a.bits(123456789) == b.bits(123456789));
  CHECK(a.bits(0) != a.bits(1));
  CHECK(a.bits(0) != c.bits(0));
  CHECK(a.take(10) == 0);
  CHECK(a.take(5) == 10);
  CHECK(a.offset() == 15);
  CHECK(a.bits(3) == b.bits(3));  // taking counters doesn't change their values
  a.set_offset(100);
  CHECK(a.offset() == 100);
  a.manual_seed(42);
  CHECK(a.offset() == 0);
  int outside = 0;
  for (uint64_t i = 0; i < 1000; ++i) outside += !(a.uniform(i) >= 0.0 && a.uniform(i) < 1.0);
  CHECK(outside == 0);
}

TEST_CASE("Generator: bits look balanced", "[core][random]") {
  nl::Generator g(3);
  int64_t ones = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ones += __builtin_popcountll(g.bits(uint64_t(i)));
  CHECK(double(ones) / (64.0 * n) == Approx(0.5).margin(0.005));
}
