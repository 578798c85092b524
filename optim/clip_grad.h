#pragma once
// Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_.
#include <limits>
#include <vector>

#include "core/tensor.h"

namespace nl::optim {

// Scales all gradients together so their total norm is at most max_norm:
//   total = (Σ_params ‖grad‖_p^p)^(1/p)   (p = ∞: the largest |grad|)
//   if total > max_norm: grad ← grad · max_norm / (total + 1e-6)
// Returns the total norm before clipping. Parameters without gradients are skipped.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);
inline constexpr double kInfinityNorm = std::numeric_limits<double>::infinity();

// Clamps every gradient element to [−clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace nl::optim
