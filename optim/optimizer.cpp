#include "optim/optimizer.h"

#include <set>

#include "core/autograd.h"

namespace nl::optim {

Optimizer::Optimizer(std::string name, std::vector<ParamGroup> groups, double default_lr, double default_weight_decay)
    : name_(std::move(name)) {
  if (groups.empty()) fail_option("got no parameter groups");
  std::set<const TensorImpl*> seen;
  for (auto& spec : groups) {
    Group g{spec.params, spec.lr.value_or(default_lr), spec.weight_decay.value_or(default_weight_decay), 0.0};
    g.initial_lr = g.lr;
    if (!(g.lr >= 0)) fail_option("invalid learning rate {} (must be >= 0)", g.lr);
    if (!(g.weight_decay >= 0)) fail_option("invalid weight_decay {} (must be >= 0)", g.weight_decay);
    for (const Tensor& p : g.params) {
      if (!p.defined()) fail_option("a parameter is undefined");
      if (!p.is_floating_point() || !p.is_leaf())
        fail_option("parameters must be floating leaf tensors, got {} {}{}", p.dtype(), p.shape(),
                    p.is_leaf() ? "" : " (the output of an op)");
      if (!p.is_contiguous()) fail_option("parameter of shape {} is not contiguous", p.shape());
      if (!seen.insert(p.impl_ptr().get()).second)
        fail_option("parameter of shape {} appears more than once", p.shape());
    }
    states_.emplace_back(g.params.size());
    groups_.push_back(std::move(g));
  }
}

void Optimizer::step() {
  NoGradGuard no_grad;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    Group& group = groups_[gi];
    for (size_t pi = 0; pi < group.params.size(); ++pi) {
      Tensor& p = group.params[pi];
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      if (!(grad.shape() == p.shape()) || grad.dtype() != p.dtype())
        fail_option("gradient {} {} does not match parameter {} {}", grad.shape(), grad.dtype(), p.shape(), p.dtype());
      update(group, p, grad.contiguous(), states_[gi][pi]);
    }
  }
}

void Optimizer::zero_grad() {
  for (auto& group : groups_)
    for (auto& p : group.params) p.set_grad(Tensor());
}

std::pair<Tensor, bool> Optimizer::buffer(ParamState& state, const std::string& name, const Tensor& like,
                                          double initial) {
  auto it = state.buffers.find(name);
  if (it != state.buffers.end()) return {it->second, false};
  Tensor t = full(like.shape(), initial, like.dtype());
  state.buffers[name] = t;
  return {t, true};
}

StateDict Optimizer::state_dict() const {
  StateDict out;
  size_t index = 0;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const Group& g = groups_[gi];
    std::string prefix = fmt::format("param_groups.{}.", gi);
    out[prefix + "lr"] = scalar_tensor(g.lr, f64);
    out[prefix + "weight_decay"] = scalar_tensor(g.weight_decay, f64);
    out[prefix + "initial_lr"] = scalar_tensor(g.initial_lr, f64);
    for (const ParamState& s : states_[gi]) {
      if (s.step > 0 || !s.buffers.empty()) {
        std::string p = fmt::format("state.{}.", index);
        out[p + "step"] = full({}, double(s.step), i64);
        for (auto& [name, t] : s.buffers) out[p + name] = t.clone();
      }
      ++index;
    }
  }
  return out;
}

void Optimizer::load_state_dict(const StateDict& state) {
  std::string owner = name_ + ".load_state_dict";
  auto scalar = [&](const std::string& key, DType dtype) -> const Tensor& {
    return state_scalar(state, key, dtype, owner);
  };
  // Check everything into fresh copies first; assign only when all is valid.
  std::vector<Group> groups = groups_;
  std::vector<std::vector<ParamState>> states;
  std::set<std::string> used;
  size_t index = 0;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    std::string prefix = fmt::format("param_groups.{}.", gi);
    for (auto [option, target] : {std::pair{"lr", &groups[gi].lr}, std::pair{"weight_decay", &groups[gi].weight_decay},
                                  std::pair{"initial_lr", &groups[gi].initial_lr}}) {
      *target = scalar(prefix + option, f64).item<double>();
      used.insert(prefix + option);
    }
    states.emplace_back(groups[gi].params.size());
    for (size_t pi = 0; pi < groups[gi].params.size(); ++pi, ++index) {
      std::string p = fmt::format("state.{}.", index);
      const Tensor& param = groups[gi].params[pi];
      for (auto& [key, value] : state) {
        if (key.rfind(p, 0) != 0) continue;
        used.insert(key);
        std::string name = key.substr(p.size());
        if (name == "step") {
          // Counted on by ++step, and a double in Adam's bias correction: a file may hold any int64.
          int64_t step = scalar(key, i64).item<int64_t>();
          if (step < 0 || step > (int64_t(1) << 53))
            fail("{}.load_state_dict: {} is {}, not a step count in [0, 2^53]", name_, key, step);
          states[gi][pi].step = step;
        } else if (!(value.shape() == param.shape()) || value.dtype() != param.dtype()) {
          fail("{}.load_state_dict: {} is {} {} but its parameter is {} {}", name_, key, value.dtype(), value.shape(),
               param.dtype(), param.shape());
        } else {
          states[gi][pi].buffers[name] = value.contiguous().clone();
        }
      }
    }
  }
  for (auto& [key, value] : state)
    if (!used.count(key))
      fail("{}.load_state_dict: unexpected key {} (for {} parameters in {} groups)", name_, key, index, groups.size());
  groups_ = std::move(groups);
  states_ = std::move(states);
}

}  // namespace nl::optim
