#pragma once
// Batch Renormalization's schedule (Ioffe 2017): the limits of r and d start
// at 1 and 0, where Batch Renorm is BatchNorm, and are relaxed as training
// goes on — the paper trains with BatchNorm alone for its first steps, then
// lets r_max grow gradually to 3 and d_max to 5 (its suggested limits). Its
// schedule is in steps of its own long runs; this one has the same shape as
// fractions of a run of any length (the fractions are ours): with
// f = (step − 1) / steps,
//   r_max = 1 + 2 · clamp((f − 0.04) / 0.27, 0, 1)   (3 from 31% of the run)
//   d_max = 5 · clamp((f − 0.04) / 0.15, 0, 1)       (5 from 19% of the run)
// Used by mlp_norm --norm renorm and cnn_norm --norm batch_renorm before every step:
//
//   auto [r_max, d_max] = examples::renorm_limits(step, total_steps);
//   nl::layers::set_renorm_limits(model, r_max, d_max);
#include <algorithm>
#include <cstdint>
#include <utility>

namespace examples {

// The limits (r_max, d_max) before step `step` (1-based) of `steps`.
inline std::pair<double, double> renorm_limits(int64_t step, int64_t steps) {
  double f = double(step - 1) / double(std::max<int64_t>(1, steps));
  auto ramp = [f](double length) { return std::clamp((f - 0.04) / length, 0.0, 1.0); };
  return {1.0 + 2.0 * ramp(0.27), 5.0 * ramp(0.15)};
}

}  // namespace examples
