// The BatchNorm modules — BatchNorm1d, BatchNorm2d (PyTorch parity on images),
// BatchRenorm1d/2d: PyTorch's names and buffers, running statistics in
// training and their use in eval, momentum None, use_reference, errors. The op
// is tested in tests/core/ops/test_batch_norm.cpp.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"
#include "tests/layers/image_norm_fixture.h"

using namespace normlab_test;
namespace layers = nl::layers;

TEST_CASE("BatchNorm1d: PyTorch's names, initial values and buffers", "[layers][batch_norm]") {
  layers::BatchNorm1d bn(3);
  auto state = bn.state_dict();
  std::vector<std::string> keys;
  for (auto& [k, v] : state) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"bias", "num_batches_tracked", "running_mean", "running_var", "weight"});
  CHECK(bn.parameters().size() == 2);
  CHECK(bn.running_var.to_vector<float>() == std::vector<float>{1, 1, 1});
  CHECK(bn.num_batches_tracked.dtype() == nl::i64);
  CHECK(bn.num_batches_tracked.dim() == 0);
  CHECK(bn.to_string() == "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)");
}

TEST_CASE("BatchNorm1d: training updates running stats, eval uses them and differs", "[layers][batch_norm]") {
  nl::manual_seed(9);
  layers::BatchNorm1d bn(4);
  auto x = nl::randn({10, 4}) * 3.0 + 2.0;
  auto train_out = bn(x);
  CHECK(bn.num_batches_tracked.item<int64_t>() == 1);
  auto mean = x.mean({0}).to_vector<float>(), var = x.var({0}, true).to_vector<float>();
  for (int c = 0; c < 4; ++c) {
    CHECK(bn.running_mean.to_vector<float>()[c] == Approx(0.1 * mean[c]).epsilon(1e-5));
    CHECK(bn.running_var.to_vector<float>()[c] == Approx(0.9 + 0.1 * var[c]).epsilon(1e-5));
  }
  bn.eval();
  auto eval_out = bn(x);
  CHECK(bn.num_batches_tracked.item<int64_t>() == 1);
  CHECK(max_abs_diff(train_out, eval_out) > 0.1);
  // eval: (x − running_mean) / √(running_var + eps)
  auto expected = (x - bn.running_mean) / (bn.running_var + 1e-5).sqrt();
  CHECK(max_abs_diff(eval_out, expected) < 1e-5);
}

TEST_CASE("BatchNorm1d: momentum None is a cumulative average", "[layers][batch_norm]") {
  layers::BatchNorm1d bn(1, 1e-5, std::nullopt);
  bn(nl::from_vector<float>({0, 2}, {2, 1}));           // batch mean 1
  bn(nl::from_vector<float>({4, 6}, {2, 1}));           // batch mean 5
  CHECK(bn.running_mean.item<float>() == Approx(3.0));  // (1 + 5) / 2
  CHECK(bn.num_batches_tracked.item<int64_t>() == 2);
}

TEST_CASE("BatchNorm1d: without running stats uses batch statistics in eval too", "[layers][batch_norm]") {
  nl::manual_seed(10);
  layers::BatchNorm1d bn(3, 1e-5, 0.1, true, false);
  CHECK(bn.named_buffers().empty());
  auto x = nl::randn({6, 3});
  auto a = bn(x);
  bn.eval();
  CHECK(max_abs_diff(a, bn(x)) == 0.0);
}

TEST_CASE("BatchNorm1d: use_reference matches the fused path, running stats included", "[layers][batch_norm]") {
  nl::manual_seed(11);
  layers::BatchNorm1d fused(5, 1e-5, 0.1, true, true, nl::f64), composed(5, 1e-5, 0.1, true, true, nl::f64);
  composed.use_reference = true;
  for (int step = 0; step < 3; ++step) {
    auto x = nl::randn({4, 5, 3}, nl::f64);
    CHECK(max_abs_diff(fused(x), composed(x)) < 1e-12);
  }
  CHECK(max_abs_diff(fused.running_mean, composed.running_mean) < 1e-14);
  CHECK(max_abs_diff(fused.running_var, composed.running_var) < 1e-14);
  fused.eval();
  composed.eval();
  auto x = nl::randn({2, 5}, nl::f64);
  CHECK(max_abs_diff(fused(x), composed(x)) < 1e-12);
}

TEST_CASE("BatchNorm1d: shape and argument errors", "[layers][batch_norm][errors]") {
  layers::BatchNorm1d bn(3);
  REQUIRE_THROWS_WITH(bn(nl::randn({4, 5})), Catch::Contains("BatchNorm1d") && Catch::Contains("[4,5]"));
  REQUIRE_THROWS_WITH(bn(nl::randn({1, 3})), Catch::Contains("more than 1 value per channel"));
  bn.eval();
  CHECK_NOTHROW(bn(nl::randn({1, 3})));  // eval with one sample is fine
  REQUIRE_THROWS_WITH(layers::BatchNorm1d(0), Catch::Contains("num_features"));
  REQUIRE_THROWS_WITH(layers::BatchNorm1d(3, 1e-5, 2.0), Catch::Contains("momentum"));
}

TEST_CASE("BatchNorm2d: PyTorch parity (nn.BatchNorm2d), two training steps and eval, float64 and float32",
          "[layers][batch_norm][pytorch]") {
  layers::BatchNorm2d bn64(3, 1e-5, 0.1, true, true, nl::f64);
  require_matches_image_fixture(bn64, "bn2d_f64", {"train1", "train2", "eval"}, 1e-10);
  CHECK(bn64.num_batches_tracked.item<int64_t>() == 2);
  layers::BatchNorm2d bn32(3);
  require_matches_image_fixture(bn32, "bn2d_f32", {"train1", "train2", "eval"}, 2e-5);
}

TEST_CASE("BatchNorm2d: names and printing as PyTorch, images only, use_reference equal", "[layers][batch_norm]") {
  nl::manual_seed(11);
  layers::BatchNorm2d bn(4, 1e-5, 0.1, true, true, nl::f64);
  CHECK(bn.to_string() == "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)");
  CHECK(bn.state_dict().size() == 5);
  REQUIRE_THROWS_WITH(bn(nl::randn({2, 4, 5}, nl::f64)),
                      Catch::Contains("BatchNorm2d: expected input (N, C, H, W) with C = 4, got [2,4,5]"));
  REQUIRE_THROWS_WITH(bn(nl::randn({2, 3, 5, 5}, nl::f64)), Catch::Contains("C = 4"));
  REQUIRE_THROWS_WITH(layers::BatchNorm1d(4)(nl::randn({2, 4, 5, 5})),
                      Catch::Contains("BatchNorm1d: expected input (N, C) or (N, C, L)"));
  auto x = nl::randn({3, 4, 2, 5}, nl::f64);
  layers::BatchNorm2d twin(4, 1e-5, 0.1, true, true, nl::f64);
  twin.use_reference = true;
  CHECK(max_abs_diff(bn(x), twin(x)) < 1e-12);
  CHECK(max_abs_diff(bn.running_var, twin.running_var) < 1e-14);
}

TEST_CASE("BatchRenorm1d/2d: BatchNorm's names, r_max and d_max, the op in training and eval",
          "[layers][batch_norm][batch_renorm]") {
  nl::manual_seed(12);
  layers::BatchRenorm2d brn(3, 1e-5, 0.1, true, 3.0, 5.0, nl::f64);
  CHECK(brn.to_string() == "BatchRenorm2d(3, eps=1e-05, momentum=0.1, affine=true, r_max=3, d_max=5)");
  std::vector<std::string> keys;
  for (auto& [k, v] : brn.state_dict()) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"bias", "num_batches_tracked", "running_mean", "running_var", "weight"});
  // a BatchNorm2d's state dict loads into it (and back)
  layers::BatchNorm2d bn(3, 1e-5, 0.1, true, true, nl::f64);
  bn(nl::randn({4, 3, 2, 2}, nl::f64) * 2.0 + 1.0);
  brn.load_state_dict(bn.state_dict());
  // training: the op with the running statistics before this step, which then move and are counted
  auto x = nl::randn({5, 3, 2, 3}, nl::f64) * 3.0 - 1.0;
  nl::Tensor rm = brn.running_mean.clone(), rv = brn.running_var.clone();
  auto expected = nl::batch_renorm(x, rm, rv, brn.weight, brn.bias, true, 0.1, 1e-5, 3.0, 5.0);
  CHECK(max_abs_diff(brn(x), expected) < 1e-12);
  CHECK(max_abs_diff(brn.running_mean, rm) < 1e-14);
  CHECK(brn.num_batches_tracked.item<int64_t>() == 2);
  // the limits can change between steps (the paper's schedule); r_max = 1, d_max = 0 is BatchNorm
  brn.r_max = 1.0;
  brn.d_max = 0.0;
  layers::BatchNorm2d same(3, 1e-5, 0.1, true, true, nl::f64);
  same.load_state_dict(brn.state_dict());
  CHECK(max_abs_diff(brn(x), same(x)) < 1e-12);
  brn.eval();
  same.eval();
  CHECK(max_abs_diff(brn(x), same(x)) == 0);
  brn.use_reference = true;
  CHECK(max_abs_diff(brn(x), same(x)) < 1e-12);
  layers::BatchRenorm1d brn1(3);
  REQUIRE_THROWS_WITH(brn1(nl::randn({2, 3, 4, 4})),
                      Catch::Contains("BatchRenorm1d: expected input (N, C) or (N, C, L)"));
  CHECK(brn1(nl::randn({4, 3, 5})).shape() == nl::Shape{4, 3, 5});
  REQUIRE_THROWS_WITH(layers::BatchRenorm1d(3, 1e-5, 0.1, true, 0.5), Catch::Contains("r_max must be >= 1"));
}

TEST_CASE("set_renorm_limits: every BatchRenorm in a model, nested or the model itself, and nothing else",
          "[layers][batch_norm][batch_renorm]") {
  auto inner = std::make_shared<layers::Sequential>();
  inner->push_back(std::make_shared<layers::BatchRenorm2d>(3));
  inner->push_back(std::make_shared<layers::BatchNorm2d>(3));
  layers::Sequential model;
  model.push_back(std::make_shared<layers::BatchRenorm1d>(4));
  model.push_back(inner);
  CHECK(layers::set_renorm_limits(model, 2.5, 4.0) == 2);
  auto* first = dynamic_cast<layers::BatchRenorm*>(model.named_children()[0].second.get());
  auto* nested = dynamic_cast<layers::BatchRenorm*>(model.named_modules()[2].second.get());
  REQUIRE((first && nested));
  CHECK((first->r_max == 2.5 && first->d_max == 4.0 && nested->r_max == 2.5 && nested->d_max == 4.0));
  layers::BatchRenorm2d alone(3);
  CHECK(layers::set_renorm_limits(alone, 3.0, 5.0) == 1);
  CHECK((alone.r_max == 3.0 && alone.d_max == 5.0));
  layers::BatchNorm2d plain(3);
  CHECK(layers::set_renorm_limits(plain, 3.0, 5.0) == 0);
  REQUIRE_THROWS_WITH(layers::set_renorm_limits(model, 0.9, 1.0),
                      Catch::Contains("set_renorm_limits: r_max must be >= 1 and d_max >= 0, got 0.9 and 1"));
}

TEST_CASE("BatchRenorm2d: equals the paper's formula written out in PyTorch, two training steps and eval",
          "[layers][batch_norm][batch_renorm][pytorch]") {
  layers::BatchRenorm2d brn(3, 1e-5, 0.1, true, 1.5, 0.25, nl::f64);
  require_matches_image_fixture(brn, "brn2d_f64", {"train1", "train2", "eval"}, 1e-10);
}
