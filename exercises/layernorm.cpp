// Exercise: LayerNorm, forward and backward.
// Grade it with:  build/bin/normlab-grade layernorm THIS_FILE.cpp
//
// x holds N rows of D features, row-major: x[i*D + j]. Each row is normalized
// over its own D features, then scaled and shifted per feature:
//
//   mean_i  = 1/D · Σ_j x_ij
//   var_i   = 1/D · Σ_j (x_ij − mean_i)²        (biased: divide by D, not D − 1)
//   rstd_i  = 1 / √(var_i + eps)
//   xhat_ij = (x_ij − mean_i) · rstd_i
//   y_ij    = gamma_j · xhat_ij + beta_j
//
// Backward: given dy = ∂L/∂y, write dx = ∂L/∂x, dgamma and dbeta. Remember that
// x_ij reaches y through xhat_ij directly AND through mean_i and var_i, which
// every element of the row shares. The grader calls layernorm_backward with
// its own mean and rstd, so the backward is graded even if the forward is not
// done yet.
//
// Only <cmath> and plain loops are needed. Keep the signatures as they are.
#include <cmath>

void layernorm_forward(const double* x, const double* gamma, const double* beta, int N, int D, double eps, double* y,
                       double* mean, double* rstd) {
  // TODO: compute mean[i], rstd[i] and y for every row i
}

void layernorm_backward(const double* dy, const double* x, const double* gamma, const double* mean, const double* rstd,
                        int N, int D, double* dx, double* dgamma, double* dbeta) {
  // TODO: compute dx, dgamma and dbeta
}
