// Anomaly detection: the first op whose forward or backward makes a NaN/inf
// is named, with its shapes; off by default, scoped to the guard and thread.
#include <catch2/catch.hpp>
#include <thread>

#include "normlab.h"
#include "tests/core/core_test_helpers.h"

using nl_test::error_of;

TEST_CASE("anomaly: forward of log(0) is named with its shapes", "[core][anomaly]") {
  auto x = nl::from_vector<double>({1, 0, 2}).requires_grad_(true);
  auto w = nl::from_vector<double>({1, 1, 1});
  {
    nl::DetectAnomalyGuard anomaly;
    CHECK(nl::is_anomaly_enabled());
    auto y = x * w;  // fine: finite
    std::string message = error_of([&] { nl::log(y); });
    CHECK_THAT(message, Catch::Contains("forward of 'log'") && Catch::Contains("-inf") &&
                            Catch::Contains("element 1") && Catch::Contains("[3] float64") &&
                            Catch::Contains("finite"));
  }
  CHECK(!nl::is_anomaly_enabled());
  // off: the same op just returns -inf
  CHECK(std::isinf(nl::log(x).to_vector<double>()[1]));
}

TEST_CASE("anomaly: the first op that makes a NaN is named, not the ones after it", "[core][anomaly]") {
  auto a = nl::from_vector<double>({0, 1}).requires_grad_(true);
  nl::DetectAnomalyGuard anomaly;
  // 0 / 0 = NaN in div; the exp after it would pass it on
  std::string message = error_of([&] { nl::exp(a / a); });
  CHECK_THAT(message, Catch::Contains("forward of 'div'") && Catch::Contains("nan"));
  // an input that already holds a NaN (a leaf) is reported as such
  auto bad = nl::from_vector<double>({NAN, 1}).requires_grad_(true);
  CHECK_THAT(error_of([&] { nl::exp(bad); }), Catch::Contains("'exp'") && Catch::Contains("holding nan at element 0"));
}

TEST_CASE("anomaly: a NaN made by a backward rule names that op and input", "[core][anomaly]") {
  // sqrt at 0 is finite forward (0) but its gradient g / (2·sqrt(x)) is 0/0 = NaN
  // where the incoming gradient is 0, and inf where it is not.
  auto x = nl::from_vector<double>({0, 4}, {2}).requires_grad_(true);
  auto mask = nl::from_vector<double>({0, 1});
  nl::DetectAnomalyGuard anomaly;
  auto loss = (nl::sqrt(x) * mask).sum();
  std::string message = error_of([&] { loss.backward(); });
  CHECK_THAT(message, Catch::Contains("backward of 'sqrt'") && Catch::Contains("nan") && Catch::Contains("element 0") &&
                          Catch::Contains("input 0") && Catch::Contains("[2] float64") &&
                          Catch::Contains("incoming gradient [2] float64 was finite"));
  CHECK(!x.grad().defined());  // nothing was accumulated

  auto loss2 = nl::sqrt(x).sum();
  CHECK_THAT(error_of([&] { loss2.backward(); }), Catch::Contains("backward of 'sqrt'") && Catch::Contains("inf"));
}

TEST_CASE("anomaly: without the guard backward lets the NaN through", "[core][anomaly]") {
  auto x = nl::from_vector<double>({0, 4}).requires_grad_(true);
  (nl::sqrt(x) * nl::from_vector<double>({0, 1})).sum().backward();
  CHECK(std::isnan(x.grad().to_vector<double>()[0]));
}

TEST_CASE("anomaly: guards nest and the mode is per thread", "[core][anomaly]") {
  nl::DetectAnomalyGuard on;
  {
    nl::DetectAnomalyGuard off(false);
    CHECK(!nl::is_anomaly_enabled());
  }
  CHECK(nl::is_anomaly_enabled());
  bool other_thread = true;
  std::thread([&] { other_thread = nl::is_anomaly_enabled(); }).join();
  CHECK(!other_thread);
}

TEST_CASE("first_non_finite: index and value in row-major order, strided views too", "[core][anomaly]") {
  auto t = nl::from_vector<double>({1, 2, INFINITY, NAN}, {2, 2});
  auto first = nl::first_non_finite(t);
  REQUIRE(first);
  CHECK(first->index == 2);
  CHECK(std::isinf(first->value));
  auto in_transpose = nl::first_non_finite(t.t());  // [[1, inf], [2, nan]]
  REQUIRE(in_transpose);
  CHECK(in_transpose->index == 1);
  CHECK(!nl::first_non_finite(nl::ones({3})));
  CHECK(!nl::first_non_finite(nl::arange(4)));
}
