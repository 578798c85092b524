// Flatten, the module: torch.nn.Flatten's default dims, other dims, the
// gradient's shape, printing and errors.
#include <catch2/catch.hpp>

#include "normlab.h"

namespace layers = nl::layers;

TEST_CASE("Flatten module: (N, C, H, W) -> (N, C·H·W) by default, other dims, gradients", "[layers][flatten]") {
  auto x = nl::randn({2, 3, 4, 5}).requires_grad_(true);
  layers::Flatten flatten;
  auto y = flatten(x);
  CHECK(y.shape() == nl::Shape{2, 60});
  CHECK(y.to_vector<float>() == x.to_vector<float>());
  CHECK(layers::Flatten(0)(x).shape() == nl::Shape{120});
  CHECK(layers::Flatten(1, 2)(x).shape() == nl::Shape{2, 12, 5});
  CHECK(flatten.parameters().empty());
  CHECK(flatten.to_string() == "Flatten(start_dim=1, end_dim=-1)");
  y.sum().backward();
  CHECK(x.grad().shape() == x.shape());
  REQUIRE_THROWS_WITH(layers::Flatten(2, 1)(x), Catch::Contains("flatten"));
}
