// The groupnorm exercise's checks: groupnorm_backward against nl::group_norm
// with autograd and against central differences of nl::group_norm in float64,
// given the mean and rstd of nl::layer_norm_forward on the N·G groups (what
// nl::group_norm computes); on shapes with one sample, G = 1 (LayerNorm), G = C
// with one position (a group of one value), odd sizes and a mean of 1e4.
#include <fmt/core.h>

#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/tensor.h"
#include "grade/api/groupnorm.h"
#include "grade/exercises.h"
#include "grade/norm_checks.h"
#include "grade/norm_math.h"

namespace nl::grade {

namespace {

const BackwardMessages kBackwardMessages = {
    .no_stat_terms =
        "dx = rstd·dxhat treats the group's mean and variance as constants: the Σ dxhat and x̂·mean(dxhat·x̂) terms are "
        "missing",
    .no_sum_term =
        "dx does not sum to zero over each sample's group: the Σ dxhat term is missing. x also moves its group's mean: "
        "dx needs − (1/M)·Σ dxhat over the group's M = C/G·L values",
    .no_xhat_term =
        "the x̂·mean(dxhat·x̂) term is missing: x also moves its group's variance, so dx needs − xhat·(1/M)·Σ dxhat·xhat "
        "over the group",
    .no_gamma = "dxhat = dy·gamma_c: gamma is missing from dxhat",
    .dgamma_formula = "dgamma_c = Σ dy·xhat",
    .dgamma_over = " over the channel's values in every sample",
    .dbeta_formula = "dbeta_c = Σ dy",
};
const char* const kCountWithoutL =
    "the group's count is taken as C/G: a group holds M = C/G · L values (its channels at every position), and the "
    "formula's 1/M and M·dxhat need that M";

Tensor t(const Vec& v, Shape s) { return from_vector<double>(v, s); }

double loss(const Vec& x, const Vec& gamma, const Vec& beta, const Vec& dy, int N, int C, int L, int G, double eps) {
  NoGradGuard no_grad;
  return dot(dy, group_norm(t(x, {N, C, L}), G, t(gamma, {C}), t(beta, {C}), eps).to_vector<double>());
}

struct GroupCase {
  int N, C, L, G;
  double offset, eps;
  const char* note;
};

}  // namespace

void run_groupnorm(void* library_handle, Grader& grader) {
  auto* backward = load<decltype(groupnorm_backward)>(library_handle, "groupnorm_backward", grader);
  if (!backward) return;
  const GroupCase cases[] = {
      {2, 4, 3, 2, 0.0, 1e-5, "small"},    {1, 6, 5, 3, 0.0, 1e-5, "one sample"},
      {3, 4, 1, 4, 0.0, 1e-5, "G=C, L=1"}, {2, 6, 7, 1, 0.5, 0.1, "G=1, large eps"},
      {2, 8, 9, 4, 1e4, 1e-5, "mean 1e4"}, {4, 16, 16, 8, 0.0, 1e-5, "wide"},
  };
  std::mt19937_64 rng(2018);
  for (const GroupCase& c : cases) {
    const int N = c.N, C = c.C, L = c.L, G = c.G, M = C / G * L;
    const size_t size = size_t(N) * C * L;
    const std::string text = fmt::format("N={} C={} L={} G={}, {}", N, C, L, G, c.note);
    const Vec x = normal(rng, size, c.offset, 1.0);
    const Vec gamma = normal(rng, size_t(C), 1.0, 0.5), beta = normal(rng, size_t(C), 0.0, 0.5);
    const Vec dy = normal(rng, size);
    Tensor xt = t(x, {N, C, L}), gt = t(gamma, {C}), bt = t(beta, {C});
    xt.requires_grad_();
    gt.requires_grad_();
    bt.requires_grad_();
    group_norm(xt, G, gt, bt, c.eps).backward(t(dy, {N, C, L}));
    Vec mean, rstd;
    {
      NoGradGuard no_grad;
      NormForward f = layer_norm_forward(t(x, {N * G, M}), {M}, Tensor(), Tensor(), c.eps);
      mean = f.mean.to_vector<double>();
      rstd = f.rstd.to_vector<double>();
    }
    const Vec lib_dx = xt.grad().to_vector<double>(), lib_dgamma = gt.grad().to_vector<double>(),
              lib_dbeta = bt.grad().to_vector<double>();

    Vec dx = unwritten(size), dgamma = unwritten(size_t(C)), dbeta = unwritten(size_t(C));
    backward(dy.data(), x.data(), gamma.data(), mean.data(), rstd.data(), N, C, L, G, dx.data(), dgamma.data(),
             dbeta.data());
    const Layout lay{N * G, M, true, C / G, L, C};
    grader.set_group_size(M);
    auto backward_with = [&](BackwardOptions o) { return norm_backward(lay, dy, x, gamma, mean, rstd, o); };
    BackwardVariants variants = centered_backward_variants(backward_with, kBackwardMessages);
    variants.dx.push_back({kCountWithoutL, backward_with({.count = C / G}).dx});
    NormBackwardCase check{"groupnorm_backward", "nl::group_norm + autograd", text, {N, C, L}, {C}};
    check.structure = [lay](const Vec& got) { return groups_sum_to_zero(lay, got, kBackwardMessages.no_sum_term); };
    if (size <= 128 && c.offset < 100)
      check.loss = [&](const Vec& at_x, const Vec& at_gamma) {
        return loss(at_x, at_gamma, beta, dy, N, C, L, G, c.eps);
      };
    check_norm_backward(grader, check, {lib_dx, lib_dgamma, lib_dbeta}, {dx, dgamma, dbeta}, variants, x, gamma);
  }
}

}  // namespace nl::grade
