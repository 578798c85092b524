// TransformerEncoderLayer with the norm placed after (post), before (pre) or
// nowhere (none): PyTorch parity for post and pre, gradients against finite
// differences in all three modes, causality, padding through attention and
// the loss, names, errors.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"
#include "tests/layers/module_gradcheck.h"

using namespace normlab_test;
namespace layers = nl::layers;
using layers::NormPlacement;

namespace {
layers::TransformerEncoderLayerOptions tiny_options(NormPlacement norm, nl::DType dtype = nl::f64) {
  layers::TransformerEncoderLayerOptions o;
  o.dim_feedforward = 6;
  o.dropout = 0.0;
  o.activation = "gelu";
  o.norm = norm;
  o.batch_first = true;
  o.dtype = dtype;
  return o;
}
const NormPlacement kPlacements[] = {NormPlacement::post, NormPlacement::pre, NormPlacement::none};
const char* placement_label(NormPlacement p) {
  return p == NormPlacement::post ? "post" : p == NormPlacement::pre ? "pre" : "none";
}
}  // namespace

TEST_CASE("TransformerEncoderLayer: PyTorch parity, norm_first false (post) and true (pre), GELU, key padding",
          "[layers][transformer][pytorch]") {
  auto f = nl::io::load_safetensors(NORMLAB_FIXTURES_DIR "/attention.safetensors");
  auto padding = f.at("mha_padding.key_padding_mask");
  for (auto [prefix, norm] :
       {std::pair{"encoder_post", NormPlacement::post}, std::pair{"encoder_pre", NormPlacement::pre}}) {
    INFO(prefix);
    auto o = tiny_options(norm, nl::f32);
    o.dim_feedforward = 16;
    layers::TransformerEncoderLayer layer(8, 2, o);
    nl::StateDict state;
    std::string head = std::string(prefix) + ".state.";
    for (auto& [k, v] : f)
      if (k.rfind(head, 0) == 0) state[k.substr(head.size())] = v;
    layer.load_state_dict(state);
    auto src = f.at(std::string(prefix) + ".src").clone().requires_grad_(true);
    auto out = layer(src, nl::Tensor(), padding);
    CHECK(max_abs_diff(out, f.at(std::string(prefix) + ".out")) < 1e-5);
    (out * f.at(std::string(prefix) + ".upstream")).sum().backward();
    CHECK(max_abs_diff(src.grad(), f.at(std::string(prefix) + ".grad_src")) < 1e-5);
    for (auto& [name, p] : layer.named_parameters()) {
      INFO(name);
      CHECK(max_abs_diff(p.grad(), f.at(std::string(prefix) + ".grad." + name)) < 1e-5);
    }
  }
}

TEST_CASE("TransformerEncoderLayer: gradcheck of input and parameters in all three norm modes",
          "[layers][transformer][gradcheck]") {
  for (NormPlacement norm : kPlacements) {
    INFO(placement_label(norm));
    nl::manual_seed(1);
    layers::TransformerEncoderLayer layer(4, 2, tiny_options(norm));
    require_gradcheck([&](const auto& in) { return layer(in[0], nl::Tensor(), nl::Tensor(), /*is_causal=*/true); },
                      {nl::randn({2, 3, 4}, nl::f64)});
    auto x = nl::randn({2, 3, 4}, nl::f64), w = nl::randn({2, 3, 4}, nl::f64);
    require_parameter_gradients(layer, [&] { return (layer(x) * w).sum(); });
  }
}

TEST_CASE("TransformerEncoderLayer: causal — perturbing position t changes no output before t",
          "[layers][transformer]") {
  for (NormPlacement norm : kPlacements) {
    INFO(placement_label(norm));
    nl::manual_seed(2);
    layers::TransformerEncoderLayer layer(8, 2, tiny_options(norm));
    auto x = nl::randn({2, 6, 8}, nl::f64);
    auto y = layer(x, nl::Tensor(), nl::Tensor(), true);
    auto x2 = x.clone();
    x2.select(1, 4).add_(nl::randn({2, 8}, nl::f64));
    auto y2 = layer(x2, nl::Tensor(), nl::Tensor(), true);
    CHECK(max_abs_diff(y.slice(1, 0, 4), y2.slice(1, 0, 4)) < 1e-12);
    CHECK(max_abs_diff(y.slice(1, 4, 6), y2.slice(1, 4, 6)) > 1e-4);
  }
}

TEST_CASE("TransformerEncoderLayer: padded positions change neither the real outputs nor the loss",
          "[layers][transformer]") {
  nl::manual_seed(3);
  layers::TransformerEncoderLayer layer(8, 2, tiny_options(NormPlacement::pre));
  layers::Linear head(8, 5, true, nl::f64);
  auto x = nl::randn({2, 5, 8}, nl::f64);
  auto padding = nl::zeros({2, 5}, nl::f64);
  padding.select(0, 0).slice(0, 2, 5).fill_(1.0);  // sequence 0: 2 real tokens
  auto targets = nl::from_vector<int64_t>({1, 4, -100, -100, -100, 0, 2, 3, 1, 4}, {2, 5});  // −100: ignored
  auto loss_of = [&](const nl::Tensor& input) {
    auto logits = head(layer(input, nl::Tensor(), padding));
    return nl::cross_entropy(logits.reshape({10, 5}), targets.reshape({10}), /*ignore_index=*/-100);
  };
  auto x2 = x.clone();
  x2.select(0, 0).slice(0, 2, 5).copy_(nl::randn({3, 8}, nl::f64) * 10);
  auto a = layer(x, nl::Tensor(), padding), b = layer(x2, nl::Tensor(), padding);
  CHECK(max_abs_diff(a.select(0, 0).slice(0, 0, 2), b.select(0, 0).slice(0, 0, 2)) < 1e-12);
  CHECK(max_abs_diff(a.select(0, 1), b.select(0, 1)) == 0.0);
  CHECK(std::abs(loss_of(x).item<double>() - loss_of(x2).item<double>()) < 1e-12);
  // and no gradient reaches the padding through the loss
  auto leaf = x.clone().requires_grad_(true);
  loss_of(leaf).backward();
  CHECK(leaf.grad().select(0, 0).slice(0, 2, 5).abs().max().item<double>() == 0.0);
}

TEST_CASE("TransformerEncoderLayer: PyTorch's submodule names, none has no norms", "[layers][transformer]") {
  layers::TransformerEncoderLayer post(8, 2, tiny_options(NormPlacement::post)),
      none(8, 2, tiny_options(NormPlacement::none));
  std::vector<std::string> names;
  for (auto& [name, p] : post.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"self_attn.in_proj_weight", "self_attn.in_proj_bias",
                                          "self_attn.out_proj.weight", "self_attn.out_proj.bias", "linear1.weight",
                                          "linear1.bias", "linear2.weight", "linear2.bias", "norm1.weight",
                                          "norm1.bias", "norm2.weight", "norm2.bias"});
  CHECK(none.named_parameters().size() == 8);
  CHECK(none.norm1 == nullptr);
}

TEST_CASE("TransformerEncoderLayer: dropout acts only in training", "[layers][transformer]") {
  nl::manual_seed(4);
  auto o = tiny_options(NormPlacement::pre);
  o.dropout = 0.3;
  layers::TransformerEncoderLayer layer(8, 2, o);
  auto x = nl::randn({2, 4, 8}, nl::f64);
  auto train_a = layer(x), train_b = layer(x);
  CHECK(max_abs_diff(train_a, train_b) > 1e-6);
  layer.eval();
  CHECK(max_abs_diff(layer(x), layer(x)) == 0.0);
}

TEST_CASE("TransformerEncoderLayer: errors", "[layers][transformer][errors]") {
  auto o = tiny_options(NormPlacement::post);
  o.activation = "swish";
  REQUIRE_THROWS_WITH(layers::TransformerEncoderLayer(8, 2, o), Catch::Contains("activation must be relu or gelu"));
  layers::TransformerEncoderLayer layer(8, 2, tiny_options(NormPlacement::post));
  REQUIRE_THROWS_WITH(layer(nl::randn({2, 4, 6}, nl::f64)), Catch::Contains("[2,4,6]"));
}
