// Embedding, Dropout, activations and losses: each module is its op.
#include <catch2/catch.hpp>

#include "normlab.h"

namespace layers = nl::layers;

TEST_CASE("Embedding: N(0,1) weight, lookup, scatter-add gradient", "[layers][embedding]") {
  nl::manual_seed(1);
  layers::Embedding emb(10, 4);
  CHECK(emb.weight.shape() == nl::Shape{10, 4});
  auto idx = nl::from_vector<int64_t>({3, 3, 7}, {3});
  auto y = emb(idx);
  CHECK(y.shape() == nl::Shape{3, 4});
  CHECK(y.select(0, 0).to_vector<float>() == emb.weight.select(0, 3).to_vector<float>());
  y.sum().backward();
  auto g = emb.weight.grad();
  CHECK(g.select(0, 3).to_vector<float>() == std::vector<float>(4, 2.0f));
  CHECK(g.select(0, 7).to_vector<float>() == std::vector<float>(4, 1.0f));
  CHECK(g.select(0, 0).to_vector<float>() == std::vector<float>(4, 0.0f));
  REQUIRE_THROWS_WITH(layers::Embedding(0, 4), Catch::Contains("Embedding"));
}

TEST_CASE("Dropout: active in training, identity in eval", "[layers][dropout]") {
  nl::manual_seed(2);
  layers::Dropout drop(0.5);
  auto x = nl::ones({1000});
  auto y = drop(x).to_vector<float>();
  int zeros = 0;
  for (float v : y) {
    CHECK((v == 0.0f || v == 2.0f));
    zeros += v == 0.0f;
  }
  CHECK(zeros > 400);
  CHECK(zeros < 600);
  drop.eval();
  CHECK(drop(x).to_vector<float>() == x.to_vector<float>());
  REQUIRE_THROWS_WITH(layers::Dropout(1.0), Catch::Contains("[0, 1)"));
}

TEST_CASE("Activations: modules equal their ops", "[layers][activation]") {
  nl::manual_seed(3);
  auto x = nl::randn({10});
  CHECK(layers::ReLU()(x).to_vector<float>() == nl::relu(x).to_vector<float>());
  CHECK(layers::Tanh()(x).to_vector<float>() == nl::tanh(x).to_vector<float>());
  CHECK(layers::Sigmoid()(x).to_vector<float>() == nl::sigmoid(x).to_vector<float>());
  CHECK(layers::GELU()(x).to_vector<float>() == nl::gelu(x).to_vector<float>());
  CHECK(layers::GELU("tanh")(x).to_vector<float>() == nl::gelu(x, "tanh").to_vector<float>());
  REQUIRE_THROWS_WITH(layers::GELU("fast"), Catch::Contains("gelu"));
  CHECK(layers::GELU("tanh").to_string() == "GELU(approximate='tanh')");
}

TEST_CASE("Losses: CrossEntropyLoss and MSELoss equal their ops", "[layers][loss]") {
  nl::manual_seed(4);
  auto logits = nl::randn({4, 3});
  auto targets = nl::from_vector<int64_t>({0, 2, -1, 1});
  layers::CrossEntropyLoss ce(-1);
  CHECK(ce(logits, targets).item<float>() == nl::cross_entropy(logits, targets, -1).item<float>());
  layers::MSELoss mse;
  auto a = nl::randn({5}), b = nl::randn({5});
  CHECK(mse(a, b).item<float>() == nl::mse_loss(a, b).item<float>());
}
