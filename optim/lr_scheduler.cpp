#include "optim/lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace nl::optim {

LRScheduler::LRScheduler(Optimizer& optimizer, const char* name) : name_(name), optimizer_(optimizer) {
  for (auto& group : optimizer.param_groups()) base_lrs_.push_back(group.initial_lr);
}

void LRScheduler::apply() {
  auto& groups = optimizer_.param_groups();
  for (size_t g = 0; g < groups.size(); ++g) groups[g].lr = lr_at(last_epoch_, base_lrs_[g]);
}

void LRScheduler::step() {
  ++last_epoch_;
  apply();
}

std::vector<double> LRScheduler::get_last_lr() const {
  std::vector<double> out;
  for (auto& group : optimizer_.param_groups()) out.push_back(group.lr);
  return out;
}

StateDict LRScheduler::state_dict() const {
  StateDict out{{"last_epoch", full({}, double(last_epoch_), i64)}};
  for (size_t g = 0; g < base_lrs_.size(); ++g) out[fmt::format("base_lrs.{}", g)] = scalar_tensor(base_lrs_[g], f64);
  return out;
}

void LRScheduler::load_state_dict(const StateDict& state) {
  std::string owner = std::string(name_) + ".load_state_dict";
  auto get = [&](const std::string& key, DType dtype) -> const Tensor& {
    return state_scalar(state, key, dtype, owner);
  };
  if (state.size() != base_lrs_.size() + 1)
    fail("{}.load_state_dict: expected last_epoch and {} base_lrs, got {} keys", name_, base_lrs_.size(), state.size());
  std::vector<double> base_lrs;
  for (size_t g = 0; g < base_lrs_.size(); ++g)
    base_lrs.push_back(get(fmt::format("base_lrs.{}", g), f64).item<double>());
  // step() counts on from it: a file may hold any int64, and ++last_epoch must not overflow.
  int64_t last_epoch = get("last_epoch", i64).item<int64_t>();
  if (last_epoch < 0 || last_epoch > (int64_t(1) << 53))
    fail("{}.load_state_dict: last_epoch is {}, not a step count in [0, 2^53]", name_, last_epoch);
  last_epoch_ = last_epoch;
  base_lrs_ = base_lrs;
  apply();
}

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer, "StepLR"), step_size_(step_size), gamma_(gamma) {
  if (step_size <= 0) fail("StepLR: step_size must be > 0, got {}", step_size);
  initialize();
}

double StepLR::lr_at(int64_t epoch, double base_lr) const {
  return base_lr * std::pow(gamma_, double(epoch / step_size_));
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min)
    : LRScheduler(optimizer, "CosineAnnealingLR"), T_max_(T_max), eta_min_(eta_min) {
  if (T_max <= 0) fail("CosineAnnealingLR: T_max must be > 0, got {}", T_max);
  initialize();
}

double CosineAnnealingLR::lr_at(int64_t epoch, double base_lr) const {
  return eta_min_ + (base_lr - eta_min_) * (1 + std::cos(std::numbers::pi * double(epoch) / double(T_max_))) / 2;
}

LambdaLR::LambdaLR(Optimizer& optimizer, std::function<double(int64_t)> lambda)
    : LRScheduler(optimizer, "LambdaLR"), lambda_(std::move(lambda)) {
  if (!lambda_) fail("LambdaLR: the lambda is empty");
  initialize();
}

double LambdaLR::lr_at(int64_t epoch, double base_lr) const { return base_lr * lambda_(epoch); }

WarmupDecayLR::WarmupDecayLR(Optimizer& optimizer, int64_t warmup_steps, int64_t total_steps, Decay decay,
                             double min_lr_ratio)
    : LRScheduler(optimizer, "WarmupDecayLR"),
      warmup_steps_(warmup_steps),
      total_steps_(total_steps),
      decay_(decay),
      min_lr_ratio_(min_lr_ratio) {
  if (warmup_steps < 0 || total_steps <= warmup_steps)
    fail("WarmupDecayLR: need 0 <= warmup_steps < total_steps, got warmup_steps={} total_steps={}", warmup_steps,
         total_steps);
  if (!(min_lr_ratio >= 0 && min_lr_ratio <= 1))
    fail("WarmupDecayLR: min_lr_ratio must be in [0, 1], got {}", min_lr_ratio);
  initialize();
}

double WarmupDecayLR::lr_at(int64_t epoch, double base_lr) const {
  if (epoch < warmup_steps_) return base_lr * double(epoch + 1) / double(warmup_steps_);
  double p = std::min(1.0, double(epoch - warmup_steps_) / double(total_steps_ - warmup_steps_));
  double shape = decay_ == Decay::cosine ? (1 + std::cos(std::numbers::pi * p)) / 2 : 1 - p;
  return base_lr * (min_lr_ratio_ + (1 - min_lr_ratio_) * shape);
}

}  // namespace nl::optim
