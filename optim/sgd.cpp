#include "optim/sgd.h"

namespace nl::optim {

SGD::SGD(std::vector<ParamGroup> groups, SGDOptions o)
    : Optimizer("SGD", std::move(groups), o.lr, o.weight_decay), options(o) {
  if (!(o.momentum >= 0)) fail_option("invalid momentum {} (must be >= 0)", o.momentum);
  if (o.nesterov && (o.momentum <= 0 || o.dampening != 0))
    fail_option("nesterov momentum requires a momentum > 0 and zero dampening (got momentum {}, dampening {})",
                o.momentum, o.dampening);
}

void SGD::update(const Group& group, Tensor& p, const Tensor& grad, ParamState& state) {
  Tensor momentum_buffer;
  bool first = false;
  if (options.momentum != 0) std::tie(momentum_buffer, first) = buffer(state, "momentum_buffer", p);
  ++state.step;
  dispatch_update("SGD", p, [&]<typename T>() {
    T* w = p.data<T>();
    const T* dw = grad.data<T>();
    T* buf = momentum_buffer.defined() ? momentum_buffer.data<T>() : nullptr;
    const T lr = T(group.lr), decay = T(group.weight_decay), mu = T(options.momentum), keep = T(1 - options.dampening);
    for (int64_t i = 0, n = p.numel(); i < n; ++i) {
      T g = dw[i] + decay * w[i];  // g = grad + wd·p
      if (buf) {
        buf[i] = first ? g : mu * buf[i] + keep * g;  // buf = μ·buf + (1 − τ)·g
        g = options.nesterov ? g + mu * buf[i] : buf[i];
      }
      w[i] -= lr * g;  // p = p − lr·g
    }
  });
}

}  // namespace nl::optim
