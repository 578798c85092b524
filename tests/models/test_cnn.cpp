// models::CNN: the layer order and parameter count for each norm, PyTorch
// parity (an nn.Sequential of the same layers: its state dict loads, and the
// outputs and every gradient match, in training and eval), the renorm limits,
// a few training steps that lower the loss, and errors.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"

using namespace normlab_test;
using nl::models::CNN;
using nl::models::CNNConfig;
using nl::models::CNNNorm;

namespace {
std::vector<std::string> child_types(const CNN& m) {
  std::vector<std::string> out;
  for (auto& [name, child] : m.named_children()) out.push_back(child->type_name());
  return out;
}
nl::Tensor fixture(const std::string& name) { return fixture_tensor("cnn.safetensors", name); }
// The fixtures' architecture: channels (4, 8) on 12x12 images of 2 channels, 3 classes.
CNNConfig small(CNNNorm norm) {
  return {.in_channels = 2,
          .image_size = 12,
          .channels = {4, 8},
          .num_classes = 3,
          .norm = norm,
          .groups = 2,
          .dtype = nl::f64};
}
}  // namespace

TEST_CASE("CNN: conv, norm, ReLU, pool per block, then pool, flatten, linear, 94 K parameters", "[models][cnn]") {
  CHECK(child_types(CNN({.channels = {8, 16}, .norm = CNNNorm::batch})) ==
        std::vector<std::string>{"Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Conv2d", "BatchNorm2d", "ReLU",
                                 "AdaptiveAvgPool2d", "Flatten", "Linear"});
  CHECK(child_types(CNN({.channels = {8}, .norm = CNNNorm::none})) ==
        std::vector<std::string>{"Conv2d", "ReLU", "AdaptiveAvgPool2d", "Flatten", "Linear"});
  for (auto [norm, type] : {std::pair{CNNNorm::group, "GroupNorm"}, std::pair{CNNNorm::instance, "InstanceNorm2d"},
                            std::pair{CNNNorm::layer, "LayerNorm"}, std::pair{CNNNorm::batch_renorm, "BatchRenorm2d"}})
    CHECK(child_types(CNN({.channels = {8}, .norm = norm}))[1] == type);
  CNN bn({});
  CHECK(bn.num_parameters() == 94186);  // the default: channels 32, 64, 128 on 28x28, BatchNorm
  CHECK(CNN({.norm = CNNNorm::none}).num_parameters() == 93962);
  CNN wn({.norm = CNNNorm::weight});  // none's plus one g per output channel and class: 32 + 64 + 128 + 10
  CHECK(wn.num_parameters() == 93962 + 234);
  CHECK(child_types(wn)[1] == "ReLU");
  auto wn_state = wn.state_dict();
  CHECK((wn_state.count("0.weight_g") == 1 && wn_state.count("0.weight_v") == 1 && wn_state.count("0.weight") == 0));
  CHECK(wn_state.at("0.weight_g").shape() == nl::Shape{32, 1, 1, 1});
  CHECK(wn_state.at("10.weight_g").shape() == nl::Shape{10, 1});  // the Linear, after 3 + 3 + 2 children and pool, flatten
  CHECK(bn(nl::randn({2, 1, 28, 28})).shape() == nl::Shape{2, 10});
  auto state = bn.state_dict();
  CHECK(state.count("0.weight") == 1);
  CHECK(state.count("0.bias") == 0);  // no bias before a norm
  CHECK(state.count("1.running_var") == 1);
  CHECK(state.count("13.weight") == 1);  // the Linear
  CHECK(nl::models::parse_cnn_norm("batch_renorm") == CNNNorm::batch_renorm);
}

TEST_CASE("CNN: PyTorch parity for every norm, outputs and all gradients, training then eval",
          "[models][cnn][pytorch]") {
  for (CNNNorm norm :
       {CNNNorm::none, CNNNorm::batch, CNNNorm::group, CNNNorm::instance, CNNNorm::layer, CNNNorm::weight}) {
    std::string n = nl::models::to_string(norm);
    INFO("norm " << n);
    CNN model(small(norm));
    nl::StateDict state;
    for (const auto& [name, t] : model.state_dict()) state[name] = fixture(n + ".state." + name);
    model.load_state_dict(state);
    nl::Tensor x = fixture(n + ".x").clone().requires_grad_(true);
    nl::Tensor y = model(x);
    CHECK(max_abs_diff(y, fixture(n + ".out")) < 1e-10);
    y.backward(fixture(n + ".upstream"));
    CHECK(max_abs_diff(x.grad(), fixture(n + ".grad_x")) < 1e-10);
    for (const auto& [name, p] : model.named_parameters()) {
      INFO("gradient of " << name);
      CHECK(max_abs_diff(p.grad(), fixture(n + ".grad." + name)) < 1e-10);
    }
    model.eval();
    CHECK(max_abs_diff(model(x.detach()), fixture(n + ".eval_out")) < 1e-10);
  }
}

TEST_CASE("CNN: batch_renorm's limits start as configured and can be relaxed during training",
          "[models][cnn][batch_renorm]") {
  CNN model({.channels = {4, 8}, .norm = CNNNorm::batch_renorm, .r_max = 1.5, .d_max = 0.5});
  auto renorms = [&] {
    std::vector<nl::layers::BatchRenorm*> out;
    for (auto& [name, child] : model.named_children())
      if (auto* r = dynamic_cast<nl::layers::BatchRenorm*>(child.get())) out.push_back(r);
    return out;
  };
  REQUIRE(renorms().size() == 2);
  CHECK(renorms()[0]->r_max == 1.5);
  model.set_renorm_limits(3, 5);
  for (auto* r : renorms()) CHECK((r->r_max == 3 && r->d_max == 5));
  REQUIRE_THROWS_WITH(model.set_renorm_limits(0.5, 1), Catch::Contains("r_max must be >= 1"));
}

TEST_CASE("CNN: every norm trains: 30 Adam steps on a fixed batch lower the loss", "[models][cnn]") {
  for (CNNNorm norm :
       {CNNNorm::none, CNNNorm::batch, CNNNorm::group, CNNNorm::instance, CNNNorm::layer, CNNNorm::batch_renorm,
        CNNNorm::weight}) {
    INFO("norm " << nl::models::to_string(norm));
    nl::manual_seed(7);
    CNN model({.in_channels = 1, .image_size = 8, .channels = {4, 8}, .num_classes = 3, .norm = norm, .groups = 2});
    nl::optim::Adam opt(model.parameters(), {.lr = 0.01});
    nl::Tensor x = nl::randn({12, 1, 8, 8});
    nl::Tensor y = nl::from_vector<int64_t>({0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2}, {12});
    // the class brightens its own band of columns (a pattern, not the image's mean,
    // which InstanceNorm would normalize away)
    nl::Tensor band = nl::zeros({12, 1, 8, 8});
    for (int64_t n = 0; n < 12; ++n) band.slice(0, n, n + 1).slice(3, 2 * (n % 3), 2 * (n % 3) + 2).fill_(2.0);
    x = x + band;
    double first = 0, last = 0;
    for (int step = 0; step < 30; ++step) {
      opt.zero_grad();
      nl::Tensor loss = nl::cross_entropy(model(x), y);
      loss.backward();
      opt.step();
      (step == 0 ? first : last) = loss.item<double>();
    }
    // InstanceNorm learns slowest here: it removes each map's mean and scale,
    // and the global average pool then sees little of what is left
    CHECK(last < (norm == CNNNorm::instance ? 0.95 : 0.8) * first);
  }
}

TEST_CASE("CNN: errors name the problem", "[models][cnn][errors]") {
  REQUIRE_THROWS_WITH(CNN({.channels = {}}), Catch::Contains("at least one block"));
  REQUIRE_THROWS_WITH(CNN({.image_size = 3, .channels = {4, 8, 16}}), Catch::Contains("image_size must be at least 4"));
  REQUIRE_THROWS_WITH(CNN({.channels = {6}, .norm = CNNNorm::group, .groups = 4}),
                      Catch::Contains("4 does not divide 6"));
  REQUIRE_THROWS_WITH(nl::models::parse_cnn_norm("spectral"),
                      Catch::Contains("none, batch, group, instance, layer, batch_renorm or weight"));
  REQUIRE_THROWS_WITH(CNN({.channels = {8}})(nl::randn({2, 3, 28, 28})), Catch::Contains("Conv2d"));
}
