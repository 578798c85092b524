// The BatchNorm1d module: PyTorch's names and buffers, running statistics in
// training and their use in eval, momentum None, use_reference, errors. The op
// is tested in tests/core/ops/test_batch_norm.cpp.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"

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
