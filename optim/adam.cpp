#include "optim/adam.h"

#include <cmath>

namespace nl::optim {

Adam::Adam(const char* name, std::vector<ParamGroup> groups, AdamOptions o, bool decoupled)
    : Optimizer(name, std::move(groups), o.lr, o.weight_decay), options(o), decoupled_weight_decay(decoupled) {
  auto [beta1, beta2] = o.betas;
  if (!(beta1 >= 0 && beta1 < 1)) fail_option("invalid beta1 {} (must be in [0, 1))", beta1);
  if (!(beta2 >= 0 && beta2 < 1)) fail_option("invalid beta2 {} (must be in [0, 1))", beta2);
  if (!(o.eps >= 0)) fail_option("invalid eps {} (must be >= 0)", o.eps);
}

void Adam::update(const Group& group, Tensor& p, const Tensor& grad, ParamState& state) {
  Tensor exp_avg = buffer(state, "exp_avg", p).first, exp_avg_sq = buffer(state, "exp_avg_sq", p).first;
  Tensor max_exp_avg_sq = options.amsgrad ? buffer(state, "max_exp_avg_sq", p).first : Tensor();
  int64_t t = ++state.step;
  auto [beta1, beta2] = options.betas;
  // bias corrections as PyTorch computes them, in double
  double step_size = group.lr / (1 - std::pow(beta1, double(t)));
  double bias_correction2_sqrt = std::sqrt(1 - std::pow(beta2, double(t)));
  dispatch_update(name().c_str(), p, [&]<typename T>() {
    T* w = p.data<T>();
    const T* dw = grad.data<T>();
    T* m = exp_avg.data<T>();
    T* v = exp_avg_sq.data<T>();
    T* v_max = max_exp_avg_sq.defined() ? max_exp_avg_sq.data<T>() : nullptr;
    const T b1 = T(beta1), b2 = T(beta2), eps = T(options.eps), lr_size = T(step_size), bc2 = T(bias_correction2_sqrt);
    const T decay = T(group.weight_decay), shrink = T(1 - group.lr * group.weight_decay);
    for (int64_t i = 0, n = p.numel(); i < n; ++i) {
      T g = dw[i];
      if (decoupled_weight_decay)
        w[i] *= shrink;                                        // AdamW: p = p·(1 − lr·wd)
      else
        g += decay * w[i];                                     // Adam: g = grad + wd·p
      m[i] = b1 * m[i] + (1 - b1) * g;                         // m = β1·m + (1 − β1)·g
      v[i] = b2 * v[i] + (1 - b2) * g * g;                     // v = β2·v + (1 − β2)·g²
      T second = v[i];
      if (v_max) second = v_max[i] = std::max(v_max[i], v[i]);  // amsgrad: the running max of v
      w[i] -= lr_size * m[i] / (std::sqrt(second) / bc2 + eps);  // p = p − lr/(1−β1ᵗ)·m/(√v̂/√(1−β2ᵗ) + eps)
    }
  });
}

}  // namespace nl::optim
