// normlab against PyTorch: outputs and gradients of Linear, LayerNorm,
// RMSNorm and BatchNorm1d (three training steps with running statistics, then
// eval), and a model loaded from a PyTorch state dict. The fixtures were
// written by tests/fixtures/make_layer_fixtures.py with Debian's python3-torch.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"

using normlab_test::max_abs_diff;
namespace layers = nl::layers;

namespace {
const nl::StateDict& fixtures() {
  static nl::StateDict f = nl::io::load_safetensors(NORMLAB_FIXTURES_DIR "/layers.safetensors");
  return f;
}
nl::Tensor fixture(const std::string& name) {
  auto it = fixtures().find(name);
  if (it == fixtures().end()) FAIL("fixture missing: " << name);
  return it->second;
}
nl::Tensor leaf(const std::string& name) { return fixture(name).clone().requires_grad_(true); }

void check_close(const std::string& what, const nl::Tensor& ours, const std::string& name, double tol = 1e-5) {
  INFO(what << " vs PyTorch's " << name);
  CHECK(max_abs_diff(ours, fixture(name)) <= tol);
}
}  // namespace

TEST_CASE("PyTorch parity: Linear forward and gradients", "[layers][pytorch]") {
  auto x = leaf("linear.x"), w = leaf("linear.weight"), b = leaf("linear.bias");
  layers::Linear fc(5, 3);
  fc.load_state_dict({{"weight", w.detach()}, {"bias", b.detach()}});
  auto y = fc(x);
  y.backward(fixture("linear.upstream"));
  check_close("output", y, "linear.out");
  check_close("dx", x.grad(), "linear.grad_x");
  check_close("dweight", fc.weight.grad(), "linear.grad_weight");
  check_close("dbias", fc.bias.grad(), "linear.grad_bias");
}

TEST_CASE("PyTorch parity: LayerNorm over one and two trailing dims", "[layers][pytorch]") {
  for (std::string p : {"layer_norm", "layer_norm_2d"}) {
    INFO(p);
    auto x = leaf(p + ".x"), w = leaf(p + ".weight"), b = leaf(p + ".bias");
    for (bool reference : {false, true}) {
      INFO((reference ? "composed reference" : "fused kernel"));
      x.set_grad({}), w.set_grad({}), b.set_grad({});
      auto y = reference ? nl::reference::layer_norm(x, w.shape(), w, b) : nl::layer_norm(x, w.shape(), w, b);
      y.backward(fixture(p + ".upstream"));
      check_close("output", y, p + ".out");
      check_close("dx", x.grad(), p + ".grad_x");
      check_close("dweight", w.grad(), p + ".grad_weight");
      check_close("dbias", b.grad(), p + ".grad_bias");
    }
  }
}

TEST_CASE("PyTorch parity: RMSNorm", "[layers][pytorch]") {
  auto x = leaf("rms_norm.x");
  layers::RMSNorm norm({7}, 1e-6);
  norm.load_state_dict({{"weight", fixture("rms_norm.weight")}});
  auto y = norm(x);
  y.backward(fixture("rms_norm.upstream"));
  check_close("output", y, "rms_norm.out");
  check_close("dx", x.grad(), "rms_norm.grad_x");
  check_close("dweight", norm.weight.grad(), "rms_norm.grad_weight");
}

TEST_CASE("PyTorch parity: BatchNorm1d over three training steps, then eval", "[layers][pytorch]") {
  for (std::string p : {"batch_norm", "batch_norm_3d"}) {
    for (bool reference : {false, true}) {
      INFO(p << (reference ? " (composed reference)" : " (fused kernel)"));
      layers::BatchNorm1d bn(4);
      bn.use_reference = reference;
      bn.load_state_dict({{"weight", fixture(p + ".init_weight")},
                          {"bias", fixture(p + ".init_bias")},
                          {"running_mean", nl::zeros({4})},
                          {"running_var", nl::ones({4})},
                          {"num_batches_tracked", nl::zeros({}, nl::i64)}});
      for (int step = 0; step < 3; ++step) {
        std::string s = p + ".step" + std::to_string(step);
        INFO("step " << step);
        bn.zero_grad();
        auto x = leaf(s + ".x");
        auto y = bn(x);
        y.backward(fixture(s + ".upstream"));
        check_close("output", y, s + ".out");
        check_close("dx", x.grad(), s + ".grad_x");
        check_close("dweight", bn.weight.grad(), s + ".grad_weight");
        check_close("dbias", bn.bias.grad(), s + ".grad_bias");
        check_close("running_mean", bn.running_mean, s + ".running_mean");
        check_close("running_var", bn.running_var, s + ".running_var");
      }
      CHECK(bn.num_batches_tracked.item<int64_t>() == 3);
      bn.eval();
      auto x = leaf(p + ".eval.x");
      auto y = bn(x);
      y.backward(fixture(p + ".eval.upstream"));
      check_close("eval output", y, p + ".eval.out");
      check_close("eval dx", x.grad(), p + ".eval.grad_x");
    }
  }
}

TEST_CASE("PyTorch parity: a state dict exported from PyTorch gives PyTorch's outputs", "[layers][pytorch]") {
  // torch.nn.Sequential(Linear(5,8), LayerNorm(8), ReLU(), Linear(8,6), BatchNorm1d(6), Tanh(), Linear(6,3))
  layers::Sequential model{std::make_shared<layers::Linear>(5, 8),   std::make_shared<layers::LayerNorm>(nl::Shape{8}),
                           std::make_shared<layers::ReLU>(),         std::make_shared<layers::Linear>(8, 6),
                           std::make_shared<layers::BatchNorm1d>(6), std::make_shared<layers::Tanh>(),
                           std::make_shared<layers::Linear>(6, 3)};
  nl::StateDict state;
  for (auto& [name, tensor] : fixtures())
    if (name.rfind("model.", 0) == 0) state[name.substr(6)] = tensor;
  model.load_state_dict(state);  // strict: names and shapes must match PyTorch's exactly
  model.eval();
  check_close("model output", model(fixture("model_io.x")), "model_io.out");
}
