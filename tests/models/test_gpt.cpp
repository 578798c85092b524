// models::GPT: shapes and names, causality of the whole stack, gradients
// against finite differences for each norm placement, weight tying, that it
// learns, generation, errors.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"
#include "tests/layers/module_gradcheck.h"

using namespace normlab_test;
using nl::layers::NormPlacement;
using nl::models::GPT;
using nl::models::GPTConfig;

namespace {
GPTConfig tiny(NormPlacement norm, nl::DType dtype = nl::f64) {
  GPTConfig c;
  c.vocab_size = 7;
  c.block_size = 6;
  c.d_model = 8;
  c.num_heads = 2;
  c.num_layers = 2;
  c.dim_feedforward = 12;
  c.norm = norm;
  c.dtype = dtype;
  return c;
}
nl::Tensor ids(std::vector<int64_t> v, int64_t n, int64_t t) { return nl::from_vector(v, {n, t}); }
}  // namespace

TEST_CASE("GPT: logits shape, parameter names per norm placement, tied head", "[models][gpt]") {
  nl::manual_seed(0);
  GPT pre(tiny(NormPlacement::pre)), post(tiny(NormPlacement::post)), none(tiny(NormPlacement::none));
  auto x = ids({0, 1, 2, 3, 4, 5, 6, 0}, 2, 4);
  CHECK(pre(x).shape() == nl::Shape{2, 4, 7});
  std::vector<std::string> names;
  for (auto& [name, p] : pre.named_parameters()) names.push_back(name);
  CHECK(names.front() == "token_embedding.weight");
  CHECK(std::find(names.begin(), names.end(), "blocks.1.norm2.weight") != names.end());
  CHECK(std::find(names.begin(), names.end(), "final_norm.weight") != names.end());
  CHECK(names.back() == "head.weight");
  CHECK(post.final_norm == nullptr);
  CHECK(none.num_parameters() == post.num_parameters() - 2 * 2 * 2 * 8);  // 2 blocks × 2 norms × (weight + bias)
  auto config = tiny(NormPlacement::pre);
  config.tie_weights = true;
  GPT tied(config);
  CHECK(tied.head == nullptr);
  CHECK(tied.num_parameters() == pre.num_parameters() - 7 * 8);
  CHECK(tied(x).shape() == nl::Shape{2, 4, 7});
  CHECK(pre.to_string().find("GPT(vocab_size=7, block_size=6, d_model=8, heads=2, layers=2, norm=pre") == 0);
}

TEST_CASE("GPT: GPT-2 initialization", "[models][gpt]") {
  nl::manual_seed(1);
  auto c = tiny(NormPlacement::pre);
  c.d_model = 64;
  c.num_heads = 4;
  c.dim_feedforward = 256;
  GPT gpt(c);
  auto std_of = [](const nl::Tensor& t) { return std::sqrt(t.var({0, 1}, false).item<double>()); };
  CHECK(std_of(gpt.token_embedding->weight) == Approx(0.02).epsilon(0.1));
  CHECK(std_of(gpt.blocks->operator[](0)->linear2->weight) == Approx(0.01).epsilon(0.1));  // 0.02/√(2·2)
  CHECK(gpt.blocks->operator[](0)->linear1->bias.abs().max().item<double>() == 0.0);
  CHECK((gpt.final_norm->weight - 1.0).abs().max().item<double>() == 0.0);
}

TEST_CASE("GPT: causal — changing token t changes no logits before t, in every norm placement", "[models][gpt]") {
  for (NormPlacement norm : {NormPlacement::post, NormPlacement::pre, NormPlacement::none}) {
    nl::manual_seed(2);
    GPT gpt(tiny(norm));
    auto a = gpt(ids({1, 2, 3, 4, 5, 6}, 1, 6)), b = gpt(ids({1, 2, 3, 0, 5, 6}, 1, 6));
    CHECK(max_abs_diff(a.slice(1, 0, 3), b.slice(1, 0, 3)) < 1e-12);
    CHECK(max_abs_diff(a.slice(1, 3, 6), b.slice(1, 3, 6)) > 1e-6);
  }
}

TEST_CASE("GPT: parameter gradients match finite differences for post, pre, none and tied",
          "[models][gpt][gradcheck]") {
  for (int variant = 0; variant < 4; ++variant) {
    INFO("variant " << variant);
    nl::manual_seed(3);
    auto c = tiny(variant == 0 ? NormPlacement::post : variant == 2 ? NormPlacement::none : NormPlacement::pre);
    c.num_layers = 1;
    c.tie_weights = variant == 3;
    GPT gpt(c);
    auto x = ids({1, 2, 3, 4, 5, 6}, 2, 3), y = ids({2, 3, 4, 5, 6, 0}, 6, 1).reshape({6});
    require_parameter_gradients(
        gpt,
        [&] {
          return nl::cross_entropy(gpt(x).reshape({6, 7}), y);
        },
        4);
  }
}

TEST_CASE("GPT: learns a repeating sequence, generation continues it", "[models][gpt]") {
  nl::manual_seed(4);
  auto c = tiny(NormPlacement::pre, nl::f32);
  c.block_size = 8;
  GPT gpt(c);
  nl::optim::AdamW opt(gpt.parameters(), {.lr = 1e-2});
  std::vector<int64_t> pattern;
  for (int i = 0; i < 9; ++i) pattern.push_back(i % 3 + 2);  // 2 3 4 2 3 4 ...
  auto x = nl::from_vector(std::vector<int64_t>(pattern.begin(), pattern.end() - 1), {1, 8});
  auto y = nl::from_vector(std::vector<int64_t>(pattern.begin() + 1, pattern.end()));
  double first = 0, last = 0;
  for (int step = 0; step < 60; ++step) {
    opt.zero_grad();
    auto loss = nl::cross_entropy(gpt(x).reshape({8, 7}), y);
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.item<double>();
  }
  CHECK(first > 1.5);
  CHECK(last < 0.05);
  auto out = gpt.generate({2, 3}, 10, /*temperature=*/0.0);
  CHECK(out == std::vector<int64_t>{2, 3, 4, 2, 3, 4, 2, 3, 4, 2, 3, 4});  // past block_size the window slides
  CHECK(gpt.is_training());                                                // generate restores the mode
}

TEST_CASE("GPT: errors name the model and the shapes", "[models][gpt][errors]") {
  GPT gpt(tiny(NormPlacement::pre));
  REQUIRE_THROWS_WITH(gpt(ids({0, 1, 2, 3, 4, 5, 6}, 1, 7)),
                      Catch::Contains("GPT: sequence length 7") && Catch::Contains("block_size = 6"));
  REQUIRE_THROWS_WITH(gpt(nl::zeros({1, 3})), Catch::Contains("GPT: expected int64 ids"));
  REQUIRE_THROWS_WITH(gpt(ids({7}, 1, 1)), Catch::Contains("embedding: index 7 out of range"));
  REQUIRE_THROWS_WITH(gpt.generate({}, 3), Catch::Contains("prompt is empty"));
  auto c = tiny(NormPlacement::pre);
  c.num_heads = 3;
  REQUIRE_THROWS_WITH(GPT(c), Catch::Contains("num_heads (3)"));
  REQUIRE_THROWS_WITH(nl::models::parse_norm_placement("middle"), Catch::Contains("post, pre or none"));
}
