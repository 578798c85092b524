#pragma once
// Plain loops for the norms the exercises ask for, right and wrong: the
// grader computes the typical mistakes itself (unbiased variance, eps outside
// the square root, a missing term of the backward) and names the one a
// student's result matches. The right answers are checked against normlab's
// own kernels (nl::layer_norm, nl::batch_norm, nl::rms_norm) instead.
#include "grade/grader.h"

namespace nl::grade {

// Which elements form a group that is normalized together.
//  per_row (LayerNorm, RMSNorm): x is groups rows of count features; group g is row g,
//    and gamma/beta are per feature.
//  otherwise (BatchNorm): x is count samples of groups channels; group g is channel g,
//    and gamma/beta are per channel.
//  group_channels > 0 (GroupNorm): x is samples of channels·positions values, each
//    sample's channels in groups of group_channels consecutive ones; group g is
//    (sample g / G, group g % G), its count = group_channels·positions values
//    contiguous; gamma/beta are per channel.
struct Layout {
  int groups, count;
  bool per_row;
  int group_channels = 0, positions = 1, channels = 0;
  size_t at(int g, int k) const { return per_row || group_channels ? size_t(g) * count + k : size_t(k) * groups + g; }
  int param(int g, int k) const {
    if (group_channels) return (g % (channels / group_channels)) * group_channels + k / positions;
    return per_row ? k : g;
  }
  int params() const { return group_channels ? channels : per_row ? count : groups; }
};

struct ForwardOptions {
  bool center = true;        // subtract the mean (false: RMSNorm)
  bool unbiased = false;     // normalize with var·n/(n − 1)
  bool eps_outside = false;  // 1/(√var + eps)
  bool no_eps = false;       // 1/√var
};
struct Forward {
  Vec y, mean, rstd, var;  // var: the biased variance (mean square for RMSNorm)
};
// beta may be empty (RMSNorm).
Forward norm_forward(const Layout& L, const Vec& x, const Vec& gamma, const Vec& beta, double eps,
                     ForwardOptions o = {});

struct BackwardOptions {
  bool sum_term = true;   // − Σ dxhat  (LayerNorm, BatchNorm: the path through the mean)
  bool xhat_term = true;  // − xhat·Σ dxhat·xhat  (the path through the variance)
  bool gamma_in_dxhat = true;
  bool dgamma_from_x = false;       // Σ dy·x instead of Σ dy·xhat
  bool dgamma_times_gamma = false;  // Σ dy·xhat·gamma
  bool dbeta_times_gamma = false;   // Σ dy·gamma
  int count = 0;                    // the n of the dx formula, when not the group's size (a wrong count)
};
struct Backward {
  Vec dx, dgamma, dbeta;
};
// mean is ignored (taken as 0) when it is empty (RMSNorm).
Backward norm_backward(const Layout& L, const Vec& dy, const Vec& x, const Vec& gamma, const Vec& mean, const Vec& rstd,
                       BackwardOptions o = {});

}  // namespace nl::grade
