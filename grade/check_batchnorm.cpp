// The batchnorm exercise's checks: batchnorm_forward_train (y, mean, rstd and
// the running statistics) and batchnorm_forward_eval against nl::batch_norm,
// batchnorm_backward against nl::batch_norm with autograd and against central
// differences of it in float64; eval output checked not to depend on the rest
// of the batch. Shapes: the smallest batch (N = 2), one channel, odd sizes, a
// mean of 1e4.
#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/tensor.h"
#include "grade/api/batchnorm.h"
#include "grade/exercises.h"
#include "grade/norm_checks.h"
#include "grade/norm_math.h"

namespace nl::grade {

namespace {

const char* const kUnbiased =
    "unbiased variance used to normalize (÷ (N − 1)): BatchNorm normalizes with the biased variance (÷ N) and "
    "keeps the unbiased one only for running_var";
const char* const kWrongAxis =
    "normalized each sample over its channels: that is LayerNorm; BatchNorm normalizes each channel over the batch";
const char* const kBiasedRunning =
    "running_var updated with the biased variance: PyTorch (and normlab) update it with the unbiased one, "
    "var·N/(N − 1)";
const char* const kSwappedMomentum =
    "the momentum weights are swapped: running ← (1 − momentum)·running + momentum·batch statistic";
const BackwardMessages kBackwardMessages = {
    .no_stat_terms =
        "dx = rstd·dxhat treats the batch mean and variance as constants: that is the eval-mode gradient; in training "
        "both depend on x (the Σ dxhat and x̂·mean(dxhat·x̂) terms are missing)",
    .no_sum_term =
        "dx does not sum to zero over the batch for each channel: the Σ dxhat term is missing. x_nc also moves the "
        "channel's batch mean, which every xhat_nc subtracts: dx needs − (1/N)·Σ_n dxhat_nc",
    .no_xhat_term =
        "the x̂·mean(dxhat·x̂) term is missing. x_nc also moves the channel's batch variance: dx needs "
        "− xhat_nc·(1/N)·Σ_n dxhat_nc·xhat_nc",
    .no_gamma = "dxhat = dy·gamma: gamma is missing from dxhat",
    .dgamma_formula = "dgamma = Σ_n dy_nc·xhat_nc",
    .dbeta_formula = "dbeta = Σ_n dy_nc",
};
const char* const kBatchStatsInEval =
    "batch statistics used in eval: a sample's output must not depend on the rest of the batch; normalize with "
    "running_mean and running_var";

Tensor t(const Vec& v, Shape s) { return from_vector<double>(v, s); }

struct Lib {
  Vec y, mean, rstd, running_mean, running_var, dx, dgamma, dbeta, y_eval;
};

Lib library(const Vec& x, const Vec& gamma, const Vec& beta, const Vec& dy, const Vec& rm, const Vec& rv, int N, int C,
            double eps, double momentum) {
  Lib r;
  Tensor xt = t(x, {N, C}), gt = t(gamma, {C}), bt = t(beta, {C}), rmt = t(rm, {C}), rvt = t(rv, {C});
  xt.requires_grad_();
  gt.requires_grad_();
  bt.requires_grad_();
  Tensor y = batch_norm(xt, rmt, rvt, gt, bt, true, momentum, eps);
  y.backward(t(dy, {N, C}));
  r.y = y.to_vector<double>();
  r.running_mean = rmt.to_vector<double>();
  r.running_var = rvt.to_vector<double>();
  r.dx = xt.grad().to_vector<double>();
  r.dgamma = gt.grad().to_vector<double>();
  r.dbeta = bt.grad().to_vector<double>();
  NoGradGuard no_grad;
  NormForward f =
      batch_norm_forward(t(x, {N, C}), t(rm, {C}), t(rv, {C}), t(gamma, {C}), t(beta, {C}), true, momentum, eps);
  r.mean = f.mean.to_vector<double>();
  r.rstd = f.rstd.to_vector<double>();
  r.y_eval = batch_norm(t(x, {N, C}), t(rm, {C}), t(rv, {C}), t(gamma, {C}), t(beta, {C}), false, momentum, eps)
                 .to_vector<double>();
  return r;
}

double loss(const Vec& x, const Vec& gamma, const Vec& beta, const Vec& dy, int N, int C, double eps) {
  NoGradGuard no_grad;
  return dot(
      dy,
      batch_norm(t(x, {N, C}), Tensor(), Tensor(), t(gamma, {C}), t(beta, {C}), true, 0.1, eps).to_vector<double>());
}

Vec blend(const Vec& running, const Vec& batch, double w_running, double w_batch) {
  Vec r(running.size());
  for (size_t i = 0; i < r.size(); ++i) r[i] = w_running * running[i] + w_batch * batch[i];
  return r;
}

}  // namespace

void run_batchnorm(void* library_handle, Grader& grader) {
  auto* forward = load<decltype(batchnorm_forward_train)>(library_handle, "batchnorm_forward_train", grader);
  auto* backward = load<decltype(batchnorm_backward)>(library_handle, "batchnorm_backward", grader);
  auto* eval = load<decltype(batchnorm_forward_eval)>(library_handle, "batchnorm_forward_eval", grader);
  const Case cases[] = {
      {6, 4, 0.0, 1e-5, "small"},          {2, 5, 0.0, 1e-5, "batch of 2"}, {9, 1, 0.0, 1e-5, "one channel"},
      {7, 13, 0.5, 0.1, "odd, large eps"}, {16, 8, 1e4, 1e-5, "mean 1e4"},  {64, 32, 0.0, 1e-5, "large batch"},
  };
  const double momentum = 0.1;
  std::mt19937_64 rng(231);
  for (const Case& c : cases) {
    const int N = c.rows, C = c.cols;
    const size_t nc = size_t(N) * C;
    const std::string text = case_text(c, "N", "C");
    const Vec x = normal(rng, nc, c.offset, 1.0);
    const Vec gamma = normal(rng, size_t(C), 1.0, 0.5), beta = normal(rng, size_t(C), 0.0, 0.5);
    const Vec dy = normal(rng, nc);
    Vec rm = normal(rng, size_t(C), c.offset, 0.5), rv = normal(rng, size_t(C), 0.0, 1.0);
    for (double& v : rv) v = 0.5 + v * v;
    const Lib lib = library(x, gamma, beta, dy, rm, rv, N, C, c.eps, momentum);
    const Layout L{C, N, false};
    grader.set_group_size(N);

    if (forward) {
      Vec y = unwritten(nc), mean = unwritten(size_t(C)), rstd = unwritten(size_t(C));
      Vec run_mean = rm, run_var = rv;
      forward(x.data(), gamma.data(), beta.data(), N, C, c.eps, momentum, y.data(), mean.data(), rstd.data(),
              run_mean.data(), run_var.data());
      auto fwd = [&](ForwardOptions o) { return norm_forward(L, x, gamma, beta, c.eps, o); };
      const Forward right = fwd({}), unb = fwd({.unbiased = true}), out = fwd({.eps_outside = true}),
                    noe = fwd({.no_eps = true});
      const Forward axis = norm_forward(Layout{N, C, true}, x, gamma, beta, c.eps);
      grader.run({"batchnorm_forward_train",
                  "y",
                  "nl::batch_norm",
                  text,
                  {N, C},
                  1e-7,
                  lib.y,
                  y,
                  {{kUnbiased, unb.y}, {kEpsOutside, out.y}, {kNoEps, noe.y}, {kWrongAxis, axis.y}}});
      grader.run({"batchnorm_forward_train", "mean", "nl::batch_norm_forward", text, {C}, 1e-7, lib.mean, mean});
      grader.run({"batchnorm_forward_train",
                  "rstd",
                  "nl::batch_norm_forward",
                  text,
                  {C},
                  1e-7,
                  lib.rstd,
                  rstd,
                  {{kUnbiased, unb.rstd}, {kEpsOutside, out.rstd}, {kNoEps, noe.rstd}}});
      Vec unbiased_var = Vec(size_t(C));
      for (int k = 0; k < C; ++k) unbiased_var[size_t(k)] = right.var[size_t(k)] * N / (N - 1);
      Vec unbiased_var_twice = unbiased_var;
      for (double& v : unbiased_var_twice) v *= double(N) / (N - 1);
      grader.run(
          {"batchnorm_forward_train",
           "running_mean",
           "nl::batch_norm",
           text,
           {C},
           1e-7,
           lib.running_mean,
           run_mean,
           {{kSwappedMomentum, blend(rm, right.mean, momentum, 1 - momentum)}, {"running_mean was not updated", rm}}});
      grader.run({"batchnorm_forward_train",
                  "running_var",
                  "nl::batch_norm",
                  text,
                  {C},
                  1e-7,
                  lib.running_var,
                  run_var,
                  {{kBiasedRunning, blend(rv, right.var, 1 - momentum, momentum)},
                   {kSwappedMomentum, blend(rv, unbiased_var, momentum, 1 - momentum)},
                   {"running_var got the factor N/(N − 1) twice: the variance was already unbiased (÷ (N − 1)); "
                    "normalize with the biased variance and correct only running_var's update",
                    blend(rv, unbiased_var_twice, 1 - momentum, momentum)},
                   {"running_var was not updated", rv}}});
    }
    if (backward) {
      Vec dx = unwritten(nc), dgamma = unwritten(size_t(C)), dbeta = unwritten(size_t(C));
      backward(dy.data(), x.data(), gamma.data(), lib.mean.data(), lib.rstd.data(), N, C, dx.data(), dgamma.data(),
               dbeta.data());
      auto backward_with = [&](BackwardOptions o) { return norm_backward(L, dy, x, gamma, lib.mean, lib.rstd, o); };
      NormBackwardCase check{"batchnorm_backward", "nl::batch_norm + autograd", text, {N, C}, {C}};
      check.structure = [L](const Vec& got) { return groups_sum_to_zero(L, got, kBackwardMessages.no_sum_term); };
      if (nc <= 128 && c.offset < 100)
        check.loss = [&](const Vec& at_x, const Vec& at_gamma) { return loss(at_x, at_gamma, beta, dy, N, C, c.eps); };
      check_norm_backward(grader, check, {lib.dx, lib.dgamma, lib.dbeta}, {dx, dgamma, dbeta},
                          centered_backward_variants(backward_with, kBackwardMessages), x, gamma);
    }
    if (eval) {
      Vec y = unwritten(nc);
      eval(x.data(), gamma.data(), beta.data(), rm.data(), rv.data(), N, C, c.eps, y.data());
      const Forward batch_stats = norm_forward(L, x, gamma, beta, c.eps);
      Vec sqrt_missing(nc);
      for (int n = 0; n < N; ++n)
        for (int k = 0; k < C; ++k)
          sqrt_missing[size_t(n) * C + k] =
              gamma[size_t(k)] * (x[size_t(n) * C + k] - rm[size_t(k)]) / (rv[size_t(k)] + c.eps) + beta[size_t(k)];
      // Sample 0 once more, with the rest of the batch drawn anew: its output must not move.
      auto structure = [&, N, C](const Vec& got) -> std::vector<std::string> {
        std::mt19937_64 other(7);
        Vec x2 = normal(other, nc, c.offset + 3.0, 2.0), y2 = unwritten(nc);
        for (int k = 0; k < C; ++k) x2[size_t(k)] = x[size_t(k)];
        eval(x2.data(), gamma.data(), beta.data(), rm.data(), rv.data(), N, C, c.eps, y2.data());
        for (int k = 0; k < C; ++k)
          if (rel_error(y2[size_t(k)], got[size_t(k)]) > 1e-12) return {kBatchStatsInEval};
        return {};
      };
      grader.run(
          {"batchnorm_forward_eval",
           "y",
           "nl::batch_norm (eval)",
           text,
           {N, C},
           1e-7,
           lib.y_eval,
           y,
           {{kBatchStatsInEval, batch_stats.y},
            {"running_var is a variance: divide by √(running_var + eps), not by running_var + eps", sqrt_missing}},
           structure});
    }
  }
}

}  // namespace nl::grade
