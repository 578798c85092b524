// GroupNorm, the module: against PyTorch's nn.GroupNorm on (N, C, L), (N, C) and images (fixtures written by
// tests/fixtures/make_{group,image}_norm_fixtures.py), PyTorch's names and init, no
// batch dependence, errors. The op is tested in tests/core/ops/test_group_norm.cpp.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"
#include "tests/layers/image_norm_fixture.h"

using namespace normlab_test;
namespace layers = nl::layers;

namespace {
nl::Tensor fixture(const std::string& name) { return fixture_tensor("group_norm.safetensors", name); }
}  // namespace

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

TEST_CASE("GroupNorm module: PyTorch parity (nn.GroupNorm), outputs and all gradients",
          "[layers][group_norm][pytorch]") {
  for (auto [name, groups, tol] :
       {std::tuple{"ncl_g2", 2, 1e-12}, std::tuple{"ncl_g1", 1, 1e-12}, std::tuple{"ncl_g6", 6, 1e-12},
        std::tuple{"nc_g3", 3, 1e-12}, std::tuple{"ncl_g2_f32", 2, 1e-5}}) {
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

TEST_CASE("GroupNorm module: each sample alone gives the same output (no batch dependence)", "[layers][group_norm]") {
  nl::manual_seed(4);
  layers::GroupNorm gn(2, 4);
  auto x = nl::randn({5, 4, 3});
  auto together = gn(x);
  for (int64_t i = 0; i < 5; ++i) CHECK(max_abs_diff(gn(x.slice(0, i, i + 1)), together.slice(0, i, i + 1)) == 0.0);
}

TEST_CASE("GroupNorm module: errors name the layer, the groups and the shapes", "[layers][group_norm][errors]") {
  REQUIRE_THROWS_WITH(layers::GroupNorm(4, 6), Catch::Contains("divisible") && Catch::Contains("num_groups=4"));
  REQUIRE_THROWS_WITH(layers::GroupNorm(0, 6), Catch::Contains("GroupNorm"));
  layers::GroupNorm gn(2, 6);
  REQUIRE_THROWS_WITH(gn(nl::randn({2, 4, 3})), Catch::Contains("GroupNorm") && Catch::Contains("[2,4,3]"));
  REQUIRE_THROWS_WITH(gn(nl::randn({6})), Catch::Contains("[6]"));
}

TEST_CASE("GroupNorm module: PyTorch parity on images (N, C, H, W)", "[layers][group_norm][pytorch]") {
  layers::GroupNorm gn(2, 6, 1e-5, true, nl::f64);
  require_matches_image_fixture(gn, "gn2d_f64", {"train1"}, 1e-10);
  layers::GroupNorm gn32(2, 6);
  require_matches_image_fixture(gn32, "gn2d_f32", {"train1"}, 2e-5);
}
