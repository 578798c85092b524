#include "optim/rmsprop.h"

#include <cmath>

namespace nl::optim {

RMSprop::RMSprop(std::vector<ParamGroup> groups, RMSpropOptions o)
    : Optimizer("RMSprop", std::move(groups), o.lr, o.weight_decay), options(o) {
  if (!(o.alpha >= 0)) fail_option("invalid alpha {} (must be >= 0)", o.alpha);
  if (!(o.eps >= 0)) fail_option("invalid eps {} (must be >= 0)", o.eps);
  if (!(o.momentum >= 0)) fail_option("invalid momentum {} (must be >= 0)", o.momentum);
}

void RMSprop::update(const Group& group, Tensor& p, const Tensor& grad, ParamState& state) {
  Tensor square_avg = buffer(state, "square_avg", p).first;
  Tensor grad_avg = options.centered ? buffer(state, "grad_avg", p).first : Tensor();
  Tensor momentum_buffer = options.momentum > 0 ? buffer(state, "momentum_buffer", p).first : Tensor();
  ++state.step;
  dispatch_update("RMSprop", p, [&]<typename T>() {
    T* w = p.data<T>();
    const T* dw = grad.data<T>();
    T* s = square_avg.data<T>();
    T* a = grad_avg.defined() ? grad_avg.data<T>() : nullptr;
    T* buf = momentum_buffer.defined() ? momentum_buffer.data<T>() : nullptr;
    const T lr = T(group.lr), decay = T(group.weight_decay), alpha = T(options.alpha), eps = T(options.eps),
            mu = T(options.momentum);
    for (int64_t i = 0, n = p.numel(); i < n; ++i) {
      T g = dw[i] + decay * w[i];                 // g = grad + wd·p
      s[i] = alpha * s[i] + (1 - alpha) * g * g;  // s = α·s + (1 − α)·g²
      T second = s[i];
      if (a) {
        a[i] = alpha * a[i] + (1 - alpha) * g;  // a = α·a + (1 − α)·g
        second -= a[i] * a[i];                  // centered: s − a²
      }
      T d = std::sqrt(second) + eps;
      if (buf) {
        buf[i] = mu * buf[i] + g / d;  // buf = μ·buf + g/d
        w[i] -= lr * buf[i];
      } else {
        w[i] -= lr * g / d;  // p = p − lr·g/d
      }
    }
  });
}

}  // namespace nl::optim
