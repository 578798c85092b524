// MultiheadAttention: PyTorch parity (padding mask, causal mask, all
// gradients), gradients against finite differences, what the masks
// guarantee, parameter names, errors.
#include <catch2/catch.hpp>
#include <limits>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"
#include "tests/layers/module_gradcheck.h"

using namespace normlab_test;
namespace layers = nl::layers;

namespace {
// Loads fixture entries "<prefix>.state.*" into module.
void load_fixture_state(layers::Module& module, const nl::StateDict& fixture, const std::string& prefix) {
  nl::StateDict state;
  std::string head = prefix + ".state.";
  for (auto& [k, v] : fixture)
    if (k.rfind(head, 0) == 0) state[k.substr(head.size())] = v;
  module.load_state_dict(state);
}
void check_parameter_grads(layers::Module& module, const nl::StateDict& fixture, const std::string& prefix) {
  for (auto& [name, p] : module.named_parameters()) {
    INFO(name);
    REQUIRE(p.grad().defined());
    CHECK(max_abs_diff(p.grad(), fixture.at(prefix + ".grad." + name)) < 1e-5);
  }
}
}  // namespace

TEST_CASE("MultiheadAttention: PyTorch parity with a key padding mask", "[layers][attention][pytorch]") {
  auto f = nl::io::load_safetensors(NORMLAB_FIXTURES_DIR "/attention.safetensors");
  layers::MultiheadAttention mha(8, 2, 0.0, true, /*batch_first=*/true);
  load_fixture_state(mha, f, "mha_padding");
  auto x = f.at("mha_padding.x").clone().requires_grad_(true);
  auto padding = f.at("mha_padding.key_padding_mask");  // 1 where a key is padding
  auto out = mha(x, x, x, padding).output;
  CHECK(max_abs_diff(out, f.at("mha_padding.out")) < 1e-5);
  (out * f.at("mha_padding.upstream")).sum().backward();
  CHECK(max_abs_diff(x.grad(), f.at("mha_padding.grad_x")) < 1e-5);
  check_parameter_grads(mha, f, "mha_padding");
}

TEST_CASE("MultiheadAttention: PyTorch parity, cross-attention with a causal float mask",
          "[layers][attention][pytorch]") {
  auto f = nl::io::load_safetensors(NORMLAB_FIXTURES_DIR "/attention.safetensors");
  layers::MultiheadAttention mha(8, 2, 0.0, true, true);
  load_fixture_state(mha, f, "mha_causal");
  auto q = f.at("mha_causal.q").clone().requires_grad_(true), kv = f.at("mha_causal.kv").clone().requires_grad_(true);
  auto out = mha(q, kv, kv, nl::Tensor(), f.at("mha_causal.attn_mask")).output;
  CHECK(max_abs_diff(out, f.at("mha_causal.out")) < 1e-5);
  (out * f.at("mha_causal.upstream")).sum().backward();
  CHECK(max_abs_diff(q.grad(), f.at("mha_causal.grad_q")) < 1e-5);
  CHECK(max_abs_diff(kv.grad(), f.at("mha_causal.grad_kv")) < 1e-5);
  check_parameter_grads(mha, f, "mha_causal");
  // is_causal=true is the same mask, built in
  auto built_in = mha(q, kv, kv, nl::Tensor(), nl::Tensor(), /*is_causal=*/true).output;
  CHECK(max_abs_diff(built_in, out) < 1e-6);
}

TEST_CASE("MultiheadAttention: gradcheck of inputs and parameters, with and without masks",
          "[layers][attention][gradcheck]") {
  nl::manual_seed(1);
  layers::MultiheadAttention mha(4, 2, 0.0, true, true, nl::f64);
  auto padding = nl::from_vector<double>({0, 0, 1, 0, 0, 0}, {2, 3});
  for (int variant = 0; variant < 3; ++variant) {
    INFO("variant " << variant << " (0 none, 1 key padding, 2 causal)");
    auto run = [&](const nl::Tensor& q, const nl::Tensor& kv) {
      return mha(q, kv, kv, variant == 1 ? padding : nl::Tensor(), nl::Tensor(), variant == 2).output;
    };
    require_gradcheck([&](const auto& in) { return run(in[0], in[1]); },
                      {nl::randn({2, 3, 4}, nl::f64), nl::randn({2, 3, 4}, nl::f64)});
    auto x = nl::randn({2, 3, 4}, nl::f64), w = nl::randn({2, 3, 4}, nl::f64);
    require_parameter_gradients(mha, [&] { return (run(x, x).tanh() * w).sum(); });
  }
}

TEST_CASE("MultiheadAttention: padded keys change nothing, blocked future changes nothing", "[layers][attention]") {
  nl::manual_seed(2);
  layers::MultiheadAttention mha(8, 4, 0.0, true, true, nl::f64);
  auto x = nl::randn({2, 5, 8}, nl::f64);
  auto padding = nl::zeros({2, 5}, nl::f64);
  padding.select(0, 1).slice(0, 3, 5).fill_(1.0);  // sequence 1 has 3 real tokens
  auto y = mha(x, x, x, padding).output;
  auto x2 = x.clone();
  x2.select(0, 1).slice(0, 3, 5).fill_(9.0);  // rewrite the padding
  auto y2 = mha(x2, x2, x2, padding).output;
  CHECK(max_abs_diff(y.select(0, 1).slice(0, 0, 3), y2.select(0, 1).slice(0, 0, 3)) < 1e-12);
  CHECK(max_abs_diff(y.select(0, 0), y2.select(0, 0)) == 0.0);
  // causal: changing position 3 changes no output before 3
  auto c = mha(x, x, x, nl::Tensor(), nl::Tensor(), true).output;
  auto x3 = x.clone();
  x3.select(1, 3).fill_(-4.0);
  auto c3 = mha(x3, x3, x3, nl::Tensor(), nl::Tensor(), true).output;
  CHECK(max_abs_diff(c.slice(1, 0, 3), c3.slice(1, 0, 3)) < 1e-12);
  CHECK(max_abs_diff(c.slice(1, 3, 5), c3.slice(1, 3, 5)) > 1e-3);
}

TEST_CASE("MultiheadAttention: sequence-first layout, attention weights, names and printing", "[layers][attention]") {
  nl::manual_seed(3);
  layers::MultiheadAttention first(6, 3, 0.0, true, false, nl::f64), batch(6, 3, 0.0, true, true, nl::f64);
  batch.load_state_dict(first.state_dict());
  auto x = nl::randn({4, 2, 6}, nl::f64);  // (L, N, E)
  auto a = first(x, x, x), b = batch(x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1));
  CHECK(max_abs_diff(a.output.transpose(0, 1), b.output) < 1e-14);
  REQUIRE(a.weights.shape() == nl::Shape{2, 4, 4});
  CHECK(max_abs_diff(a.weights.sum({-1}), nl::ones({2, 4}, nl::f64)) < 1e-12);  // rows are distributions
  std::vector<std::string> names;
  for (auto& [name, p] : first.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"});
  CHECK(first.in_proj_weight.shape() == nl::Shape{18, 6});
  CHECK(first.to_string().find("MultiheadAttention(embed_dim=6, num_heads=3") != std::string::npos);
  layers::MultiheadAttention no_bias(6, 3, 0.0, false);
  CHECK(no_bias.named_parameters().size() == 2);
}

TEST_CASE("MultiheadAttention: errors name the layer and the shapes", "[layers][attention][errors]") {
  REQUIRE_THROWS_WITH(layers::MultiheadAttention(10, 3),
                      Catch::Contains("embed_dim (10)") && Catch::Contains("num_heads (3)"));
  REQUIRE_THROWS_WITH(layers::MultiheadAttention(8, 2, 1.5), Catch::Contains("dropout"));
  layers::MultiheadAttention mha(8, 2, 0.0, true, true);
  auto x = nl::randn({2, 5, 8});
  REQUIRE_THROWS_WITH(mha(nl::randn({2, 5, 7})), Catch::Contains("MultiheadAttention") && Catch::Contains("[2,5,7]"));
  REQUIRE_THROWS_WITH(mha(x, x, x, nl::zeros({2, 4})), Catch::Contains("key_padding_mask") && Catch::Contains("[2,4]"));
  REQUIRE_THROWS_WITH(mha(x, x, x, nl::Tensor(), nl::zeros({5, 4})),
                      Catch::Contains("attn_mask") && Catch::Contains("[5,4]"));
  REQUIRE_THROWS_WITH(mha(x, nl::randn({3, 5, 8}), nl::randn({3, 5, 8})), Catch::Contains("disagree"));
}
