// MaxPool2d, AvgPool2d and AdaptiveAvgPool2d, the modules: the ops they wrap,
// PyTorch's defaults and printing, errors. The ops are tested in
// tests/core/ops/test_pool2d.cpp; the modules run against PyTorch in a small
// CNN in tests/layers/test_conv.cpp.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"

using namespace normlab_test;
namespace layers = nl::layers;

TEST_CASE("Pooling modules: the ops, stride defaulting to the kernel, no parameters, printing", "[layers][pool2d]") {
  nl::manual_seed(1);
  auto x = nl::randn({2, 3, 9, 8});
  layers::MaxPool2d max2(2);
  CHECK(max_abs_diff(max2(x), nl::max_pool2d(x, 2, 2)) == 0.0);
  CHECK(max2(x).shape() == nl::Shape{2, 3, 4, 4});
  CHECK(max2.parameters().empty());
  CHECK(max2.to_string() == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
  layers::MaxPool2d max3(3, 2, 1);
  CHECK(max_abs_diff(max3(x), nl::max_pool2d(x, 3, 2, 1)) == 0.0);
  layers::MaxPool2d dilated(2, 2, 1, {2, 1}, true);  // the options go to the op
  CHECK(max_abs_diff(dilated(x), nl::max_pool2d(x, 2, 2, 1, {2, 1}, true)) == 0.0);
  CHECK(dilated.to_string() == "MaxPool2d(kernel_size=2, stride=2, padding=1, dilation=(2, 1), ceil_mode=True)");
  layers::AvgPool2d exclusive(3, 2, 1, true, false);
  CHECK(max_abs_diff(exclusive(x), nl::avg_pool2d(x, 3, 2, 1, true, false)) == 0.0);
  CHECK(max_abs_diff(layers::AvgPool2d(2, 2, 0, false, true, 3)(x), nl::avg_pool2d(x, 2) * (4.0 / 3.0)) < 1e-6);

  layers::AvgPool2d avg({3, 2}, {1, 2}, {1, 0});
  CHECK(max_abs_diff(avg(x), nl::avg_pool2d(x, {3, 2}, {1, 2}, {1, 0})) == 0.0);
  CHECK(avg.to_string() == "AvgPool2d(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0))");
  CHECK(layers::AvgPool2d(2).to_string() == "AvgPool2d(kernel_size=2, stride=2, padding=0)");

  layers::AdaptiveAvgPool2d gap(1);
  CHECK(max_abs_diff(gap(x), x.mean({2, 3}, true)) < 1e-6);
  CHECK(gap.to_string() == "AdaptiveAvgPool2d(output_size=1)");
  CHECK(layers::AdaptiveAvgPool2d(nl::Size2{2, 3}).to_string() == "AdaptiveAvgPool2d(output_size=(2, 3))");

  auto leaf = x.clone().requires_grad_(true);
  gap(max3(leaf)).sum().backward();
  CHECK(leaf.grad().defined());
}

TEST_CASE("Pooling modules: errors name the layer", "[layers][pool2d][errors]") {
  using Catch::Contains;
  REQUIRE_THROWS_WITH(layers::MaxPool2d(0), Contains("MaxPool2d") && Contains("kernel_size=0"));
  REQUIRE_THROWS_WITH(layers::AvgPool2d(2, {1, 0}), Contains("AvgPool2d") && Contains("stride=(1, 0)"));
  REQUIRE_THROWS_WITH(layers::MaxPool2d(3, 1, 2), Contains("MaxPool2d") && Contains("at most half"));
  REQUIRE_THROWS_WITH(layers::AdaptiveAvgPool2d(0), Contains("AdaptiveAvgPool2d") && Contains("output_size"));
  REQUIRE_THROWS_WITH(layers::MaxPool2d(2, 2, 0, 0), Contains("MaxPool2d") && Contains("dilation=0"));
  REQUIRE_THROWS_WITH(layers::AvgPool2d(2, 2, 0, false, true, -2),
                      Contains("AvgPool2d") && Contains("divisor_override") && Contains("-2"));
  layers::MaxPool2d pool(2);
  REQUIRE_THROWS_WITH(pool(nl::randn({8, 8})), Contains("max_pool2d") && Contains("[8,8]"));
}
