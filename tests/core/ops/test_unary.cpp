// Elementwise math: values by hand, gradcheck (contiguous, strided,
// expanded inputs), float32 vs float64, and the error paths.
#include <catch2/catch.hpp>
#include <cmath>

#include "normlab.h"
#include "reduce_test_helpers.h"

using nl::f32;
using nl::f64;
using nl::Tensor;
using nltest::check_values;
using nltest::Ts;

namespace {
// Values safely inside every op's domain and away from kinks: in [0.3, 2.3).
Tensor positive64(const nl::Shape& shape, uint64_t seed = 3) {
  nl::manual_seed(seed);
  return nl::rand(shape, f64, 0.3, 2.3).requires_grad_(true);
}
// Values away from 0 (the kink of relu/abs), both signs.
Tensor signed64(const nl::Shape& shape, uint64_t seed = 5) {
  nl::manual_seed(seed);
  Tensor magnitude = nl::rand(shape, f64, 0.2, 2.0), sign = nl::rand(shape, f64);
  return nl::where(nl::gt(sign, nl::full(shape, 0.5, f64)), magnitude, -magnitude).detach().requires_grad_(true);
}
using UnaryFn = Tensor (*)(const Tensor&);
// gradcheck of f on a contiguous input, a transposed view and an expanded view.
void check_unary_gradients(const std::function<Tensor(const Tensor&)>& f, const Tensor& x) {
  CHECK_GRADCHECK([&](const Ts& in) { return f(in[0]); }, {x});
  CHECK_GRADCHECK([&](const Ts& in) { return f(in[0].t()); }, {x});                // strided
  CHECK_GRADCHECK([&](const Ts& in) { return f(in[0].slice(1, 0, 3, 2)); }, {x});  // step 2
  CHECK_GRADCHECK(
      [&](const Ts& in) {
        return f(in[0].select(0, 1).unsqueeze(0).expand({3, 4}));
      },
      {x});  // broadcast view
}
}  // namespace

TEST_CASE("neg, exp, log, sqrt, rsqrt: values by hand", "[ops][unary]") {
  Tensor x = nl::from_vector<double>({0.25, 1.0, 4.0});
  check_values(nl::neg(x), {-0.25, -1.0, -4.0});
  check_values(-x, {-0.25, -1.0, -4.0});
  check_values(nl::exp(x), {std::exp(0.25), std::exp(1.0), std::exp(4.0)});
  check_values(nl::log(x), {std::log(0.25), 0.0, std::log(4.0)});
  check_values(nl::sqrt(x), {0.5, 1.0, 2.0});
  check_values(nl::rsqrt(x), {2.0, 1.0, 0.5});
}

TEST_CASE("abs, tanh, sigmoid, relu: values by hand", "[ops][unary]") {
  Tensor x = nl::from_vector<double>({-2.0, 0.0, 3.0});
  check_values(nl::abs(x), {2.0, 0.0, 3.0});
  check_values(nl::tanh(x), {std::tanh(-2.0), 0.0, std::tanh(3.0)});
  check_values(nl::sigmoid(x), {1 / (1 + std::exp(2.0)), 0.5, 1 / (1 + std::exp(-3.0))});
  check_values(nl::relu(x), {0.0, 0.0, 3.0});
}

TEST_CASE("gelu: the erf form and the tanh form by hand", "[ops][unary]") {
  Tensor x = nl::from_vector<double>({-1.0, 0.0, 1.0});
  check_values(nl::gelu(x), {-0.15865525393145707, 0.0, 0.8413447460685429}, 1e-15, 1e-14);
  check_values(nl::gelu(x, "tanh"), {-0.15880800939172324, 0.0, 0.8411919906082768}, 1e-15, 1e-14);
}

TEST_CASE("pow and clamp: values by hand", "[ops][unary]") {
  Tensor x = nl::from_vector<double>({0.5, 2.0, 3.0});
  check_values(nl::pow(x, 2.0), {0.25, 4.0, 9.0});
  check_values(nl::pow(x, -1.0), {2.0, 0.5, 1.0 / 3.0});
  check_values(nl::pow(x, 0.5), {std::sqrt(0.5), std::sqrt(2.0), std::sqrt(3.0)});
  check_values(nl::clamp(x, 1.0, 2.5), {1.0, 2.0, 2.5});
  check_values(nl::clamp(x, std::nullopt, 1.0), {0.5, 1.0, 1.0});
  check_values(nl::clamp(x, 2.0, std::nullopt), {2.0, 2.0, 3.0});
}

TEST_CASE("unary ops keep the shape and work on non-contiguous input", "[ops][unary]") {
  Tensor x = nl::arange(1.0, 7.0, 1.0, f64).reshape({2, 3});
  Tensor y = nl::sqrt(x.t());
  CHECK(y.shape() == nl::Shape{3, 2});
  check_values(y, {1.0, 2.0, std::sqrt(2.0), std::sqrt(5.0), std::sqrt(3.0), std::sqrt(6.0)});
}

TEST_CASE("gradcheck: exp, log, sqrt, rsqrt", "[ops][unary][gradcheck]") {
  Tensor x = positive64({4, 4});
  for (UnaryFn f : {UnaryFn(nl::exp), UnaryFn(nl::log), UnaryFn(nl::sqrt), UnaryFn(nl::rsqrt)})
    check_unary_gradients(f, x);
}

TEST_CASE("gradcheck: neg, abs, tanh, sigmoid, relu", "[ops][unary][gradcheck]") {
  Tensor x = signed64({4, 4});
  for (UnaryFn f : {UnaryFn(nl::neg), UnaryFn(nl::abs), UnaryFn(nl::tanh), UnaryFn(nl::sigmoid), UnaryFn(nl::relu)})
    check_unary_gradients(f, x);
}

TEST_CASE("gradcheck: gelu in both forms", "[ops][unary][gradcheck]") {
  Tensor x = signed64({4, 4});
  check_unary_gradients([](const Tensor& v) { return nl::gelu(v); }, x);
  check_unary_gradients([](const Tensor& v) { return nl::gelu(v, "tanh"); }, x);
}

TEST_CASE("gradcheck: pow with integer, negative and fractional exponents", "[ops][unary][gradcheck]") {
  Tensor x = positive64({4, 4});
  for (double e : {2.0, 3.0, -1.5, 0.5}) {
    INFO("exponent " << e);
    check_unary_gradients([e](const Tensor& v) { return nl::pow(v, e); }, x);
  }
}

TEST_CASE("gradcheck: clamp with both, one or the other bound", "[ops][unary][gradcheck]") {
  // values at least 0.1 from the bounds ±0.9
  Tensor x = nl::from_vector<double>({-2.0, -0.5, 0.3, 1.5, -1.2, 0.7, 2.5, -0.1, 0.0, 1.1, -0.8, 0.45}, {3, 4})
                 .requires_grad_(true);
  check_unary_gradients([](const Tensor& v) { return nl::clamp(v, -0.9, 0.95); }, x);
  check_unary_gradients([](const Tensor& v) { return nl::clamp(v, -0.9, std::nullopt); }, x);
  check_unary_gradients([](const Tensor& v) { return nl::clamp(v, std::nullopt, 0.95); }, x);
}

TEST_CASE("relu and abs gradients at 0 are 0", "[ops][unary]") {
  Tensor x = nl::zeros({2}, f64).requires_grad_(true);
  (nl::relu(x) + nl::abs(x)).sum().backward();
  check_values(x.grad(), {0.0, 0.0});
}

TEST_CASE("float32 agrees with float64", "[ops][unary]") {
  nl::manual_seed(9);
  Tensor x = nl::rand({100}, f64, 0.1, 3.0);
  for (UnaryFn f : {UnaryFn(nl::exp), UnaryFn(nl::log), UnaryFn(nl::tanh), UnaryFn(nl::sigmoid), UnaryFn(nl::rsqrt)}) {
    auto a = f(x.to(f32)).to_vector<double>(), b = f(x).to_vector<double>();
    for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == Approx(b[i]).epsilon(1e-5));
  }
  auto g32 = nl::gelu(x.to(f32)).to_vector<double>(), g64 = nl::gelu(x).to_vector<double>();
  for (size_t i = 0; i < g32.size(); ++i) CHECK(g32[i] == Approx(g64[i]).epsilon(1e-6));
}

TEST_CASE("stable at the extremes: sigmoid and tanh saturate without NaN", "[ops][unary]") {
  Tensor x = nl::from_vector<float>({-1000.0f, 1000.0f});
  auto s = nl::sigmoid(x).to_vector<float>(), t = nl::tanh(x).to_vector<float>();
  CHECK(s[0] == 0.0f);
  CHECK(s[1] == 1.0f);
  CHECK(t[0] == -1.0f);
  CHECK(t[1] == 1.0f);
}

TEST_CASE("unary errors: integer input, unknown gelu form, bad clamp bounds", "[ops][unary][errors]") {
  Tensor i = nl::arange(3);
  REQUIRE_THROWS_WITH(nl::exp(i), Catch::Contains("exp") && Catch::Contains("int64"));
  REQUIRE_THROWS_WITH(nl::sqrt(i), Catch::Contains("sqrt"));
  REQUIRE_THROWS_WITH(nl::gelu(nl::zeros({2}), "fast"),
                      Catch::Contains("gelu: approximate must be \"none\" or \"tanh\", got \"fast\""));
  REQUIRE_THROWS_WITH(nl::clamp(nl::zeros({2}), std::nullopt, std::nullopt), Catch::Contains("clamp: at least one"));
  REQUIRE_THROWS_WITH(nl::clamp(nl::zeros({2}), 2.0, 1.0), Catch::Contains("clamp: min 2 is greater than max 1"));
}
