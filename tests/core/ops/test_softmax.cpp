// softmax and log_softmax: values, stability, every dim, gradcheck, errors.
#include <catch2/catch.hpp>
#include <cmath>

#include "normlab.h"
#include "reduce_test_helpers.h"

using nl::f32;
using nl::f64;
using nl::Tensor;
using nltest::check_values;
using nltest::randn64;
using nltest::Ts;

TEST_CASE("softmax of [1, 2, 3] by hand, and log_softmax is its log", "[ops][softmax]") {
  Tensor x = nl::from_vector<double>({1, 2, 3});
  check_values(nl::softmax(x, 0), {0.09003057317038046, 0.24472847105479767, 0.6652409557748219}, 1e-15, 1e-14);
  double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  check_values(nl::log_softmax(x, 0), {1 - lse, 2 - lse, 3 - lse}, 1e-14, 1e-14);
}

TEST_CASE("softmax is stable for huge and tiny inputs", "[ops][softmax]") {
  check_values(nl::softmax(nl::from_vector<float>({1000, 1000}), 0), {0.5, 0.5});
  check_values(nl::softmax(nl::from_vector<float>({-1000, 0}), 0), {0, 1});
  auto l = nl::log_softmax(nl::from_vector<float>({1000, 0}), 0).to_vector<float>();
  CHECK(l[0] == 0.0f);
  CHECK(l[1] == -1000.0f);
}

TEST_CASE("softmax rows sum to 1 along any dim, including negative dims", "[ops][softmax]") {
  Tensor x = randn64({2, 3, 4}).detach();
  for (int64_t d : {0, 1, 2, -1}) {
    Tensor s = nl::softmax(x, d).sum({d});
    for (double v : s.to_vector<double>()) CHECK(v == Approx(1.0).epsilon(1e-14));
  }
}

TEST_CASE("softmax over a middle dim equals softmax of the permuted tensor", "[ops][softmax]") {
  Tensor x = randn64({2, 3, 4}, 3).detach();
  Tensor a = nl::softmax(x, 1), b = nl::softmax(x.transpose(1, 2), 2).transpose(1, 2);
  check_values(a, b.to_vector<double>(), 1e-15, 1e-14);
}

TEST_CASE("gradcheck: softmax and log_softmax over every dim, strided input", "[ops][softmax][gradcheck]") {
  Tensor x = randn64({3, 4}, 5);
  for (int64_t d : {0, 1}) {
    CHECK_GRADCHECK([d](const Ts& in) { return nl::softmax(in[0], d); }, {x});
    CHECK_GRADCHECK([d](const Ts& in) { return nl::log_softmax(in[0], d); }, {x});
    CHECK_GRADCHECK([d](const Ts& in) { return nl::softmax(in[0].t(), d); }, {x});
    CHECK_GRADCHECK([d](const Ts& in) { return nl::log_softmax(in[0].t(), d); }, {x});
  }
}

TEST_CASE("log_softmax equals log of softmax, float32 matches float64", "[ops][softmax]") {
  Tensor x = randn64({4, 5}, 6).detach();
  check_values(nl::log_softmax(x, 1), nl::log(nl::softmax(x, 1)).to_vector<double>(), 1e-14, 1e-12);
  auto a = nl::softmax(x.to(f32), 1).to_vector<double>(), b = nl::softmax(x, 1).to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == Approx(b[i]).epsilon(1e-6));
}

TEST_CASE("softmax errors: dim out of range, integer input", "[ops][softmax][errors]") {
  REQUIRE_THROWS_WITH(nl::softmax(nl::zeros({2, 3}), 2),
                      Catch::Contains("softmax: dim 2 out of range for a tensor of rank 2"));
  REQUIRE_THROWS_WITH(nl::log_softmax(nl::zeros({2, 3}), -3), Catch::Contains("log_softmax"));
  REQUIRE_THROWS_WITH(nl::softmax(nl::arange(3), 0), Catch::Contains("softmax") && Catch::Contains("int64"));
}
