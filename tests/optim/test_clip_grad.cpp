// Gradient clipping by total norm and by value.
#include <catch2/catch.hpp>
#include <cmath>

#include "normlab.h"

namespace optim = nl::optim;

TEST_CASE("clip_grad_norm_: returns the total 2-norm and scales all gradients together", "[optim][clip]") {
  auto a = nl::zeros({2}).requires_grad_(true), b = nl::zeros({1}).requires_grad_(true);
  a.set_grad(nl::from_vector<float>({3, 0}));
  b.set_grad(nl::from_vector<float>({4}));
  double total = optim::clip_grad_norm_({a, b}, 1.0);
  CHECK(total == Approx(5.0));
  CHECK(a.grad().to_vector<float>()[0] == Approx(3.0 / (5.0 + 1e-6)));
  CHECK(b.grad().to_vector<float>()[0] == Approx(4.0 / (5.0 + 1e-6)));
}

TEST_CASE("clip_grad_norm_: below the limit nothing changes, other norms", "[optim][clip]") {
  auto a = nl::zeros({3}).requires_grad_(true), none = nl::zeros({1}).requires_grad_(true);
  a.set_grad(nl::from_vector<float>({1, -2, 2}));
  CHECK(optim::clip_grad_norm_({a, none}, 10.0) == Approx(3.0));
  CHECK(a.grad().to_vector<float>() == std::vector<float>{1, -2, 2});
  CHECK(optim::clip_grad_norm_({a}, 10.0, 1.0) == Approx(5.0));
  CHECK(optim::clip_grad_norm_({a}, 1.0, optim::kInfinityNorm) == Approx(2.0));
  CHECK(a.grad().to_vector<float>()[1] == Approx(-1.0).epsilon(1e-5));
  REQUIRE_THROWS_WITH(optim::clip_grad_norm_({a}, -1.0), Catch::Contains("max_norm"));
}

TEST_CASE("clip_grad_value_: clamps each element", "[optim][clip]") {
  auto a = nl::zeros({3}).requires_grad_(true);
  a.set_grad(nl::from_vector<float>({-5, 0.5, 7}));
  optim::clip_grad_value_({a}, 1.0);
  CHECK(a.grad().to_vector<float>() == std::vector<float>{-1, 0.5, 1});
}
