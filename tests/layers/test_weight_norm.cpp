// weight_norm(module, name, dim) on Linear and Conv2d: the output unchanged
// right after applying it, PyTorch's names (weight_g, weight_v, no weight),
// gradients reaching g and v, SGD steps that follow the composed formula,
// remove_weight_norm, PyTorch parity (fixtures written by
// tests/fixtures/make_weight_norm_fixtures.py), and errors. The op
// nl::weight_norm itself: tests/core/ops/test_weight_norm.cpp.
#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"

namespace layers = nl::layers;
using normlab_test::fixture_tensor;
using normlab_test::max_abs_diff;

namespace {
using Dim = std::optional<int64_t>;

nl::Tensor fixture(const std::string& name) { return fixture_tensor("weight_norm.safetensors", name); }

std::set<std::string> keys(const nl::StateDict& state) {
  std::set<std::string> out;
  for (auto& [name, value] : state) out.insert(name);
  return out;
}
std::set<std::string> parameter_names(const layers::Module& m) {
  std::set<std::string> out;
  for (auto& [name, value] : m.named_parameters()) out.insert(name);
  return out;
}
nl::Tensor parameter(const layers::Module& m, const std::string& name) {
  for (auto& [n, value] : m.named_parameters())
    if (n == name) return value;
  FAIL("no parameter " << name);
  return {};
}

// A module under test with its input and its output by the ops alone, from a
// given weight (no module, no hooks): what the weight-normed module must equal.
struct Case {
  std::string label;
  std::shared_ptr<layers::Module> module;
  nl::Tensor x;
  std::function<nl::Tensor(const nl::Tensor& weight, const nl::Tensor& bias)> by_op;
};
Case linear_case() {
  auto lin = std::make_shared<layers::Linear>(5, 4, true, nl::f64);
  nl::Tensor x = nl::randn({3, 5}, nl::f64);
  return {"Linear", lin, x, [x](const nl::Tensor& w, const nl::Tensor& b) { return nl::linear(x, w, b); }};
}
Case conv2d_case() {
  auto conv = std::make_shared<layers::Conv2d>(3, 4, 3, 1, 1, 1, 1, true, nl::f64);
  nl::Tensor x = nl::randn({2, 3, 5, 5}, nl::f64);
  return {"Conv2d", conv, x, [x](const nl::Tensor& w, const nl::Tensor& b) { return nl::conv2d(x, w, b, 1, 1); }};
}
}  // namespace

TEST_CASE("weight_norm module: output unchanged after applying, PyTorch's names and shapes", "[layers][weight_norm]") {
  nl::manual_seed(1);
  for (Case c : {linear_case(), conv2d_case()})
    for (Dim dim : {Dim(0), Dim(1), Dim(-1), Dim(std::nullopt)}) {
      INFO(c.label << ", dim " << (dim ? std::to_string(*dim) : "none"));
      layers::Module& m = *c.module;
      nl::Tensor before = m(c.x).detach();
      nl::Tensor weight = parameter(m, "weight").detach().clone();
      CHECK(&layers::weight_norm(m, "weight", dim) == &m);
      CHECK(max_abs_diff(m(c.x), before) < 1e-12);
      CHECK(parameter_names(m) == std::set<std::string>{"bias", "weight_g", "weight_v"});
      CHECK(keys(m.state_dict()) == std::set<std::string>{"bias", "weight_g", "weight_v"});
      nl::Tensor g = parameter(m, "weight_g"), v = parameter(m, "weight_v");
      CHECK(max_abs_diff(v, weight) == 0.0);
      CHECK(max_abs_diff(g, nl::norm_except_dim(weight, dim)) == 0.0);
      nl::Shape g_shape;  // [] for none, else weight's shape with 1 in every dim but dim
      if (dim) {
        g_shape = nl::Shape::filled(weight.dim(), 1);
        int d = int(*dim < 0 ? *dim + weight.dim() : *dim);
        g_shape[d] = weight.shape()[d];
      }
      CHECK(g.shape() == g_shape);
      CHECK(g.requires_grad());
      CHECK(v.requires_grad());
      layers::remove_weight_norm(m);
      CHECK(parameter_names(m) == std::set<std::string>{"bias", "weight"});
      CHECK(max_abs_diff(m(c.x), before) < 1e-12);
    }
}

TEST_CASE("weight_norm module: gradients reach weight_g and weight_v as through the composed formula",
          "[layers][weight_norm]") {
  nl::manual_seed(2);
  for (Case c : {linear_case(), conv2d_case()})
    for (Dim dim : {Dim(0), Dim(-2), Dim(std::nullopt)}) {
      INFO(c.label << ", dim " << (dim ? std::to_string(*dim) : "none"));
      layers::Module& m = *c.module;
      m.zero_grad();  // the bias's gradient from the last dim's round
      layers::weight_norm(m, "weight", dim);
      {  // g away from ‖v‖, so that the weight is not just v
        nl::NoGradGuard no_grad;
        nl::Tensor g = parameter(m, "weight_g");
        g.copy_(g * (nl::rand(g.shape(), nl::f64) + 0.5));
      }
      nl::Tensor g = parameter(m, "weight_g"), v = parameter(m, "weight_v"), b = parameter(m, "bias");
      nl::Tensor y = m(c.x);
      nl::Tensor upstream = nl::randn(y.shape(), nl::f64);
      y.backward(upstream);
      REQUIRE(g.grad().defined());
      REQUIRE(v.grad().defined());
      // the same through the reference, on fresh leaves
      nl::Tensor g2 = g.detach().clone().requires_grad_(true), v2 = v.detach().clone().requires_grad_(true),
                 b2 = b.detach().clone().requires_grad_(true);
      nl::Tensor y2 = c.by_op(nl::reference::weight_norm(v2, g2, dim), b2);
      y2.backward(upstream);
      CHECK(max_abs_diff(y, y2) < 1e-12);
      CHECK(max_abs_diff(g.grad(), g2.grad()) < 1e-10);
      CHECK(max_abs_diff(v.grad(), v2.grad()) < 1e-10);
      CHECK(max_abs_diff(b.grad(), b2.grad()) < 1e-10);
      layers::remove_weight_norm(m);
    }
}

TEST_CASE("weight_norm module: SGD steps on g and v move the output as the composed formula does",
          "[layers][weight_norm]") {
  nl::manual_seed(3);
  for (Case c : {linear_case(), conv2d_case()}) {
    INFO(c.label);
    layers::Module& m = *c.module;
    layers::weight_norm(m);  // dim 0
    nl::Tensor g = parameter(m, "weight_g"), v = parameter(m, "weight_v"), b = parameter(m, "bias");
    std::vector<nl::Tensor> mine{g, v, b};
    std::vector<nl::Tensor> composed;
    for (const nl::Tensor& p : mine) composed.push_back(p.detach().clone().requires_grad_(true));
    nl::Tensor initial = m(c.x).detach();
    nl::Tensor target = nl::randn(initial.shape(), nl::f64);
    const double lr = 0.05;
    auto sgd_step = [&](std::vector<nl::Tensor>& params, const nl::Tensor& y) {
      nl::Tensor loss = nl::mse_loss(y, target);
      for (nl::Tensor& p : params) p.set_grad(nl::Tensor());
      loss.backward();
      nl::NoGradGuard no_grad;
      for (nl::Tensor& p : params) p.copy_(p - p.grad() * lr);
      return loss.item<double>();
    };
    double first = 0, last = 0;
    for (int step = 0; step < 5; ++step) {
      last = sgd_step(mine, m(c.x));
      if (step == 0) first = last;
      sgd_step(composed, c.by_op(nl::reference::weight_norm(composed[1], composed[0], 0), composed[2]));
    }
    nl::Tensor y = m(c.x);  // the pre-hook recomputes the weight from the trained g and v
    CHECK(max_abs_diff(y, c.by_op(nl::reference::weight_norm(composed[1], composed[0], 0), composed[2])) < 1e-10);
    CHECK(max_abs_diff(y, initial) > 1e-3);  // training did move it
    CHECK(last < first);
  }
}

TEST_CASE("weight_norm module: PyTorch parity (torch.nn.utils.weight_norm), outputs, gradients, removal",
          "[layers][weight_norm][pytorch]") {
  struct Parity {
    std::string name;
    std::shared_ptr<layers::Module> module;
    Dim dim;
    double tol;
  };
  std::vector<Parity> cases{
      {"linear_dim0", std::make_shared<layers::Linear>(5, 4, true, nl::f64), 0, 1e-12},
      {"linear_dim1", std::make_shared<layers::Linear>(5, 4, true, nl::f64), 1, 1e-12},
      {"linear_none", std::make_shared<layers::Linear>(5, 4, true, nl::f64), std::nullopt, 1e-12},
      {"linear_dim0_f32", std::make_shared<layers::Linear>(5, 4, true, nl::f32), 0, 1e-5},
      {"conv2d_dim0", std::make_shared<layers::Conv2d>(3, 4, 3, 1, 1, 1, 1, true, nl::f64), 0, 1e-12},
      {"conv2d_dim1", std::make_shared<layers::Conv2d>(3, 4, 3, 1, 1, 1, 1, true, nl::f64), 1, 1e-12},
  };
  for (Parity& c : cases) {
    INFO(c.name);
    const std::string p = c.name;
    layers::Module& m = *c.module;
    layers::weight_norm(m, "weight", c.dim);
    nl::StateDict torch_state{{"weight_g", fixture(p + ".state.weight_g")},
                              {"weight_v", fixture(p + ".state.weight_v")},
                              {"bias", fixture(p + ".state.bias")}};
    m.load_state_dict(torch_state);  // strict: the same names and shapes
    nl::Tensor x = fixture(p + ".x").clone().requires_grad_(true);
    nl::Tensor y = m(x);
    y.backward(fixture(p + ".upstream"));
    CHECK(max_abs_diff(y, fixture(p + ".out")) <= c.tol);
    CHECK(max_abs_diff(x.grad(), fixture(p + ".grad_x")) <= c.tol);
    CHECK(max_abs_diff(parameter(m, "weight_g").grad(), fixture(p + ".grad_weight_g")) <= c.tol * 10);
    CHECK(max_abs_diff(parameter(m, "weight_v").grad(), fixture(p + ".grad_weight_v")) <= c.tol * 10);
    CHECK(max_abs_diff(parameter(m, "bias").grad(), fixture(p + ".grad_bias")) <= c.tol * 10);
    // and back: our state dict is PyTorch's
    nl::StateDict ours = m.state_dict();
    CHECK(keys(ours) == keys(torch_state));
    for (auto& [name, value] : torch_state) CHECK(max_abs_diff(ours.at(name), value) == 0.0);
    layers::remove_weight_norm(m);
    CHECK(max_abs_diff(parameter(m, "weight"), fixture(p + ".removed_weight")) <= c.tol);
  }
}

TEST_CASE("weight_norm module: works on Conv1d and through a Sequential's children", "[layers][weight_norm]") {
  nl::manual_seed(4);
  auto conv = std::make_shared<layers::Conv1d>(2, 3, 3, 1, 0, 1, 1, true, nl::f64);
  auto lin = std::make_shared<layers::Linear>(3, 2, true, nl::f64);  // on the last dim, L_out = 3
  layers::Sequential model{conv, lin};
  nl::Tensor x = nl::randn({2, 2, 5}, nl::f64);
  nl::Tensor y1 = (*conv)(x).detach(), before = model(x).detach();
  layers::weight_norm(*conv, "weight", std::nullopt);
  layers::weight_norm(*lin, "weight", -1);
  CHECK(max_abs_diff((*conv)(x), y1) < 1e-12);
  CHECK(max_abs_diff(model(x), before) < 1e-12);
  {  // a changed g shows in the next call: the weight is recomputed before every forward
    nl::NoGradGuard no_grad;
    nl::Tensor g = parameter(*conv, "weight_g");
    g.fill_(2.0 * g.item<double>());
  }
  nl::Tensor bias = conv->bias.reshape({1, 3, 1});
  CHECK(max_abs_diff((*conv)(x), (y1 - bias) * 2.0 + bias) < 1e-12);
  CHECK(max_abs_diff(model(x), (*lin)((*conv)(x))) < 1e-12);  // Sequential calls them as Module&: the same hooks
  CHECK(max_abs_diff(model(x), before) > 1e-3);
  CHECK(keys(model.state_dict()) ==
        std::set<std::string>{"0.bias", "0.weight_g", "0.weight_v", "1.bias", "1.weight_g", "1.weight_v"});
}

TEST_CASE("weight_norm module: errors name the function, the module and what was expected",
          "[layers][weight_norm][errors]") {
  layers::Linear lin(3, 2);
  REQUIRE_THROWS_WITH(layers::weight_norm(lin, "scale"), Catch::Contains("weight_norm") && Catch::Contains("Linear") &&
                                                             Catch::Contains("\"scale\"") &&
                                                             Catch::Contains("weight, bias"));
  REQUIRE_THROWS_WITH(layers::weight_norm(lin, "weight", 2), Catch::Contains("weight_norm") &&
                                                                 Catch::Contains("Linear") &&
                                                                 Catch::Contains("dim 2") && Catch::Contains("[2,3]"));
  REQUIRE_THROWS_WITH(layers::weight_norm(lin, "weight", -3), Catch::Contains("dim -3"));
  REQUIRE_THROWS_WITH(layers::remove_weight_norm(lin), Catch::Contains("remove_weight_norm") &&
                                                           Catch::Contains("Linear") &&
                                                           Catch::Contains("not weight-normed"));
  CHECK(parameter_names(lin) == std::set<std::string>{"bias", "weight"});  // the failed calls changed nothing
  layers::weight_norm(lin);
  REQUIRE_THROWS_WITH(layers::weight_norm(lin),
                      Catch::Contains("weight_norm") && Catch::Contains("Linear") && Catch::Contains("already"));
  layers::remove_weight_norm(lin);
  REQUIRE_THROWS_WITH(layers::remove_weight_norm(lin), Catch::Contains("not weight-normed"));
  layers::weight_norm(lin, "weight", 1);  // and again after removal
  CHECK(parameter_names(lin) == std::set<std::string>{"bias", "weight_g", "weight_v"});
}
