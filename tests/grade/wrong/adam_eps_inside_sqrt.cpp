// A typical wrong answer to the adam exercise, for tests/grade/test_grade.cpp:
// eps inside the square root.
// Exercise: the Adam update.
// Grade it with:  build/bin/normlab-grade adam THIS_FILE.cpp
//
// Adam (Kingma & Ba 2015) keeps, per parameter, a moving average of the
// gradient (m) and of its square (v), and steps by their ratio. As
// torch.optim.Adam, at step t = 1, 2, ... with gradient grad:
//
//   g = grad + weight_decay · param        (weight decay as an L2 penalty in the gradient)
//   m = β1 · m + (1 − β1) · g
//   v = β2 · v + (1 − β2) · g²
//   m̂ = m / (1 − β1ᵗ),   v̂ = v / (1 − β2ᵗ)   (bias correction: m and v start at zero)
//   param = param − lr · m̂ / (√v̂ + eps)
//
// Write adam_step, which does one step on n parameters and updates param, m
// and v in place. The grader runs several steps and compares after the first
// and the last.
//
// Only <cmath> and plain loops are needed. Keep the signature as it is.
#include <cmath>

void adam_step(double* param, const double* grad, double* m, double* v, int n, int t, double lr, double beta1,
               double beta2, double eps, double weight_decay) {
  // BEGIN SOLUTION: update m, v and param
  const double correction1 = 1 - std::pow(beta1, t), correction2 = 1 - std::pow(beta2, t);
  for (int i = 0; i < n; ++i) {
    const double g = grad[i] + weight_decay * param[i];
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    param[i] -= lr * (m[i] / correction1) / std::sqrt(v[i] / correction2 + eps);
  }
  // END SOLUTION
}
