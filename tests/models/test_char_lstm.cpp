// models::CharLSTM and models::sample_next: shapes, that it learns, generation, errors.
#include <catch2/catch.hpp>

#include "normlab.h"

using nl::layers::LSTMCell;

TEST_CASE("CharLSTM: logits shape and names for every cell, learns a repeating sequence", "[models][char_lstm]") {
  for (LSTMCell cell : {LSTMCell::plain, LSTMCell::layer_norm, LSTMCell::batch_norm}) {
    nl::manual_seed(0);
    nl::models::CharLSTM model(5, 4, 16, 1, cell);
    auto x = nl::from_vector<int64_t>({1, 2, 3, 1, 2, 3, 1, 2, 2, 3, 1, 2, 3, 1, 2, 3}, {2, 8});
    auto y = nl::from_vector<int64_t>({2, 3, 1, 2, 3, 1, 2, 3, 3, 1, 2, 3, 1, 2, 3, 1});
    CHECK(model(x).shape() == nl::Shape{2, 8, 5});
    CHECK(model.named_parameters().front().first == "embedding.weight");
    nl::optim::Adam opt(model.parameters(), {.lr = 2e-2});
    double last = 0;
    for (int step = 0; step < 150; ++step) {
      opt.zero_grad();
      auto loss = nl::cross_entropy(model(x).reshape({16, 5}), y);
      loss.backward();
      opt.step();
      last = loss.item<double>();
    }
    INFO("cell " << int(cell) << ": loss after 150 steps " << last);
    CHECK(last < 0.05);  // from ln 5 = 1.6; a model that has not learned the cycle stays near ln 3 = 1.1
    if (cell != LSTMCell::batch_norm) {  // BN in eval uses running averages that lag behind the weights
      auto out = model.generate({1, 2}, 6, 0.0);
      CHECK(out == std::vector<int64_t>{1, 2, 3, 1, 2, 3, 1, 2});
    }
  }
}

TEST_CASE("sample_next: argmax at temperature 0, top_k restricts, draws follow the distribution",
          "[models][sampling]") {
  auto logits = nl::from_vector<float>({0.0f, 2.0f, 1.0f, -1.0f});
  CHECK(nl::models::sample_next(logits, 0.0) == 1);
  nl::manual_seed(1);
  for (int i = 0; i < 50; ++i) {
    int64_t k = nl::models::sample_next(logits, 1.0, 2);
    CHECK((k == 1 || k == 2));
  }
  // p(1) = e²/(e⁰+e²+e¹+e⁻¹) ≈ 0.644
  int ones = 0, n = 4000;
  for (int i = 0; i < n; ++i) ones += nl::models::sample_next(logits, 1.0) == 1;
  CHECK(double(ones) / n == Approx(0.644).margin(0.03));
  REQUIRE_THROWS_WITH(nl::models::sample_next(nl::zeros({2, 2})), Catch::Contains("sample_next: expected logits (V)"));
  REQUIRE_THROWS_WITH(nl::models::sample_next(logits, -1.0), Catch::Contains("temperature"));
  REQUIRE_THROWS_WITH(nl::models::CharLSTM(5, 4, 8).generate({}, 2), Catch::Contains("prompt is empty"));
}
