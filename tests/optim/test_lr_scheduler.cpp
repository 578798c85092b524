// Schedules: closed forms by hand, all groups scaled, state dicts, errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <numbers>

#include "normlab.h"

namespace optim = nl::optim;

TEST_CASE("StepLR: lr = base · gamma^floor(epoch / step_size)", "[optim][schedule]") {
  auto p = nl::zeros({1}).requires_grad_(true);
  optim::SGD opt({p}, {.lr = 1.0});
  optim::StepLR schedule(opt, 2, 0.1);
  std::vector<double> seen;
  for (int e = 0; e < 5; ++e, schedule.step()) seen.push_back(schedule.get_last_lr()[0]);
  CHECK(seen[0] == 1.0);
  CHECK(seen[1] == 1.0);
  CHECK(seen[2] == Approx(0.1));
  CHECK(seen[4] == Approx(0.01));
}

TEST_CASE("CosineAnnealingLR: from base to eta_min over T_max epochs", "[optim][schedule]") {
  auto p = nl::zeros({1}).requires_grad_(true);
  optim::SGD opt({p}, {.lr = 1.0});
  optim::CosineAnnealingLR schedule(opt, 4, 0.2);
  CHECK(schedule.get_last_lr()[0] == 1.0);
  schedule.step();
  CHECK(schedule.get_last_lr()[0] == Approx(0.2 + 0.8 * (1 + std::cos(std::numbers::pi / 4)) / 2));
  for (int e = 1; e < 4; ++e) schedule.step();
  CHECK(schedule.get_last_lr()[0] == Approx(0.2));
}

TEST_CASE("WarmupDecayLR: linear warmup then cosine or linear decay to min_lr_ratio", "[optim][schedule]") {
  auto p = nl::zeros({1}).requires_grad_(true);
  optim::SGD opt({p}, {.lr = 2.0});
  optim::WarmupDecayLR linear(opt, 4, 14, optim::WarmupDecayLR::Decay::linear, 0.1);
  std::vector<double> lr;
  for (int e = 0; e < 20; ++e, linear.step()) lr.push_back(linear.get_last_lr()[0]);
  CHECK(lr[0] == Approx(0.5));  // 2 · 1/4
  CHECK(lr[3] == Approx(2.0));  // 2 · 4/4
  CHECK(lr[4] == Approx(2.0));  // decay starts at p = 0
  CHECK(lr[9] == Approx(2.0 * (0.1 + 0.9 * 0.5)));
  CHECK(lr[14] == Approx(0.2));  // min_lr_ratio · base
  CHECK(lr[19] == Approx(0.2));  // and stays there
}

TEST_CASE("LambdaLR and schedules over several groups", "[optim][schedule]") {
  auto a = nl::zeros({1}).requires_grad_(true), b = nl::zeros({1}).requires_grad_(true);
  optim::SGD opt({{.params = {a}}, {.params = {b}, .lr = 0.5}}, {.lr = 1.0});
  optim::LambdaLR schedule(opt, [](int64_t e) { return 1.0 / double(e + 1); });
  schedule.step();
  CHECK(schedule.get_last_lr() == std::vector<double>{0.5, 0.25});
  CHECK(opt.param_groups()[1].lr == 0.25);
}

TEST_CASE("LRScheduler: state_dict resumes the schedule", "[optim][schedule][state]") {
  auto p = nl::zeros({1}).requires_grad_(true);
  optim::SGD opt({p}, {.lr = 1.0});
  optim::CosineAnnealingLR a(opt, 10);
  for (int e = 0; e < 3; ++e) a.step();
  auto state = a.state_dict();
  CHECK(state.at("last_epoch").item<int64_t>() == 3);
  optim::SGD opt2({nl::zeros({1}).requires_grad_(true)}, {.lr = 1.0});
  optim::CosineAnnealingLR b(opt2, 10);
  b.load_state_dict(state);
  CHECK(b.get_last_lr() == a.get_last_lr());
  a.step();
  b.step();
  CHECK(b.get_last_lr() == a.get_last_lr());
  state.erase("base_lrs.0");
  REQUIRE_THROWS_WITH(b.load_state_dict(state), Catch::Contains("CosineAnnealingLR.load_state_dict"));
}

TEST_CASE("LRScheduler: invalid arguments", "[optim][schedule][errors]") {
  auto p = nl::zeros({1}).requires_grad_(true);
  optim::SGD opt({p}, {.lr = 1.0});
  REQUIRE_THROWS_WITH(optim::StepLR(opt, 0), Catch::Contains("StepLR: step_size must be > 0"));
  REQUIRE_THROWS_WITH(optim::CosineAnnealingLR(opt, 0), Catch::Contains("T_max"));
  REQUIRE_THROWS_WITH(optim::WarmupDecayLR(opt, 10, 5), Catch::Contains("warmup_steps < total_steps"));
  REQUIRE_THROWS_WITH(optim::LambdaLR(opt, nullptr), Catch::Contains("empty"));
}
