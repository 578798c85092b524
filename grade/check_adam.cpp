// The adam exercise's checks: adam_step run for several steps against
// nl::optim::Adam on a float64 parameter with the same gradients; param, m
// (exp_avg) and v (exp_avg_sq) compared after the first step and after the
// last (param as the update param − param₀); with one parameter, weight decay, gradients small enough that eps
// matters, and other betas.
#include <fmt/core.h>

#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/tensor.h"
#include "grade/api/adam.h"
#include "grade/exercises.h"
#include "optim/adam.h"

namespace nl::grade {

namespace {

struct AdamCase {
  int n, steps;
  double lr, beta1, beta2, eps, weight_decay, grad_scale;
  const char* note;
};

// The update, right and wrong, in plain loops.
struct Mistakes {
  bool no_bias_correction = false;
  bool eps_inside_sqrt = false;
  bool decoupled_decay = false;  // AdamW's
  bool v_without_square = false;
  bool betas_swapped = false;  // β1·g + (1 − β1)·m
};
struct State {
  Vec param, m, v;
};
State plain_adam(const AdamCase& c, const Vec& p0, const std::vector<Vec>& grads, int steps, Mistakes w) {
  State s{p0, Vec(p0.size()), Vec(p0.size())};
  for (int t = 1; t <= steps; ++t) {
    const double c1 = w.no_bias_correction ? 1 : 1 - std::pow(c.beta1, t);
    const double c2 = w.no_bias_correction ? 1 : 1 - std::pow(c.beta2, t);
    for (size_t i = 0; i < p0.size(); ++i) {
      double g = grads[size_t(t - 1)][i];
      if (w.decoupled_decay)
        s.param[i] *= 1 - c.lr * c.weight_decay;
      else
        g += c.weight_decay * s.param[i];
      s.m[i] = w.betas_swapped ? c.beta1 * g + (1 - c.beta1) * s.m[i] : c.beta1 * s.m[i] + (1 - c.beta1) * g;
      s.v[i] = c.beta2 * s.v[i] + (1 - c.beta2) * (w.v_without_square ? g : g * g);
      const double denom = w.eps_inside_sqrt ? std::sqrt(s.v[i] / c2 + c.eps) : std::sqrt(s.v[i] / c2) + c.eps;
      s.param[i] -= c.lr * (s.m[i] / c1) / denom;
    }
  }
  return s;
}

// normlab's Adam on the same parameter and gradients.
State library(const AdamCase& c, const Vec& p0, const std::vector<Vec>& grads, int steps) {
  Tensor p = from_vector<double>(p0, {int64_t(p0.size())});
  p.requires_grad_();
  optim::Adam adam(
      {p}, optim::AdamOptions{.lr = c.lr, .betas = {c.beta1, c.beta2}, .eps = c.eps, .weight_decay = c.weight_decay});
  for (int t = 1; t <= steps; ++t) {
    sum(p * from_vector<double>(grads[size_t(t - 1)], {int64_t(p0.size())})).backward();  // grad = grads[t − 1]
    adam.step();
    adam.zero_grad();
  }
  const StateDict state = adam.state_dict();
  return {p.to_vector<double>(), state.at("state.0.exp_avg").to_vector<double>(),
          state.at("state.0.exp_avg_sq").to_vector<double>()};
}

}  // namespace

void run_adam(void* library_handle, Grader& grader) {
  auto* student = load<decltype(adam_step)>(library_handle, "adam_step", grader);
  if (!student) return;
  const AdamCase cases[] = {
      {7, 5, 1e-3, 0.9, 0.999, 1e-8, 0.0, 1.0, "default"},
      {1, 5, 1e-3, 0.9, 0.999, 1e-8, 0.0, 1.0, "one parameter"},
      {33, 5, 1e-2, 0.9, 0.999, 1e-8, 0.1, 1.0, "weight decay 0.1"},
      {16, 5, 1e-3, 0.9, 0.999, 1e-3, 0.0, 1e-3, "grads ~1e-3, eps 1e-3"},
      {64, 10, 1e-2, 0.8, 0.99, 1e-8, 0.01, 1.0, "betas 0.8, 0.99"},
  };
  std::mt19937_64 rng(2015);
  for (const AdamCase& c : cases) {
    const Vec p0 = normal(rng, size_t(c.n));
    std::vector<Vec> grads;
    for (int t = 0; t < c.steps; ++t) grads.push_back(normal(rng, size_t(c.n), 0.0, c.grad_scale));
    Vec param = p0, m(size_t(c.n), 0.0), v(size_t(c.n), 0.0);
    for (int t = 1; t <= c.steps; ++t) {
      student(param.data(), grads[size_t(t - 1)].data(), m.data(), v.data(), c.n, t, c.lr, c.beta1, c.beta2, c.eps,
              c.weight_decay);
      if (t != 1 && t != c.steps) continue;
      const State lib = library(c, p0, grads, t);
      const std::string text = fmt::format("n={}, {}, after step {}", c.n, c.note, t);
      auto variant = [&](Mistakes w) { return plain_adam(c, p0, grads, t, w); };
      const State no_bias = variant({.no_bias_correction = true}), inside = variant({.eps_inside_sqrt = true}),
                  decoupled = variant({.decoupled_decay = true}), no_square = variant({.v_without_square = true}),
                  swapped = variant({.betas_swapped = true});
      const char* const kNoBias =
          "the bias correction is missing: m and v start at zero, so Adam divides them by 1 − β1ᵗ and 1 − β2ᵗ "
          "(which matters most at the first steps)";
      const char* const kInside = "eps is inside the square root: param −= lr·m̂ / (√v̂ + eps), not / √(v̂ + eps)";
      const char* const kDecoupled =
          "weight decay applied as AdamW's decoupled decay (param ·= 1 − lr·weight_decay); Adam adds "
          "weight_decay·param to the gradient";
      const char* const kNoSquare = "v = β2·v + (1 − β2)·g²: the square is missing";
      const char* const kSwapped = "m = β1·m + (1 − β1)·g: the weights of m and g are swapped";
      const char* const kNan = "a bias correction of 0? t counts from 1, and 1 − β^t is 0 at t = 0";
      // The update param − param₀, not param itself: an error in a step of size lr is then not hidden by |param|.
      auto update = [&](const Vec& p) {
        Vec d(p.size());
        for (size_t i = 0; i < d.size(); ++i) d[i] = p[i] - p0[i];
        return d;
      };
      grader.run({"adam_step",
                  "param - param0",
                  "nl::optim::Adam",
                  text,
                  {c.n},
                  1e-7,
                  update(lib.param),
                  update(param),
                  {{kNoBias, update(no_bias.param)},
                   {kInside, update(inside.param)},
                   {kDecoupled, update(decoupled.param)},
                   {kNoSquare, update(no_square.param)},
                   {kSwapped, update(swapped.param)}},
                  nullptr,
                  kNan});
      grader.run({"adam_step",
                  "m",
                  "nl::optim::Adam exp_avg",
                  text,
                  {c.n},
                  1e-7,
                  lib.m,
                  m,
                  {{kSwapped, swapped.m},
                   {kDecoupled, decoupled.m},
                   {kNoBias, no_bias.m},  // with weight decay, m and v follow the parameter's path
                   {kInside, inside.m},
                   {kNoSquare, no_square.m}},
                  nullptr,
                  kNan});
      grader.run({"adam_step",
                  "v",
                  "nl::optim::Adam exp_avg_sq",
                  text,
                  {c.n},
                  1e-7,
                  lib.v,
                  v,
                  {{kNoSquare, no_square.v},
                   {kDecoupled, decoupled.v},
                   {kNoBias, no_bias.v},
                   {kInside, inside.v},
                   {kSwapped, swapped.v}},
                  nullptr,
                  kNan});
    }
  }
}

}  // namespace nl::grade
