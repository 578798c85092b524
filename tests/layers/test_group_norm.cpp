// GroupNorm: the fused op against its composed reference and finite
// differences (float64), against PyTorch's nn.GroupNorm (fixtures written by
// tests/fixtures/make_group_norm_fixtures.py), its special cases (G = 1 is
// LayerNorm over (C, L), G = C is InstanceNorm), module behaviour and errors.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "tests/layers/norm_test_helpers.h"

using namespace normlab_test;
namespace layers = nl::layers;

namespace {
NormFn fused_gn(int64_t groups) {
  return [=](const std::vector<nl::Tensor>& in) { return layers::group_norm(in[0], groups, in[1], in[2]); };
}
NormFn reference_gn(int64_t groups) {
  return [=](const std::vector<nl::Tensor>& in) {
    return layers::reference::group_norm(in[0], groups, in[1], in[2]);
  };
}
std::vector<nl::Tensor> gn_inputs(const nl::Shape& shape, nl::DType dtype = nl::f64) {
  int64_t C = shape[1];
  return {nl::randn(shape, dtype) * 2.0 + 0.5, nl::rand({C}, dtype, 0.5, 1.5), nl::randn({C}, dtype)};
}

nl::Tensor fixture(const std::string& name) { return fixture_tensor("group_norm.safetensors", name); }
}  // namespace

TEST_CASE("group_norm: fused equals the composed reference, (N, C, L) and (N, C)", "[layers][group_norm]") {
  nl::manual_seed(1);
  for (auto [shape, groups] : {std::pair{nl::Shape{3, 6, 5}, 2}, std::pair{nl::Shape{2, 6, 1}, 3},
                               std::pair{nl::Shape{4, 6}, 6}, std::pair{nl::Shape{2, 4, 7}, 1}}) {
    INFO("input " << fmt::format("{}", shape) << ", " << groups << " groups");
    require_fused_equals_reference(fused_gn(groups), reference_gn(groups), gn_inputs(shape), 1e-10);
    require_fused_equals_reference(fused_gn(groups), reference_gn(groups), gn_inputs(shape, nl::f32), 1e-5);
  }
}

TEST_CASE("group_norm: gradcheck of input, weight and bias, without affine, strided input",
          "[layers][group_norm][gradcheck]") {
  nl::manual_seed(2);
  require_gradcheck(fused_gn(2), gn_inputs({2, 4, 3}));
  require_gradcheck([](const std::vector<nl::Tensor>& in) { return layers::group_norm(in[0], 3); },
                    {nl::randn({2, 6}, nl::f64)});
  require_gradcheck(
      [](const std::vector<nl::Tensor>& in) { return layers::group_norm(in[0].transpose(1, 2), 2, in[1]); },
      {nl::randn({2, 3, 4}, nl::f64), nl::rand({4}, nl::f64, 0.5, 1.5)});
}

TEST_CASE("group_norm: PyTorch parity (nn.GroupNorm), outputs and all gradients", "[layers][group_norm][pytorch]") {
  for (auto [name, groups, tol] : {std::tuple{"ncl_g2", 2, 1e-12}, std::tuple{"ncl_g1", 1, 1e-12},
                                   std::tuple{"ncl_g6", 6, 1e-12}, std::tuple{"nc_g3", 3, 1e-12},
                                   std::tuple{"ncl_g2_f32", 2, 1e-5}}) {
    std::string p = name;
    INFO(p);
    nl::Tensor x = fixture(p + ".x").clone().requires_grad_(true);
    layers::GroupNorm gn(groups, x.size(1), 1e-5, true, x.dtype());
    gn.load_state_dict({{"weight", fixture(p + ".weight")}, {"bias", fixture(p + ".bias")}});
    nl::Tensor y = gn(x);
    y.backward(fixture(p + ".upstream"));
    CHECK(max_abs_diff(y, fixture(p + ".out")) <= tol);
    CHECK(max_abs_diff(x.grad(), fixture(p + ".grad_x")) <= tol);
    CHECK(max_abs_diff(gn.weight.grad(), fixture(p + ".grad_weight")) <= tol * 10);
    CHECK(max_abs_diff(gn.bias.grad(), fixture(p + ".grad_bias")) <= tol * 10);
  }
}

TEST_CASE("group_norm: one group is LayerNorm over (C, L), C groups normalize each channel", "[layers][group_norm]") {
  nl::manual_seed(3);
  auto x = nl::randn({3, 4, 5}, nl::f64) * 3.0 + 2.0;
  CHECK(max_abs_diff(layers::group_norm(x, 1), nl::layer_norm(x, {4, 5})) < 1e-12);
  auto y = layers::group_norm(x, 4, nl::Tensor(), nl::Tensor(), 0.0);  // InstanceNorm
  for (double m : y.mean({2}).to_vector<double>()) CHECK(std::abs(m) < 1e-12);
  for (double v : y.var({2}, false).to_vector<double>()) CHECK(v == Approx(1).epsilon(1e-12));
}

TEST_CASE("group_norm: each sample alone gives the same output (no batch dependence)", "[layers][group_norm]") {
  nl::manual_seed(4);
  layers::GroupNorm gn(2, 4);
  auto x = nl::randn({5, 4, 3});
  auto together = gn(x);
  for (int64_t i = 0; i < 5; ++i) CHECK(max_abs_diff(gn(x.slice(0, i, i + 1)), together.slice(0, i, i + 1)) == 0.0);
}

TEST_CASE("GroupNorm module: PyTorch's names and init, use_reference, printing", "[layers][group_norm]") {
  nl::manual_seed(5);
  layers::GroupNorm gn(2, 6, 1e-5, true, nl::f64);
  auto named = gn.named_parameters();
  REQUIRE(named.size() == 2);
  CHECK(named[0].first == "weight");
  CHECK(named[1].first == "bias");
  CHECK(gn.weight.to_vector<double>() == std::vector<double>(6, 1.0));
  CHECK(gn.bias.to_vector<double>() == std::vector<double>(6, 0.0));
  CHECK(gn.to_string() == "GroupNorm(2, 6, eps=1e-05, affine=true)");
  CHECK(layers::GroupNorm(3, 6, 1e-5, false).parameters().empty());
  auto x = nl::randn({2, 6, 4}, nl::f64);
  auto fused = gn(x);
  gn.use_reference = true;
  CHECK(max_abs_diff(fused, gn(x)) < 1e-12);
}

TEST_CASE("group_norm: errors name the layer, the groups and the shapes", "[layers][group_norm][errors]") {
  REQUIRE_THROWS_WITH(layers::GroupNorm(4, 6), Catch::Contains("divisible") && Catch::Contains("num_groups=4"));
  REQUIRE_THROWS_WITH(layers::GroupNorm(0, 6), Catch::Contains("GroupNorm"));
  layers::GroupNorm gn(2, 6);
  REQUIRE_THROWS_WITH(gn(nl::randn({2, 4, 3})), Catch::Contains("GroupNorm") && Catch::Contains("[2,4,3]"));
  REQUIRE_THROWS_WITH(gn(nl::randn({6})), Catch::Contains("[6]"));
  REQUIRE_THROWS_WITH(layers::group_norm(nl::randn({2, 6}), 4), Catch::Contains("group_norm") && Catch::Contains("4"));
  REQUIRE_THROWS_WITH(layers::group_norm(nl::randn({2, 6}), 2, nl::ones({5})),
                      Catch::Contains("weight") && Catch::Contains("[5]"));
  REQUIRE_THROWS_WITH(layers::group_norm(nl::randn({2, 6}), 2, nl::ones({6}, nl::f64)),
                      Catch::Contains("weight") && Catch::Contains("float64"));
  REQUIRE_THROWS_WITH(layers::group_norm(nl::zeros({2, 6}, nl::i64), 2), Catch::Contains("floating"));
  REQUIRE_THROWS_WITH(layers::group_norm(nl::randn({2, 6, 0}), 2), Catch::Contains("no values"));
  REQUIRE_THROWS_WITH(layers::group_norm(nl::randn({2, 6}), 2, {}, {}, -1.0), Catch::Contains("eps"));
}
