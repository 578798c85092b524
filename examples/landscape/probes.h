#pragma once
// The measurements of Santurkar et al. 2018 ("How Does Batch Normalization
// Help Optimization?"), taken on a models::MLP at a training step, on that
// step's batch, with the model left exactly as it was found (parameters and
// BatchNorm's running statistics restored).
//
// Along the gradient (their Figure 4): with g = ∇L(θ) and steps η,
//   loss landscape           L(θ − η·g)
//   gradient predictiveness  ‖∇L(θ − η·g) − g‖₂
//   effective β-smoothness   max over η of ‖∇L(θ − η·g) − g‖₂ / ‖η·g‖₂
// (the largest change of the gradient per unit of distance moved: a local
// Lipschitz constant of the gradient).
//
// Internal covariate shift, their gradient-based Definition 2.1: for each
// Linear layer i, G_i = ∇_{W_i} L(θ), and G'_i the same gradient after every
// layer before i took its SGD step θ_j − lr·∇_j L (the layers from i on
// unchanged). ICS_i = ‖G_i − G'_i‖₂; also ‖G_i − G'_i‖ / ‖G_i‖ and the cosine
// of G_i and G'_i. "Before i" is by the MLP's child index, so a hidden
// layer's norm belongs to its layer.
#include <vector>

#include "normlab.h"

namespace landscape {

// The smallest and largest of some values (a band over η).
struct Band {
  double lo, hi;
};

struct GradientProbe {
  double loss = 0, grad_norm = 0;    // L(θ) and ‖g‖ at the probed point
  std::vector<double> etas;          // the steps η
  std::vector<double> losses;        // L(θ − η·g), one per η
  std::vector<double> grad_changes;  // ‖∇L(θ − η·g) − g‖
  Band loss_band() const;            // min and max of losses
  Band grad_change_band() const;     // min and max of grad_changes
  double beta_smoothness() const;    // max of grad_changes / (η‖g‖)
};

struct CovariateShiftProbe {
  std::vector<double> l2, relative, cosine;  // per Linear layer, first to last
};

// The probe along the gradient, with η = lr · each of step_multiples.
GradientProbe probe_gradient(nl::models::MLP& model, const nl::Tensor& x, const nl::Tensor& y, double lr,
                             const std::vector<double>& step_multiples);

// The covariate shift of every Linear layer under one SGD step of size lr.
CovariateShiftProbe probe_covariate_shift(nl::models::MLP& model, const nl::Tensor& x, const nl::Tensor& y, double lr);

}  // namespace landscape
