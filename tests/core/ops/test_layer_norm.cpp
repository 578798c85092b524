// layer_norm and rms_norm: fused kernel vs composed reference, gradcheck,
// hand-computed values, the LN paper's invariances, thread-count independence,
// errors. The modules are tested in tests/layers/test_layer_norm.cpp.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"

using namespace normlab_test;

namespace {
NormFn fused_ln(const nl::Shape& shape, double eps = 1e-5) {
  return [=](const std::vector<nl::Tensor>& in) { return nl::layer_norm(in[0], shape, in[1], in[2], eps); };
}
NormFn reference_ln(const nl::Shape& shape, double eps = 1e-5) {
  return [=](const std::vector<nl::Tensor>& in) { return nl::reference::layer_norm(in[0], shape, in[1], in[2], eps); };
}
NormFn fused_rms(const nl::Shape& shape, double eps = 1e-6) {
  return [=](const std::vector<nl::Tensor>& in) { return nl::rms_norm(in[0], shape, in[1], eps); };
}
NormFn reference_rms(const nl::Shape& shape, double eps = 1e-6) {
  return [=](const std::vector<nl::Tensor>& in) { return nl::reference::rms_norm(in[0], shape, in[1], eps); };
}
// Affine parameters away from 1 and 0 so their gradients matter.
nl::Tensor random_weight(int64_t n, nl::DType dtype) { return nl::rand({n}, dtype, 0.5, 1.5); }
}  // namespace

TEST_CASE("layer_norm: fused equals reference in float64 over odd sizes", "[ops][layer_norm]") {
  nl::manual_seed(1);
  for (int64_t n : {1, 3, 17, 1000}) {
    INFO("features " << n);
    auto x = nl::randn({5, n}, nl::f64) * 3.0 + 1.0;
    require_fused_equals_reference(fused_ln({n}), reference_ln({n}),
                                   {x, random_weight(n, nl::f64), nl::randn({n}, nl::f64)}, 1e-10);
  }
}

TEST_CASE("layer_norm: fused equals reference in float32", "[ops][layer_norm]") {
  nl::manual_seed(2);
  for (int64_t n : {1, 3, 17, 1000}) {
    INFO("features " << n);
    auto x = nl::randn({7, n});
    require_fused_equals_reference(fused_ln({n}), reference_ln({n}), {x, random_weight(n, nl::f32), nl::randn({n})},
                                   1e-5);
  }
}

TEST_CASE("layer_norm: many rows (several row blocks, threaded) equal the reference", "[ops][layer_norm]") {
  nl::manual_seed(3);
  auto x = nl::randn({300, 129}, nl::f64);
  require_fused_equals_reference(fused_ln({129}), reference_ln({129}),
                                 {x, random_weight(129, nl::f64), nl::randn({129}, nl::f64)}, 1e-10);
}

TEST_CASE("layer_norm: over two trailing dims of a 3-D input", "[ops][layer_norm]") {
  nl::manual_seed(4);
  auto x = nl::randn({2, 3, 4, 5}, nl::f64);
  auto w = nl::rand({4, 5}, nl::f64, 0.5, 1.5), b = nl::randn({4, 5}, nl::f64);
  require_fused_equals_reference(fused_ln({4, 5}), reference_ln({4, 5}), {x, w, b}, 1e-10);
}

TEST_CASE("layer_norm: non-contiguous input equals the reference", "[ops][layer_norm]") {
  nl::manual_seed(5);
  auto base = nl::randn({9, 6}, nl::f64);
  NormFn fused = [](const std::vector<nl::Tensor>& in) {
    return nl::layer_norm(in[0].t(), {9}, in[1], in[2]);  // rows of the transpose are strided
  };
  NormFn reference = [](const std::vector<nl::Tensor>& in) {
    return nl::reference::layer_norm(in[0].t(), {9}, in[1], in[2]);
  };
  require_fused_equals_reference(fused, reference, {base, random_weight(9, nl::f64), nl::randn({9}, nl::f64)}, 1e-10);
}

TEST_CASE("layer_norm: gradcheck with and without affine parameters", "[ops][layer_norm][gradcheck]") {
  nl::manual_seed(6);
  auto x = nl::randn({3, 5}, nl::f64);
  require_gradcheck(fused_ln({5}), {x, random_weight(5, nl::f64), nl::randn({5}, nl::f64)});
  require_gradcheck([](const std::vector<nl::Tensor>& in) { return nl::layer_norm(in[0], {5}); }, {x});
  require_gradcheck([](const std::vector<nl::Tensor>& in) { return nl::layer_norm(in[0], {5}, in[1]); },
                    {x, random_weight(5, nl::f64)});
}

TEST_CASE("layer_norm: gradcheck over a strided, 3-D input", "[ops][layer_norm][gradcheck]") {
  nl::manual_seed(7);
  auto x = nl::randn({4, 2, 3}, nl::f64);
  require_gradcheck(
      [](const std::vector<nl::Tensor>& in) {
        return nl::layer_norm(in[0].transpose(0, 2), {2, 4}, in[1], in[2]);
      },
      {x, nl::rand({2, 4}, nl::f64, 0.5, 1.5), nl::randn({2, 4}, nl::f64)});
}

TEST_CASE("layer_norm: hand-computed values", "[ops][layer_norm]") {
  // row [1, 2, 3, 4]: mean 2.5, var 1.25, rstd 1/√(1.25 + eps)
  auto x = nl::from_vector<double>({1, 2, 3, 4}, {1, 4});
  auto y = nl::layer_norm(x, {4}, nl::Tensor(), nl::Tensor(), 0.0).to_vector<double>();
  double s = 1 / std::sqrt(1.25);
  std::vector<double> expected{-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s};
  for (int i = 0; i < 4; ++i) CHECK(y[i] == Approx(expected[i]).epsilon(1e-14));
  // with weight 2 and bias 1: 2·xhat + 1
  auto z = nl::layer_norm(x, {4}, nl::full({4}, 2.0, nl::f64), nl::ones({4}, nl::f64), 0.0).to_vector<double>();
  for (int i = 0; i < 4; ++i) CHECK(z[i] == Approx(2 * expected[i] + 1).epsilon(1e-14));
}

TEST_CASE("layer_norm: each output row has mean 0 and variance 1 without affine", "[ops][layer_norm]") {
  nl::manual_seed(8);
  auto x = nl::randn({4, 64}, nl::f64) * 5.0 + 3.0;
  auto y = nl::layer_norm(x, {64}, nl::Tensor(), nl::Tensor(), 0.0);
  for (double m : y.mean({1}).to_vector<double>()) CHECK(std::abs(m) < 1e-12);
  for (double v : y.var({1}, false).to_vector<double>()) CHECK(v == Approx(1).epsilon(1e-12));
}

TEST_CASE("layer_norm: a constant row gives zeros (eps keeps rstd finite)", "[ops][layer_norm]") {
  auto x = nl::full({2, 8}, 3.0);
  auto y = nl::layer_norm(x, {8});
  for (float v : y.to_vector<float>()) CHECK(v == 0.0f);
}

TEST_CASE("layer_norm: invariant to scaling and shifting a whole input row (Ba et al.)", "[ops][layer_norm]") {
  nl::manual_seed(9);
  auto x = nl::randn({3, 20}, nl::f64);
  auto w = random_weight(20, nl::f64), b = nl::randn({20}, nl::f64);
  auto y = nl::layer_norm(x, {20}, w, b, 0.0);
  // row i scaled by c_i > 0 and shifted by d_i
  auto scale = nl::from_vector<double>({0.1, 3.0, 250.0}, {3, 1}),
       shift = nl::from_vector<double>({-7, 0.5, 40}, {3, 1});
  auto y2 = nl::layer_norm(x * scale + shift, {20}, w, b, 0.0);
  CHECK(max_abs_diff(y, y2) < 1e-10);
}

TEST_CASE("layer_norm: invariant to re-scaling and re-centering the weight matrix before it (Ba et al., Table 1)",
          "[ops][layer_norm]") {
  // LN(x·Wᵀ) for W scaled by δ, or with one vector γ added to every row of W
  // (each output row shifts by γ·x, the same for all features of a sample)
  nl::manual_seed(12);
  auto x = nl::randn({4, 6}, nl::f64), W = nl::randn({5, 6}, nl::f64), gamma = nl::randn({1, 6}, nl::f64);
  auto y = nl::layer_norm(nl::matmul(x, W.t()), {5}, nl::Tensor(), nl::Tensor(), 0.0);
  CHECK(max_abs_diff(y, nl::layer_norm(nl::matmul(x, (W * 7.5).t()), {5}, nl::Tensor(), nl::Tensor(), 0.0)) < 1e-10);
  CHECK(max_abs_diff(y, nl::layer_norm(nl::matmul(x, (W + gamma).t()), {5}, nl::Tensor(), nl::Tensor(), 0.0)) < 1e-10);
}

TEST_CASE("layer_norm: each row's input gradient sums to 0 and is orthogonal to xhat", "[ops][layer_norm]") {
  // the shift and scale invariances seen from the backward: dx has no
  // component along (1, ..., 1) nor along xhat (exactly when eps = 0)
  nl::manual_seed(13);
  auto x = nl::randn({4, 7}, nl::f64).requires_grad_(true);
  auto w = random_weight(7, nl::f64), b = nl::randn({7}, nl::f64);
  nl::layer_norm(x, {7}, w, b, 0.0).backward(nl::randn({4, 7}, nl::f64));
  auto xhat = nl::layer_norm(x.detach(), {7}, nl::Tensor(), nl::Tensor(), 0.0);
  for (double s : x.grad().sum({1}).to_vector<double>()) CHECK(std::abs(s) < 1e-12);
  for (double s : (x.grad() * xhat).sum({1}).to_vector<double>()) CHECK(std::abs(s) < 1e-12);
}

TEST_CASE("layer_norm: not invariant to re-centering the dataset (one shift per feature)", "[ops][layer_norm]") {
  nl::manual_seed(14);
  auto x = nl::randn({4, 5}, nl::f64);
  auto feature_shift = nl::from_vector<double>({0, 3, -1, 0, 2}, {1, 5});  // the same for every sample
  CHECK(max_abs_diff(nl::layer_norm(x, {5}), nl::layer_norm(x + feature_shift, {5})) > 0.1);
}

TEST_CASE("layer_norm: not invariant to scaling a single feature column", "[ops][layer_norm]") {
  nl::manual_seed(10);
  auto x = nl::randn({3, 5}, nl::f64);
  auto column_scale = nl::from_vector<double>({1, 1, 10, 1, 1}, {1, 5});
  CHECK(max_abs_diff(nl::layer_norm(x, {5}), nl::layer_norm(x * column_scale, {5})) > 0.1);
}

TEST_CASE("layer_norm: results identical with 1 and 2 threads", "[ops][layer_norm]") {
  nl::manual_seed(11);
  auto x = nl::randn({2048, 256}).requires_grad_(true);
  auto w = nl::rand({256}, nl::f32, 0.5, 1.5).requires_grad_(true), b = nl::randn({256}).requires_grad_(true);
  auto g = nl::randn({2048, 256});
  int before = nl::get_num_threads();
  std::vector<std::vector<float>> results[2];
  for (int threads : {1, 2}) {
    nl::set_num_threads(threads);
    x.set_grad({}), w.set_grad({}), b.set_grad({});
    auto y = nl::layer_norm(x, {256}, w, b);
    y.backward(g);
    results[threads - 1] = {y.to_vector<float>(), x.grad().to_vector<float>(), w.grad().to_vector<float>(),
                            b.grad().to_vector<float>()};
  }
  nl::set_num_threads(before);
  for (int i = 0; i < 4; ++i) CHECK(results[0][i] == results[1][i]);
}

TEST_CASE("layer_norm: weight and bias gradients alone (input needs none) equal those of the full backward",
          "[ops][layer_norm]") {
  nl::manual_seed(12);
  auto x = nl::randn({70, 45}, nl::f64);
  auto w = random_weight(45, nl::f64).requires_grad_(true), b = nl::randn({45}, nl::f64).requires_grad_(true);
  auto g = nl::randn({70, 45}, nl::f64);
  nl::layer_norm(x, {45}, w, b).backward(g);
  auto dw_alone = w.grad(), db_alone = b.grad();
  w.set_grad({}), b.set_grad({});
  auto x_with_grad = x.detach().requires_grad_(true);
  nl::layer_norm(x_with_grad, {45}, w, b).backward(g);
  CHECK(max_abs_diff(dw_alone, w.grad()) == 0.0);
  CHECK(max_abs_diff(db_alone, b.grad()) == 0.0);
  REQUIRE(x_with_grad.grad().defined());
}

TEST_CASE("layer_norm: errors name the op and the shapes", "[ops][layer_norm][errors]") {
  auto x = nl::randn({2, 3});
  REQUIRE_THROWS_WITH(nl::layer_norm(x, {4}),
                      Catch::Contains("layer_norm") && Catch::Contains("[4]") && Catch::Contains("[2,3]"));
  REQUIRE_THROWS_WITH(nl::layer_norm(x, {3}, nl::ones({4})), Catch::Contains("weight") && Catch::Contains("[4]"));
  REQUIRE_THROWS_WITH(nl::layer_norm(x, {3}, nl::ones({3}, nl::f64)), Catch::Contains("dtype"));
  REQUIRE_THROWS_WITH(nl::layer_norm(nl::zeros({2, 3}, nl::i64), {3}), Catch::Contains("floating"));
  REQUIRE_THROWS_WITH(nl::layer_norm(x, {1, 2, 3}), Catch::Contains("normalized_shape"));
  REQUIRE_THROWS_WITH(nl::layer_norm(x, {3}, {}, {}, -1.0), Catch::Contains("eps"));
}

// ---- RMSNorm ---------------------------------------------------------------------------

TEST_CASE("rms_norm: fused equals reference in float64 and float32", "[ops][rms_norm]") {
  nl::manual_seed(20);
  for (int64_t n : {1, 3, 17, 1000}) {
    INFO("features " << n);
    require_fused_equals_reference(fused_rms({n}), reference_rms({n}),
                                   {nl::randn({6, n}, nl::f64) + 0.5, random_weight(n, nl::f64)}, 1e-10);
    require_fused_equals_reference(fused_rms({n}), reference_rms({n}),
                                   {nl::randn({6, n}) + 0.5, random_weight(n, nl::f32)}, 1e-5);
  }
}

TEST_CASE("rms_norm: gradcheck, with and without weight, strided input", "[ops][rms_norm][gradcheck]") {
  nl::manual_seed(21);
  require_gradcheck(fused_rms({4}), {nl::randn({3, 4}, nl::f64), random_weight(4, nl::f64)});
  require_gradcheck([](const std::vector<nl::Tensor>& in) { return nl::rms_norm(in[0].t(), {3}); },
                    {nl::randn({3, 5}, nl::f64)});
}

TEST_CASE("rms_norm: hand-computed values and scale invariance", "[ops][rms_norm]") {
  // [3, 4]: mean square 12.5, y = x / √12.5
  auto x = nl::from_vector<double>({3, 4}, {1, 2});
  auto y = nl::rms_norm(x, {2}, nl::Tensor(), 0.0).to_vector<double>();
  CHECK(y[0] == Approx(3 / std::sqrt(12.5)).epsilon(1e-14));
  CHECK(y[1] == Approx(4 / std::sqrt(12.5)).epsilon(1e-14));
  // scaling a row does not change the output; shifting does (no centering)
  auto y_scaled = nl::rms_norm(x * 7.0, {2}, nl::Tensor(), 0.0);
  CHECK(max_abs_diff(nl::rms_norm(x, {2}, nl::Tensor(), 0.0), y_scaled) < 1e-14);
  CHECK(max_abs_diff(nl::rms_norm(x, {2}, nl::Tensor(), 0.0), nl::rms_norm(x + 1.0, {2}, nl::Tensor(), 0.0)) > 1e-3);
}

TEST_CASE("rms_norm: each row's input gradient is orthogonal to xhat but need not sum to 0", "[ops][rms_norm]") {
  nl::manual_seed(22);
  auto x = (nl::randn({4, 7}, nl::f64) + 1.0).requires_grad_(true);
  nl::rms_norm(x, {7}, random_weight(7, nl::f64), 0.0).backward(nl::randn({4, 7}, nl::f64));
  auto xhat = nl::rms_norm(x.detach(), {7}, nl::Tensor(), 0.0);
  for (double s : (x.grad() * xhat).sum({1}).to_vector<double>()) CHECK(std::abs(s) < 1e-12);
  double largest_sum = 0;
  for (double s : x.grad().sum({1}).to_vector<double>()) largest_sum = std::max(largest_sum, std::abs(s));
  CHECK(largest_sum > 1e-3);  // no centering, so no shift invariance
}

// ---- the modules -----------------------------------------------------------------------
