#pragma once
// The moments of a set of values, and the merge of two disjoint sets' moments
// (Chan, Golub & LeVeque 1979) — how a mean and variance computed in pieces
// (blocks of rows, threads, processes) become those of the whole without a
// second pass over the data, and without the cancellation of Σx² − n·mean².
//
//   piece a: (n_a, mean_a, M2_a),  piece b: (n_b, mean_b, M2_b),  M2 = Σ(x − mean)²
//   n = n_a + n_b,  δ = mean_b − mean_a
//   mean = mean_a + δ·n_b / n
//   M2   = M2_a + (M2_b + δ²·n_a·n_b / n)
//
// In double. Every term of M2 is >= 0 (nothing cancels), so a merge adds only
// the rounding of these few operations, whatever the order of the pieces.

namespace nl::kernels {

struct Moments {
  double count = 0;  // n (a double: the formula needs it as one, and counts stay exact below 2^53)
  double mean = 0;
  double m2 = 0;                                  // Σ(x − mean)²
  double variance() const { return m2 / count; }  // biased (divides by n)
};

// The moments of a ∪ b. An empty b gives a itself; an empty a gives b up to
// the rounding of mean_b·n_b / n_b.
inline Moments merge(const Moments& a, const Moments& b) {
  if (b.count == 0) return a;
  const double n = a.count + b.count;
  const double delta = b.mean - a.mean;
  return {n, a.mean + delta * b.count / n, a.m2 + (b.m2 + delta * delta * a.count * b.count / n)};
}

}  // namespace nl::kernels
