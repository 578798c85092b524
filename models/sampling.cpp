#include "models/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/ops.h"

namespace nl::models {

int64_t sample_next(const Tensor& logits, double temperature, int64_t top_k) {
  if (logits.dim() != 1 || logits.numel() == 0) fail("sample_next: expected logits (V), got {}", logits.shape());
  if (!(temperature >= 0)) fail("sample_next: temperature must be >= 0, got {}", temperature);
  std::vector<double> z = logits.to_vector<double>();
  if (temperature == 0) return int64_t(std::max_element(z.begin(), z.end()) - z.begin());
  std::vector<int64_t> order(z.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return z[size_t(a)] > z[size_t(b)]; });
  size_t keep = top_k > 0 ? std::min(z.size(), size_t(top_k)) : z.size();
  // p_j ∝ exp((z_j − z_max) / temperature) over the kept ids
  std::vector<double> p(keep);
  double total = 0;
  for (size_t j = 0; j < keep; ++j) total += p[j] = std::exp((z[size_t(order[j])] - z[size_t(order[0])]) / temperature);
  double u = rand({1}, f64).item<double>() * total;
  for (size_t j = 0; j < keep; ++j) {
    if (u < p[j]) return order[j];
    u -= p[j];
  }
  return order[keep - 1];
}

}  // namespace nl::models
