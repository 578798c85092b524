// Conv2d and Conv1d, the modules: PyTorch's names, shapes, init bounds and
// printing; PyTorch parity for nn.Conv2d, nn.Conv1d and a small CNN loaded
// from its state dict (fixtures written by
// tests/fixtures/make_conv_layer_fixtures.py); errors. The ops are tested in
// tests/core/ops/test_conv2d.cpp.
#include <catch2/catch.hpp>
#include <cmath>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"

using namespace normlab_test;
namespace layers = nl::layers;

namespace {
nl::Tensor fixture(const std::string& name) { return fixture_tensor("conv_layers.safetensors", name); }

// The fixture's state dict "<name>.state.<key>" as {key: tensor}.
nl::StateDict state_of(const std::string& name) {
  nl::StateDict all = nl::io::load_safetensors(NORMLAB_FIXTURES_DIR "/conv_layers.safetensors"), state;
  std::string prefix = name + ".state.";
  for (auto& [key, t] : all)
    if (key.rfind(prefix, 0) == 0) state[key.substr(prefix.size())] = t;
  return state;
}

// U(−bound, bound) filling the range, bound = 1/√fan_in.
void check_uniform(const nl::Tensor& t, int64_t fan_in) {
  double bound = 1 / std::sqrt(double(fan_in)), lo = 1, hi = -1;
  for (float v : t.to_vector<float>()) lo = std::min<double>(lo, v), hi = std::max<double>(hi, v);
  CHECK(lo >= -bound);
  CHECK(hi <= bound);
  if (t.numel() > 500) CHECK(hi - lo > 1.9 * bound);
}
}  // namespace

TEST_CASE("Conv2d module: PyTorch's names, shapes, init bounds and printing", "[layers][conv2d]") {
  nl::manual_seed(1);
  layers::Conv2d conv(16, 32, 3, 1, 1, 1, 2);
  auto named = conv.named_parameters();
  REQUIRE(named.size() == 2);
  CHECK(named[0].first == "weight");
  CHECK(named[1].first == "bias");
  CHECK(conv.weight.shape() == nl::Shape{32, 8, 3, 3});
  CHECK(conv.bias.shape() == nl::Shape{32});
  check_uniform(conv.weight, 8 * 3 * 3);  // fan_in = in/groups · kH · kW
  check_uniform(conv.bias, 8 * 3 * 3);
  CHECK(conv.to_string() == "Conv2d(16, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), groups=2)");
  layers::Conv2d plain(3, 4, {3, 5}, {2, 1}, 0, {1, 2}, 1, false, nl::f64);
  CHECK(plain.parameters().size() == 1);
  CHECK(plain.weight.dtype() == nl::f64);
  CHECK(plain.to_string() == "Conv2d(3, 4, kernel_size=(3, 5), stride=(2, 1), dilation=(1, 2), bias=False)");
  auto x = nl::randn({2, 3, 9, 12}, nl::f64);
  CHECK(max_abs_diff(plain(x), nl::conv2d(x, plain.weight, {}, {2, 1}, 0, {1, 2})) == 0.0);
}

TEST_CASE("Conv1d module: PyTorch's names, shapes, init bounds and printing", "[layers][conv1d]") {
  nl::manual_seed(2);
  layers::Conv1d conv(12, 63, 5, 2, 2, 1, 3);
  CHECK(conv.named_parameters()[0].first == "weight");
  CHECK(conv.weight.shape() == nl::Shape{63, 4, 5});
  check_uniform(conv.weight, 4 * 5);
  check_uniform(conv.bias, 4 * 5);
  CHECK(conv.to_string() == "Conv1d(12, 63, kernel_size=(5,), stride=(2,), padding=(2,), groups=3)");
  auto x = nl::randn({3, 12, 20});
  CHECK(conv(x).shape() == nl::Shape{3, 63, 10});
  CHECK(max_abs_diff(conv(x), nl::conv1d(x, conv.weight, conv.bias, 2, 2, 1, 3)) == 0.0);
}

TEST_CASE("Conv2d and Conv1d modules: gradcheck through the layer", "[layers][conv2d][gradcheck]") {
  nl::manual_seed(3);
  layers::Conv2d conv(2, 4, 2, 1, 1, 1, 2, true, nl::f64);
  auto fn = [&](const std::vector<nl::Tensor>& t) {
    conv.weight = t[1];
    conv.bias = t[2];
    return conv(t[0]);
  };
  require_gradcheck(fn, {nl::randn({2, 2, 3, 4}, nl::f64), conv.weight.detach(), conv.bias.detach()});
  layers::Conv1d conv1(3, 3, 3, 2, 1, 2, 3, true, nl::f64);  // depthwise, stride 2, dilation 2
  auto fn1 = [&](const std::vector<nl::Tensor>& t) {
    conv1.weight = t[1];
    conv1.bias = t[2];
    return conv1(t[0]);
  };
  require_gradcheck(fn1, {nl::randn({2, 3, 7}, nl::f64), conv1.weight.detach(), conv1.bias.detach()});
}

TEST_CASE("Conv2d and Conv1d modules: PyTorch parity, parameters loaded by name", "[layers][conv2d][pytorch]") {
  layers::Conv2d conv2(4, 6, 3, 2, 1, 1, 2);  // nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
  layers::Conv1d conv1(3, 4, 5, 1, 2, 2);     // nn.Conv1d(3, 4, 5, padding=2, dilation=2)
  auto check = [](layers::Module& m, const std::string& name) {
    INFO(name);
    m.load_state_dict(state_of(name));  // strict: PyTorch's names and shapes
    auto x = fixture(name + ".x").clone().requires_grad_(true);
    auto y = m(x);
    y.backward(fixture(name + ".upstream"));
    CHECK(max_abs_diff(y, fixture(name + ".out")) <= 1e-5);
    CHECK(max_abs_diff(x.grad(), fixture(name + ".grad_x")) <= 1e-5);
    for (auto& [key, p] : m.named_parameters()) {
      INFO(key);
      CHECK(max_abs_diff(p.grad(), fixture(name + ".grad." + key)) <= 1e-4);
    }
  };
  check(conv2, "conv2d");
  check(conv1, "conv1d");
}

TEST_CASE("A small CNN loaded from PyTorch's state dict gives PyTorch's outputs and gradients",
          "[layers][conv2d][pool2d][pytorch]") {
  // nn.Sequential(Conv2d(1, 4, 3, padding=1), ReLU(), MaxPool2d(2), Conv2d(4, 8, 3, padding=1, groups=2), ReLU(),
  //               AvgPool2d(2), AdaptiveAvgPool2d((2, 2)), Flatten(), Linear(32, 3))
  layers::Sequential cnn{std::make_shared<layers::Conv2d>(1, 4, 3, 1, 1),
                         std::make_shared<layers::ReLU>(),
                         std::make_shared<layers::MaxPool2d>(2),
                         std::make_shared<layers::Conv2d>(4, 8, 3, 1, 1, 1, 2),
                         std::make_shared<layers::ReLU>(),
                         std::make_shared<layers::AvgPool2d>(2),
                         std::make_shared<layers::AdaptiveAvgPool2d>(nl::Size2{2, 2}),
                         std::make_shared<layers::Flatten>(),
                         std::make_shared<layers::Linear>(32, 3)};
  cnn.load_state_dict(state_of("cnn"));
  auto x = fixture("cnn.x").clone().requires_grad_(true);
  auto y = cnn(x);
  y.backward(fixture("cnn.upstream"));
  CHECK(max_abs_diff(y, fixture("cnn.out")) <= 1e-5);
  CHECK(max_abs_diff(x.grad(), fixture("cnn.grad_x")) <= 1e-5);
  for (auto& [key, p] : cnn.named_parameters()) {
    INFO(key);
    CHECK(max_abs_diff(p.grad(), fixture("cnn.grad." + key)) <= 1e-5);
  }
}

TEST_CASE("Conv2d and Conv1d modules: errors name the layer and the shapes", "[layers][conv2d][errors]") {
  using Catch::Contains;
  REQUIRE_THROWS_WITH(layers::Conv2d(6, 4, 3, 1, 0, 1, 4), Contains("Conv2d") && Contains("groups=4"));
  REQUIRE_THROWS_WITH(layers::Conv2d(0, 4, 3), Contains("in_channels=0"));
  REQUIRE_THROWS_WITH(layers::Conv2d(3, 4, {3, 0}), Contains("kernel_size"));
  REQUIRE_THROWS_WITH(layers::Conv1d(4, 6, 3, 1, 0, 1, 4), Contains("Conv1d") && Contains("out_channels=6"));
  layers::Conv2d conv(3, 4, 3);
  REQUIRE_THROWS_WITH(conv(nl::randn({2, 5, 8, 8})), Contains("Conv2d") && Contains("[2,5,8,8]"));
  REQUIRE_THROWS_WITH(conv(nl::randn({3, 8, 8})), Contains("(N, 3, H, W)"));
  REQUIRE_THROWS_WITH(conv(nl::randn({2, 3, 2, 8})), Contains("conv2d") && Contains("larger than the padded input"));
  layers::Conv1d conv1(3, 4, 3);
  REQUIRE_THROWS_WITH(conv1(nl::randn({2, 3, 8, 8})), Contains("Conv1d") && Contains("[2,3,8,8]"));
}
