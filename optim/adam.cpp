#include "optim/adam.h"

#include <cmath>

#include "core/kernels/simd.h"
#include "core/parallel.h"

namespace nl::optim {

namespace {
// The per-element update as constants for one step.
template <typename T>
struct AdamStep {
  T b1, b2, eps, lr_size, bc2, decay, shrink;
  bool decoupled;
};

// Elements [lo, hi) of one parameter; the formulas are in adam.h.
template <typename T>
NL_SIMD_CLONES void adam_update(T* w, const T* dw, T* m, T* v, T* v_max, int64_t lo, int64_t hi, AdamStep<T> c) {
  for (int64_t i = lo; i < hi; ++i) {
    T g = dw[i];
    if (c.decoupled)
      w[i] *= c.shrink;  // AdamW: p = p·(1 − lr·wd)
    else
      g += c.decay * w[i];                    // Adam: g = grad + wd·p
    m[i] = c.b1 * m[i] + (1 - c.b1) * g;      // m = β1·m + (1 − β1)·g
    v[i] = c.b2 * v[i] + (1 - c.b2) * g * g;  // v = β2·v + (1 − β2)·g²
    T second = v[i];
    if (v_max) second = v_max[i] = std::max(v_max[i], v[i]);  // amsgrad: the running max of v
    w[i] -= c.lr_size * m[i] / (std::sqrt(second) / c.bc2 + c.eps);  // p = p − lr/(1−β1ᵗ)·m/(√v̂/√(1−β2ᵗ) + eps)
  }
}
}  // namespace

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
  // (not a structured binding: clang before 16 cannot capture one in the lambda below)
  const double beta1 = options.betas.first, beta2 = options.betas.second;
  // bias corrections as PyTorch computes them, in double
  double step_size = group.lr / (1 - std::pow(beta1, double(t)));
  double bias_correction2_sqrt = std::sqrt(1 - std::pow(beta2, double(t)));
  dispatch_update(name().c_str(), p, [&]<typename T>() {
    T* w = p.data<T>();
    const T* dw = grad.data<T>();
    T* m = exp_avg.data<T>();
    T* v = exp_avg_sq.data<T>();
    T* v_max = max_exp_avg_sq.defined() ? max_exp_avg_sq.data<T>() : nullptr;
    AdamStep<T> c{T(beta1),
                  T(beta2),
                  T(options.eps),
                  T(step_size),
                  T(bias_correction2_sqrt),
                  T(group.weight_decay),
                  T(1 - group.lr * group.weight_decay),
                  decoupled_weight_decay};
    parallel_for(0, p.numel(), kParallelGrain,
                 [&](int64_t lo, int64_t hi) { adam_update<T>(w, dw, m, v, v_max, lo, hi, c); });
  });
}

}  // namespace nl::optim
