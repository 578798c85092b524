// The rmsnorm exercise's checks: rmsnorm_backward against nl::rms_norm with
// autograd and against central differences of nl::rms_norm in float64, with
// the rstd of nl::rms_norm_forward; on shapes with one row, one feature, odd
// sizes and a mean of 1e4.
#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/tensor.h"
#include "grade/api/rmsnorm.h"
#include "grade/exercises.h"
#include "grade/norm_checks.h"
#include "grade/norm_math.h"

namespace nl::grade {

namespace {

const char* const kNoXhatTerm =
    "the x̂·mean(dxhat·x̂) term is missing: x_ij also moves its row's rms, which every xhat_ij divides by, so dx "
    "needs − xhat_ij·(1/D)·Σ_j dxhat_ij·xhat_ij";
const char* const kSumTerm =
    "dx subtracts (1/D)·Σ_j dxhat_ij, LayerNorm's term for the path through the mean: RMSNorm does not subtract "
    "a mean, so that term is not there";
const char* const kNoGamma = "dxhat = dy·gamma: gamma is missing from dxhat";

Tensor t(const Vec& v, Shape s) { return from_vector<double>(v, s); }

double loss(const Vec& x, const Vec& gamma, const Vec& dy, int N, int D, double eps) {
  NoGradGuard no_grad;
  return dot(dy, rms_norm(t(x, {N, D}), {D}, t(gamma, {D}), eps).to_vector<double>());
}

}  // namespace

void run_rmsnorm(void* library_handle, Grader& grader) {
  auto* backward = load<decltype(rmsnorm_backward)>(library_handle, "rmsnorm_backward", grader);
  if (!backward) return;
  const std::vector<Case> cases = row_norm_cases(1e-6);
  std::mt19937_64 rng(2019);
  for (const Case& c : cases) {
    const int N = c.rows, D = c.cols;
    const size_t nd = size_t(N) * D;
    const std::string text = case_text(c, "N", "D");
    const Vec x = normal(rng, nd, c.offset, 1.0);
    const Vec gamma = normal(rng, size_t(D), 1.0, 0.5), dy = normal(rng, nd);
    Tensor xt = t(x, {N, D}), gt = t(gamma, {D});
    xt.requires_grad_();
    gt.requires_grad_();
    rms_norm(xt, {D}, gt, c.eps).backward(t(dy, {N, D}));
    Vec rstd;
    {
      NoGradGuard no_grad;
      rstd = rms_norm_forward(t(x, {N, D}), {D}, t(gamma, {D}), c.eps).rstd.to_vector<double>();
    }
    const Vec lib_dx = xt.grad().to_vector<double>(), lib_dgamma = gt.grad().to_vector<double>();

    Vec dx = unwritten(nd), dgamma = unwritten(size_t(D));
    backward(dy.data(), x.data(), gamma.data(), rstd.data(), N, D, dx.data(), dgamma.data());
    const Layout L{N, D, true};
    grader.set_group_size(D);
    const Vec zero_mean;  // RMSNorm: xhat = x·rstd
    auto backward_with = [&](BackwardOptions o) { return norm_backward(L, dy, x, gamma, zero_mean, rstd, o); };
    const BackwardVariants variants = {
        .dx = {{kNoXhatTerm, backward_with({.sum_term = false, .xhat_term = false}).dx},
               {kSumTerm, backward_with({.sum_term = true}).dx},
               {kNoGamma, backward_with({.sum_term = false, .gamma_in_dxhat = false}).dx}},
        .dgamma = {{"dgamma = Σ_i dy_ij·xhat_ij: it uses x where it should use xhat = x·rstd",
                    backward_with({.sum_term = false, .dgamma_from_x = true}).dgamma},
                   {"dgamma = Σ_i dy_ij·xhat_ij, without a factor gamma",
                    backward_with({.sum_term = false, .dgamma_times_gamma = true}).dgamma}}};
    NormBackwardCase check{"rmsnorm_backward", "nl::rms_norm + autograd", text, {N, D}, {D}};
    if (nd <= 128 && c.offset < 100) {
      check.loss = [&](const Vec& at_x, const Vec& at_gamma) { return loss(at_x, at_gamma, dy, N, D, c.eps); };
      check.numeric_dgamma = true;
    }
    // RMSNorm has no beta: empty dbeta, not checked.
    check_norm_backward(grader, check, {lib_dx, lib_dgamma, {}}, {dx, dgamma, {}}, variants, x, gamma);
  }
}

}  // namespace nl::grade
