// layers::init: xavier_uniform_'s bound and variance from the fans, as
// torch.nn.init.xavier_uniform_ (a = gain·√(6 / (fan_in + fan_out))).
#include <catch2/catch.hpp>
#include <cmath>

#include "normlab.h"

namespace {
// The largest |w| and the variance of w's values.
std::pair<double, double> spread(const nl::Tensor& w) {
  std::vector<double> v = w.to_vector<double>();
  double max = 0, sum = 0, squares = 0;
  for (double x : v) max = std::max(max, std::abs(x)), sum += x, squares += x * x;
  double mean = sum / double(v.size());
  return {max, squares / double(v.size()) - mean * mean};
}
}  // namespace

TEST_CASE("init: xavier_uniform_ draws U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))", "[layers][init]") {
  nl::manual_seed(3);
  nl::Tensor w = nl::zeros({300, 500}, nl::f64);  // fan_out 300, fan_in 500
  nl::layers::init::xavier_uniform_(w);
  const double a = std::sqrt(6.0 / 800.0);
  auto [max, var] = spread(w);
  CHECK(max <= a);
  CHECK(max > 0.999 * a);                         // 150 000 draws reach the bound
  CHECK(var == Approx(a * a / 3).epsilon(0.01));  // U(−a, a): a²/3 = 2 / (fan_in + fan_out)

  // a convolution's weight (C_out, C_in, kH, kW): both fans times the kernel's size
  nl::Tensor k = nl::zeros({16, 8, 3, 3}, nl::f64);
  nl::layers::init::xavier_uniform_(k, 2.0);
  const double bound = 2.0 * std::sqrt(6.0 / (8 * 9 + 16 * 9));
  CHECK(spread(k).first <= bound);
  CHECK(spread(k).first > 0.95 * bound);

  nl::Tensor bias = nl::zeros({4});
  REQUIRE_THROWS_WITH(nl::layers::init::xavier_uniform_(bias), Catch::Contains("xavier_uniform_") &&
                                                                   Catch::Contains("at least 2 dimensions") &&
                                                                   Catch::Contains("[4]"));
}
