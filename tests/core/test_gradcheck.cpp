// gradcheck: finite differences against autograd, including catching a
// deliberately wrong custom gradient rule (core/gradcheck.h).
#include <catch2/catch.hpp>
#include <cmath>

#include "core/core_test_helpers.h"
#include "normlab.h"

using Catch::Matchers::Contains;
using nl::Grads;
using nl::Shape;
using nl::Tensor;
using nl_test::error_of;
using nl_test::leaf64;
using V = std::vector<double>;

namespace {
// y = x², with a hand-written gradient rule g·2x·factor (factor 1 is correct).
Tensor square(const Tensor& x, double factor) {
  Tensor y;
  {
    nl::NoGradGuard no_grad;
    y = x * x;
  }
  if (nl::needs_grad(x))
    nl::attach(y, "square", {x}, nl::save(x),
               [factor](const Tensor& g, const Tensor& x) -> Grads { return {g * x * (2.0 * factor)}; });
  return y;
}

// y = a·b with the gradient for b off by `b_factor`.
Tensor product(const Tensor& a, const Tensor& b, double b_factor) {
  Tensor y;
  {
    nl::NoGradGuard no_grad;
    y = a * b;
  }
  if (nl::needs_grad(a, b))
    nl::attach(y, "product", {a, b}, nl::save(a, b),
               [b_factor](const Tensor& g, const Tensor& a, const Tensor& b) -> Grads {
                 return {g * b, g * a * b_factor};
               });
  return y;
}

// y = 3x, but the rule doubles the gradient of element `bad` only.
Tensor triple_with_bad_element(const Tensor& x, int64_t bad) {
  Tensor y;
  {
    nl::NoGradGuard no_grad;
    y = x * 3.0;
  }
  if (nl::needs_grad(x))
    nl::attach(y, "triple", {x}, [bad](const Tensor& g) -> Grads {
      Tensor gx = g * 3.0;
      gx.data<double>()[bad] *= 2.0;  // g*3.0 is a fresh contiguous tensor
      return {gx};
    });
  return y;
}
}  // namespace

TEST_CASE("gradcheck: passes on correct built-in ops", "[core][gradcheck]") {
  Tensor a = nl::from_vector<double>({0.3, -0.7, 1.1, 0.5, -0.2, 0.9}, Shape{2, 3});
  Tensor b = nl::from_vector<double>({0.4, 1.3, -0.6});
  a.requires_grad_();
  b.requires_grad_();
  auto result = nl::gradcheck(
      [](const std::vector<Tensor>& in) { return (in[0] * in[1]).exp() / (in[1] * in[1] + 1.0) - in[0].tanh(); },
      {a, b});
  CHECK(result.ok);
  CHECK(static_cast<bool>(result));
  CHECK(result.message.empty());
  CHECK(nl::gradcheck([](const std::vector<Tensor>& in) { return in[0].sum({1}).pow(2.0); }, {a}));
  CHECK(nl::gradcheck([](const std::vector<Tensor>& in) { return in[0].matmul(in[1]); }, {a, b}));
}

TEST_CASE("gradcheck: passes on a correct custom rule", "[core][gradcheck]") {
  Tensor x = leaf64({0.5, -1.5, 2.0});
  auto result = nl::gradcheck([](const std::vector<Tensor>& in) { return square(in[0], 1.0); }, {x});
  CHECK(result.ok);
  CHECK(result.max_abs_error == 0.0);
}

TEST_CASE("gradcheck: detects a custom rule off by a factor", "[core][gradcheck]") {
  Tensor x = leaf64({0.5, -1.5, 2.0});
  auto result = nl::gradcheck([](const std::vector<Tensor>& in) { return square(in[0], 1.5); }, {x});
  REQUIRE_FALSE(result.ok);
  CHECK_FALSE(static_cast<bool>(result));
  // the worst element is x[2] = 2: analytic 3·2 = 6 vs numeric 2·2 = 4, on output 2
  CHECK(result.input == 0);
  CHECK(result.input_index == 2);
  CHECK(result.output_index == 2);
  CHECK(result.analytic == Approx(6.0));
  CHECK(result.numeric == Approx(4.0).epsilon(1e-6));
  CHECK(result.max_abs_error == Approx(2.0).epsilon(1e-6));
  CHECK_THAT(result.message, Contains("gradcheck failed: d(output[2])/d(input 0[2])"));
  CHECK_THAT(result.message, Contains("analytic 6, numeric 4"));
}

TEST_CASE("gradcheck: names the second input when its gradient is wrong", "[core][gradcheck]") {
  Tensor a = leaf64({1.0, 2.0}), b = leaf64({3.0, -4.0});
  CHECK(nl::gradcheck([](const std::vector<Tensor>& in) { return product(in[0], in[1], 1.0); }, {a, b}));
  auto result = nl::gradcheck([](const std::vector<Tensor>& in) { return product(in[0], in[1], 0.9); }, {a, b});
  REQUIRE_FALSE(result.ok);
  CHECK(result.input == 1);
  CHECK(result.input_index == 1);  // |0.1·a| is largest at a[1] = 2
  CHECK(result.output_index == 1);
  CHECK_THAT(result.message, Contains("d(output[1])/d(input 1[1])"));
}

TEST_CASE("gradcheck: finds a single wrong element of a Jacobian", "[core][gradcheck]") {
  Tensor x = leaf64({0.1, 0.2, 0.3, 0.4}, Shape{2, 2});
  auto result = nl::gradcheck([](const std::vector<Tensor>& in) { return triple_with_bad_element(in[0], 3); }, {x});
  REQUIRE_FALSE(result.ok);
  CHECK(result.input_index == 3);
  CHECK(result.output_index == 3);
  CHECK(result.analytic == Approx(6.0));
  CHECK(result.numeric == Approx(3.0).epsilon(1e-6));
  CHECK_THAT(result.message, Contains("d(output[3])/d(input 0[3])"));
}

TEST_CASE("gradcheck: a missing gradient and a NaN gradient both fail", "[core][gradcheck]") {
  Tensor x = leaf64({1.0, 2.0});
  auto missing = nl::gradcheck(
      [](const std::vector<Tensor>& in) {
        Tensor y;
        {
          nl::NoGradGuard no_grad;
          y = in[0].exp();
        }
        if (nl::needs_grad(in[0]))
          nl::attach(y, "exp_no_grad", {in[0]}, [](const Tensor&) -> Grads { return {Tensor()}; });
        return y;
      },
      {x});
  CHECK_FALSE(missing.ok);
  CHECK(missing.analytic == 0.0);
  auto nan = nl::gradcheck([](const std::vector<Tensor>& in) { return square(in[0], NAN); }, {x});
  CHECK_FALSE(nan.ok);
  CHECK(std::isnan(nan.analytic));
}

TEST_CASE("gradcheck: atol/rtol decide borderline cases", "[core][gradcheck]") {
  Tensor x = leaf64({1.0, 2.0});
  auto fn = [](const std::vector<Tensor>& in) { return square(in[0], 1.0 + 1e-4); };  // 0.01% off
  CHECK(nl::gradcheck(fn, {x}, 1e-6, 1e-5, 1e-3));                                    // within rtol
  CHECK_FALSE(nl::gradcheck(fn, {x}, 1e-6, 1e-7, 1e-6));                              // tight tolerances see it
}

TEST_CASE("gradcheck: inputs that require grad must be float64", "[core][gradcheck]") {
  Tensor x = nl::from_vector<float>({1.f, 2.f});
  x.requires_grad_();
  auto fn = [](const std::vector<Tensor>& in) { return in[0] * 2.0; };
  CHECK(error_of([&] { nl::gradcheck(fn, {x}); }) ==
        "gradcheck: input 0 has dtype float32 (shape [2]); gradcheck needs float64");
  Tensor y = leaf64({1.0});
  CHECK_THAT(error_of([&] { nl::gradcheck(fn, {y, x}); }), Contains("input 1 has dtype float32"));
}

TEST_CASE("gradcheck: float32 inputs that don't require grad are fine, the output must be float64",
          "[core][gradcheck]") {
  Tensor x = leaf64({1.0, 2.0});
  Tensor c = nl::from_vector<float>({3.f, 4.f});
  CHECK(nl::gradcheck([](const std::vector<Tensor>& in) { return in[0] * in[1].to(nl::f64); }, {x, c}));
  CHECK(error_of([&] { nl::gradcheck([](const std::vector<Tensor>& in) { return in[0].to(nl::f32); }, {x}); }) ==
        "gradcheck: the function returned float32, expected float64");
}

TEST_CASE("gradcheck: leaves the caller's inputs and their grads untouched", "[core][gradcheck]") {
  Tensor x = leaf64({0.5, 1.5});
  Tensor view = nl::from_vector<double>({9, 1, 9, 2}).slice(0, 1, 4, 2);  // a strided view
  view.requires_grad_();
  CHECK(nl::gradcheck([](const std::vector<Tensor>& in) { return (in[0] * in[1]).sum(); }, {x, view}));
  CHECK(nl_test::values(x) == V{0.5, 1.5});
  CHECK(nl_test::values(view) == V{1, 2});
  CHECK_FALSE(x.grad().defined());
  CHECK_FALSE(view.grad().defined());
}

TEST_CASE("gradcheck: functions that ignore an input or don't require grad", "[core][gradcheck]") {
  Tensor x = leaf64({1.0}), unused = leaf64({2.0});
  CHECK(nl::gradcheck([](const std::vector<Tensor>& in) { return in[0].exp(); }, {x, unused}));
  Tensor constant = nl::from_vector<double>({1.0});
  CHECK(nl::gradcheck([](const std::vector<Tensor>& in) { return in[0] * 2.0; }, {constant}));
}
