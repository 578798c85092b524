// The LayerNorm and RMSNorm modules: parameters and names, no batch
// dependence, use_reference, options. The ops are tested in
// tests/core/ops/test_layer_norm.cpp.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"

using namespace normlab_test;
namespace layers = nl::layers;

TEST_CASE("LayerNorm module: parameters, state dict names, same in train and eval", "[layers][layer_norm]") {
  layers::LayerNorm ln({6});
  auto named = ln.named_parameters();
  REQUIRE(named.size() == 2);
  CHECK(named[0].first == "weight");
  CHECK(named[1].first == "bias");
  CHECK(ln.weight.to_vector<float>() == std::vector<float>(6, 1.0f));
  CHECK(ln.bias.to_vector<float>() == std::vector<float>(6, 0.0f));
  nl::manual_seed(30);
  auto x = nl::randn({4, 6});
  auto train_out = ln(x);
  ln.eval();
  CHECK(max_abs_diff(train_out, ln(x)) == 0.0);
  CHECK(ln.to_string() == "LayerNorm([6], eps=1e-05, elementwise_affine=true)");
}

TEST_CASE("LayerNorm module: does not depend on the batch (each sample alone gives the same)", "[layers][layer_norm]") {
  nl::manual_seed(31);
  layers::LayerNorm ln({8});
  auto x = nl::randn({4, 8});
  auto together = ln(x);
  for (int64_t i = 0; i < 4; ++i) CHECK(max_abs_diff(ln(x.slice(0, i, i + 1)), together.slice(0, i, i + 1)) == 0.0);
}

TEST_CASE("LayerNorm module: use_reference gives the same result and gradients", "[layers][layer_norm]") {
  nl::manual_seed(32);
  layers::LayerNorm ln({10}, 1e-5, true, true, nl::f64);
  auto x = nl::randn({3, 10}, nl::f64);
  auto fused = ln(x);
  fused.sum().backward();
  auto wgrad = ln.weight.grad().clone();
  ln.zero_grad();
  ln.use_reference = true;
  auto composed = ln(x);
  composed.sum().backward();
  CHECK(max_abs_diff(fused, composed) < 1e-12);
  CHECK(max_abs_diff(wgrad, ln.weight.grad()) < 1e-12);
}

TEST_CASE("LayerNorm module: without elementwise_affine or bias", "[layers][layer_norm]") {
  layers::LayerNorm plain({4}, 1e-5, false);
  CHECK(plain.parameters().empty());
  CHECK(plain.state_dict().empty());
  layers::LayerNorm no_bias({4}, 1e-5, true, false);
  CHECK(no_bias.named_parameters().size() == 1);
  auto y = no_bias(nl::randn({2, 4}));
  CHECK(y.shape() == nl::Shape{2, 4});
  REQUIRE_THROWS_WITH(layers::LayerNorm(nl::Shape{0}), Catch::Contains("LayerNorm"));
}

TEST_CASE("RMSNorm module: default eps is the dtype's machine epsilon", "[layers][rms_norm]") {
  layers::RMSNorm norm({3});
  auto x = nl::full({1, 3}, 1e-4);
  // mean square 1e-8; eps = 2^-23 ≈ 1.19e-7 dominates: y = 1e-4 / √(1e-8 + 1.19e-7)
  float expected = float(1e-4 / std::sqrt(1e-8 + double(std::numeric_limits<float>::epsilon())));
  CHECK(norm(x).to_vector<float>()[0] == Approx(expected).epsilon(1e-5));
  CHECK(norm.named_parameters().size() == 1);
  CHECK(norm.to_string() == "RMSNorm([3], eps=None, elementwise_affine=true)");
}
