#include "optim/adagrad.h"

#include <cmath>

namespace nl::optim {

Adagrad::Adagrad(std::vector<ParamGroup> groups, AdagradOptions o)
    : Optimizer("Adagrad", std::move(groups), o.lr, o.weight_decay), options(o) {
  if (!(o.lr_decay >= 0)) fail_option("invalid lr_decay {} (must be >= 0)", o.lr_decay);
  if (!(o.initial_accumulator_value >= 0))
    fail_option("invalid initial_accumulator_value {} (must be >= 0)", o.initial_accumulator_value);
  if (!(o.eps >= 0)) fail_option("invalid eps {} (must be >= 0)", o.eps);
}

void Adagrad::update(const Group& group, Tensor& p, const Tensor& grad, ParamState& state) {
  Tensor sum = buffer(state, "sum", p, options.initial_accumulator_value).first;
  int64_t t = ++state.step;
  double clr = group.lr / (1 + double(t - 1) * options.lr_decay);  // clr = lr / (1 + (t − 1)·lr_decay)
  dispatch_update("Adagrad", p, [&]<typename T>() {
    T* w = p.data<T>();
    const T* dw = grad.data<T>();
    T* acc = sum.data<T>();
    const T lr = T(clr), decay = T(group.weight_decay), eps = T(options.eps);
    for (int64_t i = 0, n = p.numel(); i < n; ++i) {
      T g = dw[i] + decay * w[i];                  // g = grad + wd·p
      acc[i] += g * g;                             // sum = sum + g²
      w[i] -= lr * g / (std::sqrt(acc[i]) + eps);  // p = p − clr·g/(√sum + eps)
    }
  });
}

}  // namespace nl::optim
