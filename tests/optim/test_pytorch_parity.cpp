// Every optimizer configuration and schedule against 10-step trajectories
// recorded from PyTorch (tests/fixtures/make_optim_fixtures.py).
#include <catch2/catch.hpp>
#include <cmath>

#include "normlab.h"
#include "tests/optim/optim_test_helpers.h"

using namespace normlab_test;
namespace optim = nl::optim;

namespace {
template <typename Opt, typename Options>
MakeOptimizer make(Options options) {
  return [options](std::vector<nl::Tensor> params) { return std::make_unique<Opt>(params, options); };
}

void check_trajectory(const std::string& name, const MakeOptimizer& make_optimizer) {
  INFO(name);
  auto params = fixture_params(name);
  auto opt = make_optimizer(params);
  for (int k = 0; k < 10; ++k) {
    INFO("step " << k);
    CHECK(replay_step(name, k, params, *opt) < 1e-10);
  }
}
}  // namespace

TEST_CASE("PyTorch parity: SGD trajectories", "[optim][pytorch]") {
  check_trajectory("sgd", make<optim::SGD>(optim::SGDOptions{.lr = 0.1}));
  check_trajectory("sgd_momentum", make<optim::SGD>(optim::SGDOptions{.lr = 0.1, .momentum = 0.9}));
  check_trajectory("sgd_nesterov", make<optim::SGD>(optim::SGDOptions{
                                       .lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true}));
  check_trajectory("sgd_dampening", make<optim::SGD>(optim::SGDOptions{
                                        .lr = 0.1, .momentum = 0.9, .dampening = 0.5, .weight_decay = 0.1}));
}

TEST_CASE("PyTorch parity: Adam and AdamW trajectories", "[optim][pytorch]") {
  check_trajectory("adam", make<optim::Adam>(optim::AdamOptions{.lr = 1e-2}));
  check_trajectory("adam_amsgrad",
                   make<optim::Adam>(optim::AdamOptions{
                       .lr = 1e-2, .betas = {0.8, 0.99}, .eps = 1e-6, .weight_decay = 0.1, .amsgrad = true}));
  check_trajectory("adamw", make<optim::AdamW>(optim::AdamWOptions{.lr = 1e-2, .weight_decay = 0.1}));
  check_trajectory("adamw_amsgrad",
                   make<optim::AdamW>(optim::AdamWOptions{.lr = 1e-2, .weight_decay = 0.05, .amsgrad = true}));
}

TEST_CASE("PyTorch parity: RMSprop and Adagrad trajectories", "[optim][pytorch]") {
  check_trajectory("rmsprop", make<optim::RMSprop>(optim::RMSpropOptions{.lr = 1e-2}));
  check_trajectory(
      "rmsprop_centered",
      make<optim::RMSprop>(optim::RMSpropOptions{
          .lr = 1e-2, .alpha = 0.9, .eps = 1e-6, .weight_decay = 0.01, .momentum = 0.5, .centered = true}));
  check_trajectory("adagrad", make<optim::Adagrad>(optim::AdagradOptions{.lr = 0.1}));
  check_trajectory(
      "adagrad_decay",
      make<optim::Adagrad>(optim::AdagradOptions{
          .lr = 0.1, .lr_decay = 0.01, .weight_decay = 0.1, .initial_accumulator_value = 0.1, .eps = 1e-8}));
}

TEST_CASE("PyTorch parity: AdamW with two parameter groups", "[optim][pytorch]") {
  auto params = fixture_params("adamw_groups");
  optim::AdamW opt({{.params = {params[0]}}, {.params = {params[1]}, .lr = 0.05, .weight_decay = 0.0}},
                   {.lr = 1e-2, .weight_decay = 0.1});
  for (int k = 0; k < 10; ++k) CHECK(replay_step("adamw_groups", k, params, opt) < 1e-10);
}

TEST_CASE("PyTorch parity: learning-rate schedules", "[optim][pytorch]") {
  auto check = [](const std::string& name,
                  const std::function<std::unique_ptr<optim::LRScheduler>(optim::Optimizer&)>& make_schedule) {
    INFO(name);
    auto p = nl::zeros({1}).requires_grad_(true);
    optim::SGD opt({p}, {.lr = 0.1});
    auto schedule = make_schedule(opt);
    auto expected = optim_fixture(name + ".lr").to_vector<double>();
    for (size_t k = 0; k < expected.size(); ++k) {
      INFO("epoch " << k);
      CHECK(schedule->get_last_lr()[0] == Approx(expected[k]).epsilon(1e-12).margin(1e-15));
      opt.step();
      schedule->step();
    }
  };
  check("step_lr", [](auto& o) { return std::make_unique<optim::StepLR>(o, 3, 0.5); });
  check("cosine", [](auto& o) { return std::make_unique<optim::CosineAnnealingLR>(o, 10, 0.001); });
  check("cosine_short", [](auto& o) { return std::make_unique<optim::CosineAnnealingLR>(o, 4, 0.0); });
  check("lambda", [](auto& o) {
    return std::make_unique<optim::LambdaLR>(o, [](int64_t e) { return std::pow(0.95, double(e)); });
  });
  check("warmup_cosine", [](auto& o) { return std::make_unique<optim::WarmupDecayLR>(o, 3, 10); });
}
