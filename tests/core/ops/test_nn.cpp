// embedding, cross_entropy, mse_loss, dropout: values by hand, gradients,
// the random mask's statistics and reproducibility, errors.
#include <catch2/catch.hpp>
#include <cmath>

#include "normlab.h"
#include "reduce_test_helpers.h"

using nl::f32;
using nl::f64;
using nl::i64;
using nl::Tensor;
using nltest::check_values;
using nltest::randn64;
using nltest::Ts;

TEST_CASE("embedding: rows picked by indices of any shape", "[ops][nn][embedding]") {
  Tensor w = nl::arange(0.0, 8.0, 1.0, f64).reshape({4, 2});
  Tensor y = nl::embedding(w, nl::from_vector<int64_t>({3, 0, 3, 1}, {2, 2}));
  CHECK(y.shape() == nl::Shape{2, 2, 2});
  check_values(y, {6, 7, 0, 1, 6, 7, 2, 3});
}

TEST_CASE("embedding: repeated indices scatter-add their gradients", "[ops][nn][embedding]") {
  Tensor w = nl::zeros({3, 2}, f64).requires_grad_(true);
  nl::embedding(w, nl::from_vector<int64_t>({2, 2, 0})).sum().backward();
  check_values(w.grad(), {1, 1, 0, 0, 2, 2});
}

TEST_CASE("gradcheck: embedding, including a strided weight", "[ops][nn][embedding][gradcheck]") {
  Tensor idx = nl::from_vector<int64_t>({1, 3, 1, 0}, {2, 2});
  CHECK_GRADCHECK([&](const Ts& in) { return nl::embedding(in[0], idx); }, {randn64({4, 3})});
  CHECK_GRADCHECK([&](const Ts& in) { return nl::embedding(in[0].t(), idx); }, {randn64({3, 4})});
}

TEST_CASE("cross_entropy by hand", "[ops][nn][cross_entropy]") {
  Tensor logits = nl::from_vector<double>({1, 2, 3, 0, 0, 0}, {2, 3});
  Tensor y = nl::cross_entropy(logits, nl::from_vector<int64_t>({2, 0}));
  double row0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3, row1 = std::log(3.0);
  CHECK(y.item<double>() == Approx((row0 + row1) / 2).epsilon(1e-14));
  CHECK(y.dim() == 0);
}

TEST_CASE("cross_entropy: ignore_index rows count neither in the loss nor the mean", "[ops][nn][cross_entropy]") {
  Tensor logits = nl::from_vector<double>({1, 2, 3, 5, -5, 0}, {2, 3}).requires_grad_(true);
  Tensor with_ignored = nl::cross_entropy(logits, nl::from_vector<int64_t>({2, -100}));
  Tensor first_only = nl::cross_entropy(logits.slice(0, 0, 1), nl::from_vector<int64_t>({2}));
  CHECK(with_ignored.item<double>() == Approx(first_only.item<double>()).epsilon(1e-14));
  with_ignored.backward();
  check_values(logits.grad().select(0, 1), {0, 0, 0});
  Tensor custom = nl::cross_entropy(logits.detach(), nl::from_vector<int64_t>({7, 1}), /*ignore_index=*/7);
  CHECK(custom.item<double>() == Approx(std::log(std::exp(5.0) + std::exp(-5.0) + 1.0) + 5.0).epsilon(1e-12));
}

TEST_CASE("gradcheck: cross_entropy with and without ignored rows", "[ops][nn][cross_entropy][gradcheck]") {
  CHECK_GRADCHECK(
      [](const Ts& in) {
        return nl::cross_entropy(in[0], nl::from_vector<int64_t>({0, 2, 1}));
      },
      {randn64({3, 4})});
  CHECK_GRADCHECK(
      [](const Ts& in) {
        return nl::cross_entropy(in[0], nl::from_vector<int64_t>({0, -100, 3}));
      },
      {randn64({3, 4}, 2)});
  CHECK_GRADCHECK(
      [](const Ts& in) {
        return nl::cross_entropy(in[0].t(), nl::from_vector<int64_t>({1, 0}));
      },
      {randn64({3, 2}, 3)});
}

TEST_CASE("cross_entropy equals −mean(log_softmax at the target)", "[ops][nn][cross_entropy]") {
  Tensor logits = randn64({5, 4}, 4).detach();
  auto t = nl::from_vector<int64_t>({3, 0, 1, 1, 2});
  Tensor ls = nl::log_softmax(logits, 1);
  double expected = 0;
  for (int64_t i = 0; i < 5; ++i)
    expected -= ls.select(0, i).select(0, t.to_vector<int64_t>()[size_t(i)]).item<double>();
  CHECK(nl::cross_entropy(logits, t).item<double>() == Approx(expected / 5).epsilon(1e-13));
}

TEST_CASE("mse_loss by hand and its gradients", "[ops][nn][mse]") {
  Tensor a = nl::from_vector<double>({1, 2, 3}).requires_grad_(true),
         b = nl::from_vector<double>({1, 0, 0}).requires_grad_(true);
  Tensor loss = nl::mse_loss(a, b);
  CHECK(loss.item<double>() == Approx((0 + 4 + 9) / 3.0));
  loss.backward();
  check_values(a.grad(), {0, 4.0 / 3, 2.0});
  check_values(b.grad(), {0, -4.0 / 3, -2.0});
  CHECK_GRADCHECK([](const Ts& in) { return nl::mse_loss(in[0].t(), in[1]); }, {randn64({3, 2}), randn64({2, 3}, 2)});
}

TEST_CASE("dropout: same seed, same mask, survivors scaled by 1/(1-p)", "[ops][nn][dropout]") {
  Tensor x = nl::ones({100000});
  nl::manual_seed(5);
  auto a = nl::dropout(x, 0.3).to_vector<float>();
  nl::manual_seed(5);
  auto b = nl::dropout(x, 0.3).to_vector<float>();
  CHECK(a == b);
  int64_t zeros = 0;
  for (float v : a) {
    if (v == 0.0f)
      ++zeros;
    else
      CHECK(v == Approx(1 / 0.7));
  }
  CHECK(double(zeros) / 100000 == Approx(0.3).margin(0.01));
}

TEST_CASE("dropout: identity in eval or with p = 0, gradient is the mask", "[ops][nn][dropout]") {
  Tensor x = randn64({50}, 6);
  CHECK(nl::dropout(x, 0.5, false).is_same(x));
  CHECK(nl::dropout(x, 0.0).is_same(x));
  nl::manual_seed(7);
  Tensor y = nl::dropout(x, 0.5);
  y.sum().backward();
  auto g = x.grad().to_vector<double>(), yv = y.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) CHECK(g[i] == (yv[i] == 0.0 ? 0.0 : 2.0));
}

TEST_CASE("dropout: the same numbers with 1 and 2 threads", "[ops][nn][dropout]") {
  int before = nl::get_num_threads();
  std::vector<float> results[2];
  for (int threads : {1, 2}) {
    nl::set_num_threads(threads);
    nl::manual_seed(8);
    results[threads - 1] = nl::dropout(nl::ones({200000}), 0.25).to_vector<float>();
  }
  nl::set_num_threads(before);
  CHECK(results[0] == results[1]);
}

TEST_CASE("nn errors name the op and the shapes", "[ops][nn][errors]") {
  Tensor w = nl::zeros({4, 2});
  REQUIRE_THROWS_WITH(nl::embedding(w, nl::from_vector<int64_t>({4})),
                      Catch::Contains("embedding: index 4 out of range [0, 4)"));
  REQUIRE_THROWS_WITH(nl::embedding(w, nl::zeros({2})), Catch::Contains("embedding: indices must be int64"));
  REQUIRE_THROWS_WITH(nl::embedding(nl::zeros({4}), nl::from_vector<int64_t>({0})),
                      Catch::Contains("weight must be 2-D"));
  Tensor logits = nl::zeros({2, 3});
  REQUIRE_THROWS_WITH(nl::cross_entropy(logits, nl::zeros({2})),
                      Catch::Contains("cross_entropy: indices must be int64, got float32 of shape [2]"));
  REQUIRE_THROWS_WITH(nl::cross_entropy(logits, nl::from_vector<int64_t>({0, 1, 2})),
                      Catch::Contains("targets must have shape [2] to match logits [2,3], got [3]"));
  REQUIRE_THROWS_WITH(nl::cross_entropy(logits, nl::from_vector<int64_t>({0, 3})),
                      Catch::Contains("index 3 out of range [0, 3)"));
  REQUIRE_THROWS_WITH(nl::cross_entropy(nl::zeros({3}), nl::from_vector<int64_t>({0})),
                      Catch::Contains("logits must be 2-D"));
  REQUIRE_THROWS_WITH(nl::mse_loss(nl::zeros({2}), nl::zeros({3})),
                      Catch::Contains("mse_loss: input shape [2] and target shape [3] must match"));
  REQUIRE_THROWS_WITH(nl::dropout(nl::zeros({2}), 1.5),
                      Catch::Contains("dropout: probability must be in [0, 1], got 1.5"));
  REQUIRE_THROWS_WITH(nl::dropout(nl::arange(3), 0.5), Catch::Contains("dropout") && Catch::Contains("int64"));
}
