// instance_norm: the op against its composed reference and finite differences
// (float64) on (N, C, L) and images, its definition (each x[n,c,:] normalized
// on its own, independent of the rest of the batch), the running statistics
// as PyTorch keeps them, eval with them, and errors. The modules, with PyTorch
// parity, are tested in tests/layers/test_instance_norm.cpp.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"

using namespace normlab_test;

namespace {
NormFn fused_in(bool use_input_stats = true, nl::Tensor rm = {}, nl::Tensor rv = {}) {
  return [=](const std::vector<nl::Tensor>& in) {
    return nl::instance_norm(in[0], rm.defined() ? rm.clone() : rm, rv.defined() ? rv.clone() : rv, in[1], in[2],
                             use_input_stats);
  };
}
NormFn reference_in(bool use_input_stats = true, nl::Tensor rm = {}, nl::Tensor rv = {}) {
  return [=](const std::vector<nl::Tensor>& in) {
    return nl::reference::instance_norm(in[0], rm.defined() ? rm.clone() : rm, rv.defined() ? rv.clone() : rv, in[1],
                                        in[2], use_input_stats);
  };
}
std::vector<nl::Tensor> in_inputs(const nl::Shape& shape, nl::DType dtype = nl::f64) {
  int64_t C = shape[1];
  return {nl::randn(shape, dtype) * 2.0 + 0.5, nl::rand({C}, dtype, 0.5, 1.5), nl::randn({C}, dtype)};
}
}  // namespace

TEST_CASE("instance_norm: equals the composed reference on (N, C, L) and images, with and without running stats",
          "[ops][instance_norm]") {
  nl::manual_seed(1);
  auto rm = nl::randn({3}, nl::f64), rv = nl::rand({3}, nl::f64, 0.5, 2.0);
  for (nl::Shape shape : {nl::Shape{2, 3, 5}, nl::Shape{4, 3, 4, 6}, nl::Shape{1, 3, 2, 1}}) {
    INFO("input " << fmt::format("{}", shape));
    require_fused_equals_reference(fused_in(), reference_in(), in_inputs(shape), 1e-10);
    require_fused_equals_reference(fused_in(), reference_in(), in_inputs(shape, nl::f32), 1e-5);
    require_fused_equals_reference(fused_in(true, rm, rv), reference_in(true, rm, rv), in_inputs(shape), 1e-10);
    require_fused_equals_reference(fused_in(false, rm, rv), reference_in(false, rm, rv), in_inputs(shape), 1e-10);
  }
}

TEST_CASE("instance_norm: gradcheck with instance statistics and with running ones",
          "[ops][instance_norm][gradcheck]") {
  nl::manual_seed(2);
  require_gradcheck(fused_in(), in_inputs({2, 3, 2, 3}));
  require_gradcheck(fused_in(false, nl::randn({3}, nl::f64), nl::rand({3}, nl::f64, 0.5, 2.0)), in_inputs({2, 3, 4}));
}

TEST_CASE("instance_norm: each sample's channel has mean 0 and variance 1, whatever the rest of the batch",
          "[ops][instance_norm]") {
  nl::manual_seed(3);
  auto x = nl::randn({3, 4, 5, 5}, nl::f64) * 3.0 + 2.0;
  auto y = nl::instance_norm(x, {}, {}, {}, {}, true, 0.1, 0.0);
  for (double m : y.mean({2, 3}).to_vector<double>()) CHECK(std::abs(m) < 1e-12);
  for (double v : y.var({2, 3}, false).to_vector<double>()) CHECK(v == Approx(1).epsilon(1e-12));
  // sample 0 alone gives the same output as within the batch
  CHECK(max_abs_diff(nl::instance_norm(x.slice(0, 0, 1), {}, {}, {}, {}, true, 0.1, 0.0), y.slice(0, 0, 1)) == 0);
  // GroupNorm with one channel per group is the same function
  CHECK(max_abs_diff(nl::instance_norm(x), nl::group_norm(x, 4)) == 0);
}

TEST_CASE("instance_norm: running statistics move towards the batch's mean of instance statistics, as PyTorch",
          "[ops][instance_norm]") {
  // one channel, two samples of 4 positions: means 2.5 and 10, unbiased variances 5/3 and 20/3
  auto x = nl::from_vector<double>({1, 2, 3, 4, 4, 8, 12, 16}, {2, 1, 4});
  auto rm = nl::zeros({1}, nl::f64), rv = nl::ones({1}, nl::f64);
  nl::instance_norm(x, rm, rv, {}, {}, true, 0.5);
  CHECK(rm.item<double>() == Approx(0.5 * (2.5 + 10) / 2));
  CHECK(rv.item<double>() == Approx(0.5 + 0.5 * (5.0 / 3 + 80.0 / 3) / 2));
  // eval with them: (x − running_mean) / √(running_var + eps) per channel
  auto y = nl::instance_norm(x, rm, rv, {}, {}, false);
  CHECK(max_abs_diff(y, (x - rm.item<double>()) / std::sqrt(rv.item<double>() + 1e-5)) < 1e-12);
}

TEST_CASE("instance_norm: errors name the op and the shapes", "[ops][instance_norm][errors]") {
  REQUIRE_THROWS_WITH(nl::instance_norm(nl::randn({4, 3})),
                      Catch::Contains("instance_norm") && Catch::Contains("[4,3]"));
  REQUIRE_THROWS_WITH(nl::instance_norm(nl::randn({4, 3, 1})), Catch::Contains("more than 1 value per instance"));
  REQUIRE_THROWS_WITH(nl::instance_norm(nl::randn({4, 3, 5}), nl::zeros({2}), nl::ones({2})),
                      Catch::Contains("running_mean") && Catch::Contains("[3]"));
  REQUIRE_THROWS_WITH(nl::instance_norm(nl::randn({4, 3, 5}), nl::zeros({3})), Catch::Contains("together"));
  REQUIRE_THROWS_WITH(nl::instance_norm(nl::randn({4, 3, 5}), {}, {}, {}, {}, false),
                      Catch::Contains("use_input_stats=false"));
  REQUIRE_THROWS_WITH(nl::instance_norm(nl::zeros({2, 3, 4}, nl::i64)), Catch::Contains("floating"));
}
