// Optimizer plumbing: groups, skipped parameters, float32, zero_grad,
// state_dict round trips with bit-identical continuation, and errors.
#include <catch2/catch.hpp>

#include "normlab.h"

namespace optim = nl::optim;

namespace {
// A small regression problem whose gradients depend on the parameters.
struct Problem {
  nl::Tensor w = nl::randn({4, 3}).requires_grad_(true), b = nl::zeros({3}).requires_grad_(true);
  nl::Tensor x = nl::randn({16, 4}), y = nl::randn({16, 3});
  float loss_and_backward() {
    auto loss = nl::mse_loss(nl::matmul(x, w) + b, y);
    loss.backward();
    return loss.item<float>();
  }
};

template <typename Opt, typename Options>
void check_resume_is_bit_identical(Options options) {
  nl::manual_seed(1);
  Problem a;
  Opt opt_a({a.w, a.b}, options);
  std::vector<float> straight;
  for (int k = 0; k < 8; ++k) {
    opt_a.zero_grad();
    straight.push_back(a.loss_and_backward());
    opt_a.step();
  }
  // the same run, but after 4 steps: state_dict -> fresh optimizer -> 4 more
  nl::manual_seed(1);
  Problem b;
  std::vector<float> resumed;
  nl::StateDict saved;
  {
    Opt first({b.w, b.b}, options);
    for (int k = 0; k < 4; ++k) {
      first.zero_grad();
      resumed.push_back(b.loss_and_backward());
      first.step();
    }
    saved = first.state_dict();
  }
  Opt second({b.w, b.b}, options);
  second.load_state_dict(saved);
  for (int k = 4; k < 8; ++k) {
    second.zero_grad();
    resumed.push_back(b.loss_and_backward());
    second.step();
  }
  CHECK(resumed == straight);
}
}  // namespace

TEST_CASE("Optimizer: state_dict round trip continues bit-identically", "[optim][state]") {
  check_resume_is_bit_identical<optim::SGD>(optim::SGDOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true});
  check_resume_is_bit_identical<optim::Adam>(optim::AdamOptions{.lr = 0.01, .amsgrad = true});
  check_resume_is_bit_identical<optim::AdamW>(optim::AdamWOptions{.lr = 0.01});
  check_resume_is_bit_identical<optim::RMSprop>(optim::RMSpropOptions{.lr = 0.01, .momentum = 0.5, .centered = true});
  check_resume_is_bit_identical<optim::Adagrad>(optim::AdagradOptions{.lr = 0.1, .lr_decay = 0.01});
}

TEST_CASE("Optimizer: state_dict names follow PyTorch's buffers", "[optim][state]") {
  auto p = nl::ones({2}).requires_grad_(true);
  optim::Adam opt({p}, {.lr = 0.1, .amsgrad = true});
  p.set_grad(nl::ones({2}));
  opt.step();
  std::vector<std::string> keys;
  for (auto& [k, v] : opt.state_dict()) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"param_groups.0.initial_lr", "param_groups.0.lr",
                                         "param_groups.0.weight_decay", "state.0.exp_avg", "state.0.exp_avg_sq",
                                         "state.0.max_exp_avg_sq", "state.0.step"});
  CHECK(opt.state_dict().at("state.0.step").item<int64_t>() == 1);
}

TEST_CASE("Optimizer: load_state_dict rejects wrong keys, shapes and dtypes and changes nothing",
          "[optim][state][errors]") {
  auto p = nl::ones({2}).requires_grad_(true);
  optim::SGD opt({p}, {.lr = 0.1, .momentum = 0.9});
  p.set_grad(nl::ones({2}));
  opt.step();
  auto good = opt.state_dict();
  auto bad_shape = good;
  bad_shape["state.0.momentum_buffer"] = nl::zeros({3});
  REQUIRE_THROWS_WITH(opt.load_state_dict(bad_shape),
                      Catch::Contains("state.0.momentum_buffer") && Catch::Contains("[3]"));
  auto unexpected = good;
  unexpected["state.5.step"] = nl::zeros({}, nl::i64);
  REQUIRE_THROWS_WITH(opt.load_state_dict(unexpected), Catch::Contains("unexpected key state.5.step"));
  auto missing = good;
  missing.erase("param_groups.0.lr");
  REQUIRE_THROWS_WITH(opt.load_state_dict(missing), Catch::Contains("missing key param_groups.0.lr"));
  auto wrong_dtype = good;
  wrong_dtype["param_groups.0.lr"] = nl::scalar_tensor(0.5);  // float32
  REQUIRE_THROWS_WITH(opt.load_state_dict(wrong_dtype), Catch::Contains("0-D float64"));
  CHECK(opt.param_groups()[0].lr == 0.1);
  CHECK(opt.state_dict().at("state.0.momentum_buffer").to_vector<float>() == std::vector<float>{1, 1});
}

TEST_CASE("Optimizer: parameters without gradients are skipped and get no state", "[optim]") {
  auto a = nl::ones({2}).requires_grad_(true), b = nl::ones({2}).requires_grad_(true);
  optim::Adam opt({a, b}, {.lr = 0.1});
  a.set_grad(nl::ones({2}));
  opt.step();
  CHECK(a.to_vector<float>()[0] < 1.0f);
  CHECK(b.to_vector<float>() == std::vector<float>{1, 1});
  auto state = opt.state_dict();
  CHECK(state.count("state.0.step") == 1);
  CHECK(state.count("state.1.step") == 0);
}

TEST_CASE("Optimizer: float32 parameters update in float32, matching float64 closely", "[optim]") {
  auto p32 = nl::from_vector<float>({1.0f, -2.0f}).requires_grad_(true);
  auto p64 = nl::from_vector<double>({1.0, -2.0}).requires_grad_(true);
  optim::Adam a({p32}, {.lr = 0.1}), b({p64}, {.lr = 0.1});
  for (int k = 0; k < 5; ++k) {
    p32.set_grad(p32.detach() * 2.0);
    p64.set_grad(p64.detach() * 2.0);
    a.step();
    b.step();
  }
  CHECK(p32.dtype() == nl::f32);
  for (int i = 0; i < 2; ++i) CHECK(p32.to_vector<double>()[i] == Approx(p64.to_vector<double>()[i]).epsilon(2e-5));
}

TEST_CASE("Optimizer: SGD step by hand, and zero_grad sets gradients to none", "[optim]") {
  auto p = nl::from_vector<double>({1.0, 2.0}).requires_grad_(true);
  optim::SGD opt({p}, {.lr = 0.5, .momentum = 0.9});
  p.set_grad(nl::from_vector<double>({1.0, -1.0}));
  opt.step();  // buf = g; p = p − 0.5·g
  CHECK(p.to_vector<double>() == std::vector<double>{0.5, 2.5});
  opt.step();  // buf = 0.9·g + g = 1.9·g; p −= 0.95·g
  CHECK(p.to_vector<double>()[0] == Approx(0.5 - 0.95));
  opt.zero_grad();
  CHECK_FALSE(p.grad().defined());
}

TEST_CASE("Optimizer: parameter groups use their own lr and weight decay", "[optim]") {
  auto a = nl::ones({1}, nl::f64).requires_grad_(true), b = nl::ones({1}, nl::f64).requires_grad_(true);
  optim::SGD opt({{.params = {a}}, {.params = {b}, .lr = 0.5, .weight_decay = 1.0}}, {.lr = 0.1});
  CHECK(opt.param_groups()[1].lr == 0.5);
  CHECK(opt.param_groups()[0].weight_decay == 0.0);
  a.set_grad(nl::ones({1}, nl::f64));
  b.set_grad(nl::ones({1}, nl::f64));
  opt.step();
  CHECK(a.item<double>() == Approx(0.9));            // 1 − 0.1·1
  CHECK(b.item<double>() == Approx(1 - 0.5 * 2.0));  // 1 − 0.5·(1 + 1·1)
}

TEST_CASE("Optimizer: works on a Module's parameters", "[optim]") {
  nl::manual_seed(3);
  nl::layers::Sequential model{std::make_shared<nl::layers::Linear>(3, 8),
                               std::make_shared<nl::layers::LayerNorm>(nl::Shape{8}),
                               std::make_shared<nl::layers::Tanh>(), std::make_shared<nl::layers::Linear>(8, 1)};
  optim::Adam opt(model.parameters(), {.lr = 0.01});
  auto x = nl::randn({32, 3}), y = x.sum({1}, true);
  float first = 0, last = 0;
  for (int k = 0; k < 100; ++k) {
    opt.zero_grad();
    auto loss = nl::mse_loss(model(x), y);
    loss.backward();
    opt.step();
    (k == 0 ? first : last) = loss.item<float>();
  }
  CHECK(last < 0.1f * first);
}

TEST_CASE("Optimizer: invalid options and parameters are refused with the optimizer's name", "[optim][errors]") {
  auto p = nl::ones({2}).requires_grad_(true);
  REQUIRE_THROWS_WITH(optim::SGD({p}, {.lr = -1}), Catch::Contains("SGD: invalid learning rate -1"));
  REQUIRE_THROWS_WITH(optim::SGD({p}, {.lr = 0.1, .nesterov = true}), Catch::Contains("nesterov"));
  REQUIRE_THROWS_WITH(optim::SGD({p}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}),
                      Catch::Contains("zero dampening"));
  REQUIRE_THROWS_WITH(optim::Adam({p}, {.betas = {1.0, 0.999}}), Catch::Contains("Adam: invalid beta1 1"));
  REQUIRE_THROWS_WITH(optim::AdamW({p}, {.betas = {0.9, -0.1}}), Catch::Contains("AdamW: invalid beta2"));
  REQUIRE_THROWS_WITH(optim::RMSprop({p}, {.alpha = -0.5}), Catch::Contains("RMSprop: invalid alpha"));
  REQUIRE_THROWS_WITH(optim::Adagrad({p}, {.lr_decay = -1}), Catch::Contains("Adagrad: invalid lr_decay"));
  REQUIRE_THROWS_WITH(optim::SGD({p, p}, {.lr = 0.1}), Catch::Contains("more than once"));
  REQUIRE_THROWS_WITH(optim::SGD({p * 2.0}, {.lr = 0.1}), Catch::Contains("leaf"));
  REQUIRE_THROWS_WITH(optim::SGD({nl::zeros({2}, nl::i64)}, {.lr = 0.1}), Catch::Contains("floating"));
  REQUIRE_THROWS_WITH(optim::SGD(std::vector<optim::ParamGroup>{}, {.lr = 0.1}),
                      Catch::Contains("no parameter groups"));
  // a valid one steps: plain SGD, q ← q − lr·g = 1 − 0.1·g
  auto q = nl::ones({2, 3}).requires_grad_(true);
  optim::SGD opt({q}, {.lr = 0.1});
  q.set_grad(nl::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3}).to(nl::f32));
  CHECK_NOTHROW(opt.step());
  std::vector<double> expected{0.9, 0.8, 0.7, 0.6, 0.5, 0.4};
  std::vector<float> after = q.to_vector<float>();
  REQUIRE(after.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("q[" << i << "]");
    CHECK(after[i] == Approx(expected[i]).margin(1e-6));
  }
}
