// batch_norm: fused kernel vs composed reference (train and eval, (N,C),
// (N,C,L), images (N,C,H,W) and 5-D), gradcheck, running statistics as PyTorch keeps them, the
// invariances, batch dependence, thread-count independence and errors. The
// module is tested in tests/layers/test_batch_norm.cpp.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"

using namespace normlab_test;

namespace {
// inputs: x, weight, bias; running stats are fixed tensors captured by value.
NormFn fused_bn(bool training, nl::Tensor rm = {}, nl::Tensor rv = {}) {
  return [=](const std::vector<nl::Tensor>& in) {
    return nl::batch_norm(in[0], rm.defined() ? rm.clone() : rm, rv.defined() ? rv.clone() : rv, in[1], in[2],
                          training);
  };
}
NormFn reference_bn(bool training, nl::Tensor rm = {}, nl::Tensor rv = {}) {
  return [=](const std::vector<nl::Tensor>& in) {
    return nl::reference::batch_norm(in[0], rm.defined() ? rm.clone() : rm, rv.defined() ? rv.clone() : rv, in[1],
                                     in[2], training);
  };
}
std::vector<nl::Tensor> bn_inputs(nl::Shape x_shape, nl::DType dtype = nl::f32) {
  int64_t C = x_shape[1];
  return {nl::randn(x_shape, dtype) * 2.0 + 0.5, nl::rand({C}, dtype, 0.5, 1.5), nl::randn({C}, dtype)};
}
}  // namespace

TEST_CASE("batch_norm: fused equals reference in training, float64, odd sizes", "[ops][batch_norm]") {
  nl::manual_seed(1);
  for (int64_t C : {1, 3, 17, 1000}) {
    INFO("channels " << C);
    require_fused_equals_reference(fused_bn(true), reference_bn(true), bn_inputs({6, C}, nl::f64), 1e-10);
    require_fused_equals_reference(fused_bn(true), reference_bn(true), bn_inputs({3, C, 5}, nl::f64), 1e-10);
  }
  // feature maps long enough for the lanes (L >= 32, and a tail past them), one channel per block
  require_fused_equals_reference(fused_bn(true), reference_bn(true), bn_inputs({3, 5, 7, 11}, nl::f64), 1e-10);
  require_fused_equals_reference(fused_bn(true), reference_bn(true), bn_inputs({2, 3, 130, 130}, nl::f64), 1e-10);
}

TEST_CASE("batch_norm: fused equals reference in training, float32", "[ops][batch_norm]") {
  nl::manual_seed(2);
  for (int64_t C : {1, 3, 17, 1000}) {
    INFO("channels " << C);
    require_fused_equals_reference(fused_bn(true), reference_bn(true), bn_inputs({8, C}), 1e-5);
    require_fused_equals_reference(fused_bn(true), reference_bn(true), bn_inputs({4, C, 3}), 1e-5);
  }
  require_fused_equals_reference(fused_bn(true), reference_bn(true), bn_inputs({4, 6, 9, 9}), 1e-5);
}

TEST_CASE("batch_norm: fused equals reference in eval (running statistics)", "[ops][batch_norm]") {
  nl::manual_seed(3);
  for (int64_t C : {1, 17, 130}) {
    auto rm = nl::randn({C}, nl::f64), rv = nl::rand({C}, nl::f64, 0.5, 2.0);
    require_fused_equals_reference(fused_bn(false, rm, rv), reference_bn(false, rm, rv), bn_inputs({5, C}, nl::f64),
                                   1e-10);
    require_fused_equals_reference(fused_bn(false, rm, rv), reference_bn(false, rm, rv), bn_inputs({2, C, 4}, nl::f64),
                                   1e-10);
  }
}

TEST_CASE("batch_norm: images (N, C, H, W) and 5-D, fused equals reference in training and eval", "[ops][batch_norm]") {
  nl::manual_seed(12);
  auto rm = nl::randn({3}, nl::f64), rv = nl::rand({3}, nl::f64, 0.5, 2.0);
  for (nl::Shape shape : {nl::Shape{4, 3, 5, 6}, nl::Shape{2, 3, 1, 7}, nl::Shape{2, 3, 2, 3, 2}}) {
    INFO("input " << fmt::format("{}", shape));
    require_fused_equals_reference(fused_bn(true), reference_bn(true), bn_inputs(shape, nl::f64), 1e-10);
    require_fused_equals_reference(fused_bn(true), reference_bn(true), bn_inputs(shape), 1e-4);
    require_fused_equals_reference(fused_bn(false, rm, rv), reference_bn(false, rm, rv), bn_inputs(shape, nl::f64),
                                   1e-10);
  }
  // statistics per channel over N·H·W: each channel of the output has mean 0 and variance 1
  auto y = nl::batch_norm(nl::randn({4, 3, 5, 6}, nl::f64) * 3.0 + 1.0, {}, {}, {}, {}, true, 0.1, 0.0);
  for (double m : y.mean({0, 2, 3}).to_vector<double>()) CHECK(std::abs(m) < 1e-12);
  for (double v : y.var({0, 2, 3}, false).to_vector<double>()) CHECK(v == Approx(1).epsilon(1e-12));
}

TEST_CASE("batch_norm: non-contiguous input equals the reference", "[ops][batch_norm]") {
  nl::manual_seed(4);
  auto x = nl::randn({5, 7}, nl::f64);  // transposed: (7, 5), 5 channels, strided
  NormFn fused = [](const std::vector<nl::Tensor>& in) { return nl::batch_norm(in[0].t(), {}, {}, in[1], in[2]); };
  NormFn reference = [](const std::vector<nl::Tensor>& in) {
    return nl::reference::batch_norm(in[0].t(), {}, {}, in[1], in[2]);
  };
  require_fused_equals_reference(fused, reference, {x, nl::rand({5}, nl::f64, 0.5, 1.5), nl::randn({5}, nl::f64)},
                                 1e-10);
}

TEST_CASE("batch_norm: gradcheck in training and eval, 2-D, 3-D and 4-D", "[ops][batch_norm][gradcheck]") {
  nl::manual_seed(5);
  require_gradcheck(fused_bn(true), bn_inputs({4, 3}, nl::f64));
  require_gradcheck(fused_bn(true), bn_inputs({3, 2, 4}, nl::f64));
  require_gradcheck(fused_bn(true), bn_inputs({2, 2, 3, 2}, nl::f64));
  auto rm = nl::randn({3}, nl::f64), rv = nl::rand({3}, nl::f64, 0.5, 2.0);
  require_gradcheck(fused_bn(false, rm, rv), bn_inputs({4, 3}, nl::f64));
  require_gradcheck([](const std::vector<nl::Tensor>& in) { return nl::batch_norm(in[0], {}, {}); },
                    {nl::randn({5, 2}, nl::f64)});
}

TEST_CASE("batch_norm: hand-computed values for one channel", "[ops][batch_norm]") {
  // channel values [1, 3]: mean 2, biased var 1 -> [-1, 1] (eps 0)
  auto x = nl::from_vector<double>({1, 3}, {2, 1});
  auto y = nl::batch_norm(x, {}, {}, {}, {}, true, 0.1, 0.0).to_vector<double>();
  CHECK(y[0] == Approx(-1.0).epsilon(1e-14));
  CHECK(y[1] == Approx(1.0).epsilon(1e-14));
}

TEST_CASE("batch_norm: running statistics follow PyTorch (unbiased variance, momentum)", "[ops][batch_norm]") {
  // channel 0 values [1, 3]: mean 2, unbiased var 2; channel 1 values [0, 0]: mean 0, var 0
  auto x = nl::from_vector<double>({1, 0, 3, 0}, {2, 2});
  auto rm = nl::zeros({2}, nl::f64), rv = nl::ones({2}, nl::f64);
  nl::batch_norm(x, rm, rv, {}, {}, true, 0.1, 1e-5);
  CHECK(rm.to_vector<double>()[0] == Approx(0.2));  // 0.9·0 + 0.1·2
  CHECK(rv.to_vector<double>()[0] == Approx(1.1));  // 0.9·1 + 0.1·2
  CHECK(rm.to_vector<double>()[1] == Approx(0.0));
  CHECK(rv.to_vector<double>()[1] == Approx(0.9));  // 0.9·1 + 0.1·0
  // the reference updates them identically
  auto rm2 = nl::zeros({2}, nl::f64), rv2 = nl::ones({2}, nl::f64);
  nl::reference::batch_norm(x, rm2, rv2, {}, {}, true, 0.1, 1e-5);
  CHECK(max_abs_diff(rm, rm2) < 1e-15);
  CHECK(max_abs_diff(rv, rv2) < 1e-15);
}

TEST_CASE("batch_norm: output unchanged when a feature column is scaled (training)", "[ops][batch_norm]") {
  nl::manual_seed(6);
  auto x = nl::randn({16, 4}, nl::f64);
  auto scale = nl::from_vector<double>({1, 50, 0.02, 3}, {1, 4});
  auto y = nl::batch_norm(x, {}, {}, {}, {}, true, 0.1, 0.0);
  CHECK(max_abs_diff(y, nl::batch_norm(x * scale, {}, {}, {}, {}, true, 0.1, 0.0)) < 1e-10);
  // but scaling one sample's row does change it
  auto row_scale = nl::ones({16, 1}, nl::f64);
  row_scale.select(0, 0).fill_(10.0);
  CHECK(max_abs_diff(y, nl::batch_norm(x * row_scale, {}, {}, {}, {}, true, 0.1, 0.0)) > 0.1);
}

TEST_CASE("batch_norm: output unchanged when a feature column is shifted (dataset re-centering)", "[ops][batch_norm]") {
  nl::manual_seed(9);
  auto x = nl::randn({16, 4}, nl::f64);
  auto shift = nl::from_vector<double>({3, -40, 0.5, 1000}, {1, 4});
  auto y = nl::batch_norm(x, {}, {}, {}, {}, true, 0.1, 0.0);
  CHECK(max_abs_diff(y, nl::batch_norm(x + shift, {}, {}, {}, {}, true, 0.1, 0.0)) < 1e-9);
}

TEST_CASE("batch_norm: invariant to re-scaling, not to re-centering, the weight matrix before it (Ba et al., Table 1)",
          "[ops][batch_norm]") {
  // W + 1·γᵀ shifts every feature of sample n by γ·x_n, a different shift per sample
  nl::manual_seed(12);
  auto x = nl::randn({8, 6}, nl::f64), W = nl::randn({5, 6}, nl::f64), gamma = nl::randn({1, 6}, nl::f64);
  auto y = nl::batch_norm(nl::matmul(x, W.t()), {}, {}, {}, {}, true, 0.1, 0.0);
  CHECK(max_abs_diff(y, nl::batch_norm(nl::matmul(x, (W * 7.5).t()), {}, {}, {}, {}, true, 0.1, 0.0)) < 1e-10);
  CHECK(max_abs_diff(y, nl::batch_norm(nl::matmul(x, (W + gamma).t()), {}, {}, {}, {}, true, 0.1, 0.0)) > 0.1);
}

TEST_CASE("batch_norm: each channel's input gradient sums to 0 and is orthogonal to xhat (training)",
          "[ops][batch_norm]") {
  nl::manual_seed(10);
  auto x = nl::randn({9, 3, 2}, nl::f64).requires_grad_(true);
  auto w = nl::rand({3}, nl::f64, 0.5, 1.5), b = nl::randn({3}, nl::f64);
  nl::batch_norm(x, {}, {}, w, b, true, 0.1, 0.0).backward(nl::randn({9, 3, 2}, nl::f64));
  auto xhat = nl::batch_norm(x.detach(), {}, {}, {}, {}, true, 0.1, 0.0);
  for (double s : x.grad().sum({0, 2}).to_vector<double>()) CHECK(std::abs(s) < 1e-12);
  for (double s : (x.grad() * xhat).sum({0, 2}).to_vector<double>()) CHECK(std::abs(s) < 1e-12);
}

TEST_CASE("batch_norm: in eval a sample's output does not depend on the rest of the batch", "[ops][batch_norm]") {
  nl::manual_seed(11);
  auto x = nl::randn({8, 3});
  auto rm = nl::randn({3}), rv = nl::rand({3}, nl::f32, 0.5, 2.0);
  auto alone = nl::batch_norm(x.slice(0, 0, 1), rm, rv, {}, {}, false);
  auto in_batch = nl::batch_norm(x, rm, rv, {}, {}, false).slice(0, 0, 1);
  CHECK(max_abs_diff(alone, in_batch) == 0.0);
}

TEST_CASE("batch_norm: a sample's output depends on the rest of the batch in training", "[ops][batch_norm]") {
  nl::manual_seed(7);
  auto x = nl::randn({8, 3});
  auto alone = nl::batch_norm(x.slice(0, 0, 2), {}, {}).slice(0, 0, 1);
  auto in_batch = nl::batch_norm(x, {}, {}).slice(0, 0, 1);
  CHECK(max_abs_diff(alone, in_batch) > 1e-3);
}

TEST_CASE("batch_norm: results identical with 1 and 2 threads", "[ops][batch_norm]") {
  nl::manual_seed(8);
  // rows; channels of 40 values (64 channels per block); feature maps of 7200 values (2 channels per block)
  for (nl::Shape shape : {nl::Shape{512, 256}, nl::Shape{64, 32, 40}, nl::Shape{8, 5, 30, 30}}) {
    auto x = nl::randn(shape).requires_grad_(true);
    auto w = nl::rand({shape[1]}, nl::f32, 0.5, 1.5).requires_grad_(true);
    auto g = nl::randn(shape);
    int before = nl::get_num_threads();
    std::vector<std::vector<float>> results[2];
    for (int threads : {1, 2}) {
      nl::set_num_threads(threads);
      x.set_grad({});
      w.set_grad({});
      auto y = nl::batch_norm(x, {}, {}, w, {});
      y.backward(g);
      results[threads - 1] = {y.to_vector<float>(), x.grad().to_vector<float>(), w.grad().to_vector<float>()};
    }
    nl::set_num_threads(before);
    for (int i = 0; i < 3; ++i) CHECK(results[0][i] == results[1][i]);
  }
}

TEST_CASE("batch_norm: errors name the op and the shapes", "[ops][batch_norm][errors]") {
  auto x = nl::randn({4, 3});
  REQUIRE_THROWS_WITH(nl::batch_norm(nl::randn({3}), {}, {}), Catch::Contains("batch_norm") && Catch::Contains("[3]"));
  REQUIRE_THROWS_WITH(nl::batch_norm(nl::randn({1, 3}), {}, {}),
                      Catch::Contains("more than 1 value per channel") && Catch::Contains("[1,3]"));
  REQUIRE_THROWS_WITH(nl::batch_norm(x, {}, {}, nl::ones({4})), Catch::Contains("weight") && Catch::Contains("[3]"));
  REQUIRE_THROWS_WITH(nl::batch_norm(x, nl::zeros({4}), nl::ones({4})), Catch::Contains("running_mean"));
  REQUIRE_THROWS_WITH(nl::batch_norm(x, nl::zeros({3}), {}), Catch::Contains("together"));
  REQUIRE_THROWS_WITH(nl::batch_norm(x, {}, {}, {}, {}, false), Catch::Contains("eval mode needs"));
  REQUIRE_THROWS_WITH(nl::batch_norm(x, {}, {}, {}, {}, true, 1.5), Catch::Contains("momentum"));
}

// ---- the module --------------------------------------------------------------------------
