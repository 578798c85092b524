#pragma once
// Learning-rate schedules, as torch.optim.lr_scheduler. A schedule sets each
// parameter group's lr to f(epoch) from the group's initial lr; constructing
// one applies epoch 0, and step() (once per epoch or per optimizer step, as
// you count them) advances:
//
//   nl::optim::CosineAnnealingLR schedule(opt, /*T_max=*/100);
//   for (...) { ...; opt.step(); schedule.step(); }
//
// Every schedule here is a closed form of the epoch, so resuming from
// state_dict() (last_epoch, base_lrs) reproduces the run exactly.
#include <functional>
#include <vector>

#include "optim/optimizer.h"

namespace nl::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  void step();
  int64_t last_epoch() const { return last_epoch_; }
  // The lr of each group after the last step().
  std::vector<double> get_last_lr() const;
  // "last_epoch" (0-D int64) and "base_lrs.<g>" (0-D float64).
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state);

 protected:
  LRScheduler(Optimizer& optimizer, const char* name);
  // Call at the end of a subclass constructor: sets the epoch-0 lr.
  void initialize() { apply(); }
  // The lr at `epoch` for a group whose initial lr is base_lr.
  virtual double lr_at(int64_t epoch, double base_lr) const = 0;
  const char* name_;

 private:
  void apply();
  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  int64_t last_epoch_ = 0;
};

// lr = base · gamma^⌊epoch / step_size⌋
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);

 protected:
  double lr_at(int64_t epoch, double base_lr) const override;
  int64_t step_size_;
  double gamma_;
};

// lr = eta_min + (base − eta_min) · (1 + cos(π · epoch / T_max)) / 2
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0.0);

 protected:
  double lr_at(int64_t epoch, double base_lr) const override;
  int64_t T_max_;
  double eta_min_;
};

// lr = base · lambda(epoch)
class LambdaLR : public LRScheduler {
 public:
  LambdaLR(Optimizer& optimizer, std::function<double(int64_t)> lambda);

 protected:
  double lr_at(int64_t epoch, double base_lr) const override;
  std::function<double(int64_t)> lambda_;
};

// Linear warmup, then decay: the transformer recipe.
//   epoch < warmup_steps:  factor = (epoch + 1) / warmup_steps
//   after:   p = (epoch − warmup_steps) / (total_steps − warmup_steps), capped at 1
//            cosine: factor = min_ratio + (1 − min_ratio) · (1 + cos(π·p)) / 2
//            linear: factor = min_ratio + (1 − min_ratio) · (1 − p)
//   lr = base · factor
class WarmupDecayLR : public LRScheduler {
 public:
  enum class Decay { cosine, linear };
  WarmupDecayLR(Optimizer& optimizer, int64_t warmup_steps, int64_t total_steps, Decay decay = Decay::cosine,
                double min_lr_ratio = 0.0);

 protected:
  double lr_at(int64_t epoch, double base_lr) const override;
  int64_t warmup_steps_, total_steps_;
  Decay decay_;
  double min_lr_ratio_;
};

}  // namespace nl::optim
