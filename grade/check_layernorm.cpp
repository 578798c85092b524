// The layernorm exercise's checks: layernorm_forward against nl::layer_norm
// (y) and nl::layer_norm_forward (mean, rstd); layernorm_backward against
// nl::layer_norm with autograd and against central differences of
// nl::layer_norm in float64; on shapes with one row, one feature, odd sizes
// and a mean of 1e4.
#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/tensor.h"
#include "grade/api/layernorm.h"
#include "grade/exercises.h"
#include "grade/norm_checks.h"
#include "grade/norm_math.h"

namespace nl::grade {

namespace {

const char* const kUnbiased =
    "unbiased variance used to normalize (÷ (D − 1)): LayerNorm divides the sum of squares by D";
const char* const kWrongAxis =
    "normalized over the rows (the batch), per feature: that is BatchNorm; LayerNorm normalizes each row over its D "
    "features";
const BackwardMessages kBackwardMessages = {
    .no_stat_terms =
        "dx = rstd·dxhat treats the mean and the variance as constants (that is eval-mode BatchNorm's gradient); in "
        "LayerNorm both depend on x: the Σ dxhat and x̂·mean(dxhat·x̂) terms are missing",
    .no_sum_term =
        "dx rows do not sum to zero: the Σ dxhat term is missing. x_ij also moves its row's mean, which every xhat_ij "
        "of the row subtracts: dx needs − (1/D)·Σ_j dxhat_ij",
    .no_xhat_term =
        "the x̂·mean(dxhat·x̂) term is missing. x_ij also moves its row's variance, which every xhat_ij of the row "
        "divides by: dx needs − xhat_ij·(1/D)·Σ_j dxhat_ij·xhat_ij",
    .no_gamma = "dxhat = dy·gamma: gamma is missing from dxhat (the chain rule through y = gamma·xhat + beta)",
    .dgamma_formula = "dgamma = Σ_i dy_ij·xhat_ij",
    .dbeta_formula = "dbeta = Σ_i dy_ij",
};

struct Lib {
  Vec y, mean, rstd, dx, dgamma, dbeta;
};

Tensor t(const Vec& v, Shape s) { return from_vector<double>(v, s); }

// normlab's fused LayerNorm in float64, forward and (autograd) backward.
Lib library(const Vec& x, const Vec& gamma, const Vec& beta, const Vec& dy, int N, int D, double eps) {
  Tensor xt = t(x, {N, D}), gt = t(gamma, {D}), bt = t(beta, {D});
  xt.requires_grad_();
  gt.requires_grad_();
  bt.requires_grad_();
  Tensor y = layer_norm(xt, {D}, gt, bt, eps);
  y.backward(t(dy, {N, D}));
  NormForward f;
  {
    NoGradGuard no_grad;
    f = layer_norm_forward(t(x, {N, D}), {D}, t(gamma, {D}), t(beta, {D}), eps);
  }
  return {y.to_vector<double>(),         f.mean.to_vector<double>(),    f.rstd.to_vector<double>(),
          xt.grad().to_vector<double>(), gt.grad().to_vector<double>(), bt.grad().to_vector<double>()};
}

// L = Σ dy·y with y = nl::layer_norm(x; gamma, beta): its gradients are dx, dgamma, dbeta.
double loss(const Vec& x, const Vec& gamma, const Vec& beta, const Vec& dy, int N, int D, double eps) {
  NoGradGuard no_grad;
  return dot(dy, layer_norm(t(x, {N, D}), {D}, t(gamma, {D}), t(beta, {D}), eps).to_vector<double>());
}

}  // namespace

void run_layernorm(void* library_handle, Grader& grader) {
  auto* forward = load<decltype(layernorm_forward)>(library_handle, "layernorm_forward", grader);
  auto* backward = load<decltype(layernorm_backward)>(library_handle, "layernorm_backward", grader);
  const std::vector<Case> cases = row_norm_cases(1e-5);
  std::mt19937_64 rng(21);
  for (const Case& c : cases) {
    const int N = c.rows, D = c.cols;
    const size_t nd = size_t(N) * D;
    const std::string text = case_text(c, "N", "D");
    const Vec x = normal(rng, nd, c.offset, 1.0);
    const Vec gamma = normal(rng, size_t(D), 1.0, 0.5), beta = normal(rng, size_t(D), 0.0, 0.5);
    const Vec dy = normal(rng, nd);
    const Lib lib = library(x, gamma, beta, dy, N, D, c.eps);
    const Layout L{N, D, true};
    grader.set_group_size(D);

    if (forward) {
      Vec y = unwritten(nd), mean = unwritten(size_t(N)), rstd = unwritten(size_t(N));
      forward(x.data(), gamma.data(), beta.data(), N, D, c.eps, y.data(), mean.data(), rstd.data());
      auto fwd = [&](ForwardOptions o) { return norm_forward(L, x, gamma, beta, c.eps, o); };
      const Forward unb = fwd({.unbiased = true}), out = fwd({.eps_outside = true}), noe = fwd({.no_eps = true});
      const Forward axis = norm_forward(Layout{D, N, false}, x, gamma, beta, c.eps);
      const Forward swapped = norm_forward(L, x, beta, gamma, c.eps);
      grader.run({"layernorm_forward",
                  "y",
                  "nl::layer_norm",
                  text,
                  {N, D},
                  1e-7,
                  lib.y,
                  y,
                  {{kUnbiased, unb.y},
                   {kEpsOutside, out.y},
                   {kNoEps, noe.y},
                   {kWrongAxis, axis.y},
                   {"gamma and beta are swapped: y = gamma·xhat + beta", swapped.y}}});
      grader.run({"layernorm_forward", "mean", "nl::layer_norm_forward", text, {N}, 1e-7, lib.mean, mean});
      Vec std_ = Vec(size_t(N)), inv_var = Vec(size_t(N));
      for (int i = 0; i < N; ++i)
        std_[size_t(i)] = 1 / lib.rstd[size_t(i)], inv_var[size_t(i)] = lib.rstd[size_t(i)] * lib.rstd[size_t(i)];
      grader.run({"layernorm_forward",
                  "rstd",
                  "nl::layer_norm_forward",
                  text,
                  {N},
                  1e-7,
                  lib.rstd,
                  rstd,
                  {{"rstd holds √(var + eps), the standard deviation; it should be its inverse 1/√(var + eps)", std_},
                   {"rstd holds 1/(var + eps): the square root is missing", inv_var},
                   {kUnbiased, unb.rstd},
                   {kEpsOutside, out.rstd},
                   {kNoEps, noe.rstd}}});
    }
    if (backward) {
      Vec dx = unwritten(nd), dgamma = unwritten(size_t(D)), dbeta = unwritten(size_t(D));
      backward(dy.data(), x.data(), gamma.data(), lib.mean.data(), lib.rstd.data(), N, D, dx.data(), dgamma.data(),
               dbeta.data());
      auto backward_with = [&](BackwardOptions o) { return norm_backward(L, dy, x, gamma, lib.mean, lib.rstd, o); };
      NormBackwardCase check{"layernorm_backward", "nl::layer_norm + autograd", text, {N, D}, {D}};
      check.structure = [L](const Vec& got) { return groups_sum_to_zero(L, got, kBackwardMessages.no_sum_term); };
      if (nd <= 128 && c.offset < 100) {
        check.loss = [&](const Vec& at_x, const Vec& at_gamma) { return loss(at_x, at_gamma, beta, dy, N, D, c.eps); };
        check.numeric_dgamma = true;
      }
      check_norm_backward(grader, check, {lib.dx, lib.dgamma, lib.dbeta}, {dx, dgamma, dbeta},
                          centered_backward_variants(backward_with, kBackwardMessages), x, gamma);
    }
  }
}

}  // namespace nl::grade
