// batch_renorm (Ioffe 2017): the fused op against its composed reference
// (values, every gradient and the running statistics), finite differences
// (float64, r and d held constant), the paper's special cases — r_max = 1,
// d_max = 0 is BatchNorm; unclipped, training computes the eval function but
// with BatchNorm's gradient scaled by r — eval, and errors. The modules are
// tested in tests/layers/test_batch_norm.cpp.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"

using namespace normlab_test;

namespace {
// inputs: x, weight, bias; running statistics copied afresh on every call
// (the op moves them), so that repeated calls (gradcheck) see the same r and d.
NormFn fused_brn(const nl::Tensor& rm, const nl::Tensor& rv, double r_max, double d_max, bool training = true) {
  return [=](const std::vector<nl::Tensor>& in) {
    return nl::batch_renorm(in[0], rm.clone(), rv.clone(), in[1], in[2], training, 0.1, 1e-5, r_max, d_max);
  };
}
NormFn reference_brn(const nl::Tensor& rm, const nl::Tensor& rv, double r_max, double d_max, bool training = true) {
  return [=](const std::vector<nl::Tensor>& in) {
    return nl::reference::batch_renorm(in[0], rm.clone(), rv.clone(), in[1], in[2], training, 0.1, 1e-5, r_max, d_max);
  };
}
std::vector<nl::Tensor> brn_inputs(const nl::Shape& shape, nl::DType dtype = nl::f64) {
  int64_t C = shape[1];
  return {nl::randn(shape, dtype) * 2.0 + 0.5, nl::rand({C}, dtype, 0.5, 1.5), nl::randn({C}, dtype)};
}
// Running statistics far enough from a batch of randn·2 + 0.5 that r and d are clipped at (2, 1).
std::pair<nl::Tensor, nl::Tensor> stale_stats(int64_t C, nl::DType dtype = nl::f64) {
  return {nl::randn({C}, dtype) * 3.0, nl::rand({C}, dtype, 0.1, 9.0)};
}
}  // namespace

TEST_CASE("batch_renorm: fused equals the composed reference, clipped and not, (N, C), (N, C, L) and images",
          "[ops][batch_renorm]") {
  nl::manual_seed(1);
  for (nl::Shape shape : {nl::Shape{8, 3}, nl::Shape{4, 3, 5}, nl::Shape{4, 3, 3, 4}}) {
    for (auto [r_max, d_max] : {std::pair{2.0, 1.0}, std::pair{1e6, 1e6}, std::pair{1.0, 0.0}}) {
      INFO("input " << fmt::format("{}", shape) << ", r_max " << r_max << ", d_max " << d_max);
      auto [rm, rv] = stale_stats(3);
      require_fused_equals_reference(fused_brn(rm, rv, r_max, d_max), reference_brn(rm, rv, r_max, d_max),
                                     brn_inputs(shape), 1e-10);
      auto [rm32, rv32] = stale_stats(3, nl::f32);
      require_fused_equals_reference(fused_brn(rm32, rv32, r_max, d_max), reference_brn(rm32, rv32, r_max, d_max),
                                     brn_inputs(shape, nl::f32), 1e-4);
    }
  }
}

TEST_CASE("batch_renorm: the running statistics move as BatchNorm's, after r and d are formed", "[ops][batch_renorm]") {
  nl::manual_seed(2);
  auto x = nl::randn({6, 3, 4}, nl::f64);
  auto [rm, rv] = stale_stats(3);
  nl::Tensor rm_renorm = rm.clone(), rv_renorm = rv.clone(), rm_ref = rm.clone(), rv_ref = rv.clone();
  nl::Tensor rm_bn = rm.clone(), rv_bn = rv.clone();
  nl::batch_renorm(x, rm_renorm, rv_renorm, {}, {}, true, 0.1, 1e-5, 2.0, 1.0);
  nl::reference::batch_renorm(x, rm_ref, rv_ref, {}, {}, true, 0.1, 1e-5, 2.0, 1.0);
  nl::batch_norm(x, rm_bn, rv_bn, {}, {}, true, 0.1, 1e-5);
  CHECK(max_abs_diff(rm_renorm, rm_bn) < 1e-14);
  CHECK(max_abs_diff(rv_renorm, rv_bn) < 1e-14);
  CHECK(max_abs_diff(rm_ref, rm_bn) < 1e-14);
  CHECK(max_abs_diff(rv_ref, rv_bn) < 1e-14);
}

// The gradient rule holds r and d constant, which is the derivative of the
// forward only where they are clipped (there they are locally constant):
// running statistics far from the batch's (σ = 100, μ = 1000) clip both, and
// finite differences can check the rule. Unclipped, the rule is not the
// forward's derivative by design (the test below).
TEST_CASE("batch_renorm: gradcheck of input, weight and bias where r and d are clipped",
          "[ops][batch_renorm][gradcheck]") {
  nl::manual_seed(3);
  auto rm = nl::full({2}, 1000.0, nl::f64), rv = nl::full({2}, 1e4, nl::f64);
  require_gradcheck(fused_brn(rm, rv, 2.0, 1.0), brn_inputs({5, 2}));
  require_gradcheck(fused_brn(rm, rv, 3.0, 5.0), brn_inputs({3, 2, 2, 2}));
  require_gradcheck(
      [=](const std::vector<nl::Tensor>& in) {
        return nl::batch_renorm(in[0], rm.clone(), rv.clone(), {}, {}, true, 0.1, 1e-5, 1.5, 0.5);
      },
      {nl::randn({4, 2, 3}, nl::f64)});
}

TEST_CASE("batch_renorm: r_max = 1 and d_max = 0 is BatchNorm, values and gradients", "[ops][batch_renorm]") {
  nl::manual_seed(4);
  auto [rm, rv] = stale_stats(3);
  NormFn bn = [](const std::vector<nl::Tensor>& in) { return nl::batch_norm(in[0], {}, {}, in[1], in[2]); };
  require_fused_equals_reference(fused_brn(rm, rv, 1.0, 0.0), bn, brn_inputs({6, 3, 5}), 1e-12);
}

TEST_CASE(
    "batch_renorm: unclipped, training computes the eval function (x − μ)/σ, but its input gradient is "
    "BatchNorm's times r",
    "[ops][batch_renorm]") {
  nl::manual_seed(5);
  auto [rm, rv] = stale_stats(3);
  auto x = (nl::randn({8, 3, 2}, nl::f64) * 2.0 + 0.5).requires_grad_(true);
  auto w = nl::rand({3}, nl::f64, 0.5, 1.5), b = nl::randn({3}, nl::f64);
  auto y = nl::batch_renorm(x, rm.clone(), rv.clone(), w, b, true, 0.1, 1e-5, 1e6, 1e6);
  auto eval = nl::batch_norm(x.detach(), rm.clone(), rv.clone(), w, b, false);
  CHECK(max_abs_diff(y, eval) < 1e-12);
  // through μ_B and σ_B: each channel's input gradient sums to zero, as BatchNorm's (the eval function's does not)
  auto upstream = nl::randn(y.shape(), nl::f64);
  y.backward(upstream);
  for (double s : x.grad().sum({0, 2}).to_vector<double>()) CHECK(std::abs(s) < 1e-12);
  // and it is BatchNorm's with the weight w·r, r = σ_B/σ
  auto x_bn = x.detach().clone().requires_grad_(true);
  auto sigma_batch = (x_bn.detach().var({0, 2}, false) + 1e-5).sqrt(), sigma = (rv + 1e-5).sqrt();
  nl::batch_norm(x_bn, {}, {}, w * (sigma_batch / sigma), {}).backward(upstream);
  CHECK(max_abs_diff(x.grad(), x_bn.grad()) < 1e-12);
}

TEST_CASE("batch_renorm: eval normalizes with the running statistics and leaves them", "[ops][batch_renorm]") {
  nl::manual_seed(6);
  auto [rm, rv] = stale_stats(3);
  auto x = nl::randn({4, 3}, nl::f64);
  nl::Tensor rm_copy = rm.clone(), rv_copy = rv.clone();
  auto y = nl::batch_renorm(x, rm_copy, rv_copy, {}, {}, false, 0.1, 1e-5, 2.0, 1.0);
  CHECK(max_abs_diff(y, nl::batch_norm(x, rm, rv, {}, {}, false)) == 0);
  CHECK(max_abs_diff(rm_copy, rm) == 0);
  CHECK(max_abs_diff(rv_copy, rv) == 0);
}

TEST_CASE("batch_renorm: errors name the op and what was expected", "[ops][batch_renorm][errors]") {
  auto x = nl::randn({4, 3});
  REQUIRE_THROWS_WITH(nl::batch_renorm(x, {}, {}, {}, {}, true, 0.1, 1e-5, 2, 1),
                      Catch::Contains("batch_renorm: needs running_mean and running_var"));
  REQUIRE_THROWS_WITH(nl::batch_renorm(x, nl::zeros({3}), nl::ones({3}), {}, {}, true, 0.1, 1e-5, 0.5, 1),
                      Catch::Contains("r_max must be >= 1"));
  REQUIRE_THROWS_WITH(nl::batch_renorm(x, nl::zeros({3}), nl::ones({3}), {}, {}, true, 0.1, 1e-5, 2, -1),
                      Catch::Contains("d_max must be >= 0"));
  REQUIRE_THROWS_WITH(nl::batch_renorm(x, nl::zeros({4}), nl::ones({4}), {}, {}, true, 0.1, 1e-5, 2, 1),
                      Catch::Contains("running_mean") && Catch::Contains("[3]"));
  REQUIRE_THROWS_WITH(nl::batch_renorm(x, nl::zeros({3}), nl::ones({3}), nl::ones({2}), {}, true, 0.1, 1e-5, 2, 1),
                      Catch::Contains("weight") && Catch::Contains("[2]"));
  REQUIRE_THROWS_WITH(nl::batch_renorm(nl::randn({3}), nl::zeros({3}), nl::ones({3}), {}, {}, true, 0.1, 1e-5, 2, 1),
                      Catch::Contains("(N, C)"));
}
