#pragma once
// Summaries of repeated runs (several seeds): mean, sample standard deviation,
// range — so a write-up can say "0.843 ± 0.004 over 3 seeds" and mean it.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace examples {

struct Spread {
  double mean = 0, std = 0, min = 0, max = 0;  // std: sample (n − 1) standard deviation, 0 for one value
  size_t n = 0;
};

inline Spread spread_of(const std::vector<double>& values) {
  Spread s;
  s.n = values.size();
  if (s.n == 0) return s;
  for (double v : values) s.mean += v / double(s.n);
  for (double v : values) s.std += s.n > 1 ? (v - s.mean) * (v - s.mean) / double(s.n - 1) : 0;
  s.std = std::sqrt(s.std);
  s.min = *std::min_element(values.begin(), values.end());
  s.max = *std::max_element(values.begin(), values.end());
  return s;
}

// "0.8412 ± 0.0021" (just the mean when there is one value).
inline std::string plus_minus(const Spread& s, int digits = 4) {
  if (s.n <= 1) return fmt::format("{:.{}f}", s.mean, digits);
  return fmt::format("{:.{}f} ± {:.{}f}", s.mean, digits, s.std, digits);
}

// The mean of the last n values (at least one, at most all): "the training
// loss at the end", less noisy than the last step's. Summed as Σ value/n.
template <typename T>
double mean_of_last(const std::vector<T>& values, size_t n) {
  if (values.empty()) return NAN;
  n = std::clamp<size_t>(n, 1, values.size());
  double mean = 0;
  for (size_t i = values.size() - n; i < values.size(); ++i) mean += values[i] / double(n);
  return mean;
}

// Means of `values` over `bins` consecutive, equal slices of its index range
// (a curve smoothed by averaging, one point per slice). bins is clamped to [1, size].
inline std::vector<double> bin_means(const std::vector<float>& values, size_t bins) {
  std::vector<double> means;
  if (values.empty()) return means;
  bins = std::clamp<size_t>(bins, 1, values.size());
  for (size_t b = 0; b < bins; ++b) {
    size_t lo = values.size() * b / bins, hi = values.size() * (b + 1) / bins;
    double sum = 0;
    for (size_t i = lo; i < hi; ++i) sum += values[i];
    means.push_back(sum / double(hi - lo));
  }
  return means;
}

}  // namespace examples
