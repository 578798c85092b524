#pragma once
// Optimizer: the base of SGD, Adam, AdamW, RMSprop and Adagrad, as
// torch.optim.Optimizer.
//
// Parameters live in groups, and a group may override the learning rate and
// weight decay — so norm gains and biases can skip weight decay:
//
//   nl::optim::AdamW opt({{.params = decay}, {.params = no_decay, .weight_decay = 0.0}}, {.lr = 1e-3});
//
// Per-parameter state (momentum buffers, moment estimates, step counts) is
// created by the first step() that sees a gradient for the parameter.
// state_dict() holds that state and every group's lr and weight decay as
// tensors, so a checkpoint resumes a run bit for bit.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/state_dict.h"
#include "core/tensor.h"

namespace nl::optim {

// What the user passes: parameters, and optional overrides of the defaults.
struct ParamGroup {
  std::vector<Tensor> params;
  std::optional<double> lr = std::nullopt;
  std::optional<double> weight_decay = std::nullopt;
};

class Optimizer {
 public:
  // A group as the optimizer keeps it, with every option resolved.
  struct Group {
    std::vector<Tensor> params;
    double lr;
    double weight_decay;
    double initial_lr;  // lr at construction; schedules scale from it
  };

  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient (others are skipped).
  void step();
  // Drops the gradients (set to none, as PyTorch's default).
  void zero_grad();

  const std::string& name() const { return name_; }
  std::vector<Group>& param_groups() { return groups_; }
  const std::vector<Group>& param_groups() const { return groups_; }

  // "state.<i>.step" (int64) and "state.<i>.<buffer>" for every parameter
  // with state (i counts parameters across groups, in order), and
  // "param_groups.<g>.lr" / ".weight_decay" / ".initial_lr" (0-D float64).
  StateDict state_dict() const;
  // Checks every key, shape and dtype before changing anything.
  void load_state_dict(const StateDict& state);

 protected:
  // Per-parameter state: named buffers (exp_avg, momentum_buffer, ...) and the step count.
  struct ParamState {
    std::map<std::string, Tensor> buffers;
    int64_t step = 0;
  };

  Optimizer(std::string name, std::vector<ParamGroup> groups, double default_lr, double default_weight_decay);

  // The update of one parameter p with its (contiguous) gradient.
  virtual void update(const Group& group, Tensor& p, const Tensor& grad, ParamState& state) = 0;

  // The buffer `name` of a state, created filled with `initial` (returns whether it was just created).
  static std::pair<Tensor, bool> buffer(ParamState& state, const std::string& name, const Tensor& like,
                                        double initial = 0.0);

  // An nl::Error "<Optimizer>: <message>".
  template <typename... Args>
  [[noreturn]] void fail_option(fmt::format_string<Args...> format, Args&&... args) const {
    fail("{}: {}", name_, fmt::format(format, std::forward<Args>(args)...));
  }

 private:
  std::string name_;
  std::vector<Group> groups_;
  std::vector<std::vector<ParamState>> states_;  // [group][param]
};

// Calls fn.template operator()<T>() for p's dtype, with T float or double.
template <typename Fn>
void dispatch_update(const char* optimizer, const Tensor& p, Fn&& fn) {
  dispatch_floating(optimizer, p.dtype(), std::forward<Fn>(fn));
}

}  // namespace nl::optim
