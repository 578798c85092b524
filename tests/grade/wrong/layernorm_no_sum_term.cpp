// A typical wrong answer to the layernorm exercise, for tests/grade/test_grade.cpp:
// the backward forgets the path through the mean (no Σ dxhat term).
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
  // BEGIN SOLUTION: compute mean[i], rstd[i] and y for every row i
  for (int i = 0; i < N; ++i) {
    const double* xi = x + i * D;
    double m = 0;
    for (int j = 0; j < D; ++j) m += xi[j];
    m /= D;
    double var = 0;
    for (int j = 0; j < D; ++j) var += (xi[j] - m) * (xi[j] - m);
    var /= D;
    const double r = 1.0 / std::sqrt(var + eps);
    for (int j = 0; j < D; ++j) y[i * D + j] = gamma[j] * (xi[j] - m) * r + beta[j];
    mean[i] = m;
    rstd[i] = r;
  }
  // END SOLUTION
}

void layernorm_backward(const double* dy, const double* x, const double* gamma, const double* mean, const double* rstd,
                        int N, int D, double* dx, double* dgamma, double* dbeta) {
  // BEGIN SOLUTION: compute dx, dgamma and dbeta
  for (int j = 0; j < D; ++j) dgamma[j] = dbeta[j] = 0;
  for (int i = 0; i < N; ++i) {
    // dxhat = dy · gamma;  dx = rstd/D · (D·dxhat − Σ dxhat − xhat · Σ dxhat·xhat)
    double sum_dxhat = 0, sum_dxhat_xhat = 0;
    for (int j = 0; j < D; ++j) {
      const double xhat = (x[i * D + j] - mean[i]) * rstd[i];
      const double dxhat = dy[i * D + j] * gamma[j];
      sum_dxhat += dxhat;
      sum_dxhat_xhat += dxhat * xhat;
      dgamma[j] += dy[i * D + j] * xhat;
      dbeta[j] += dy[i * D + j];
    }
    for (int j = 0; j < D; ++j) {
      const double xhat = (x[i * D + j] - mean[i]) * rstd[i];
      const double dxhat = dy[i * D + j] * gamma[j];
      dx[i * D + j] = rstd[i] / D * (D * dxhat - xhat * sum_dxhat_xhat);
    }
  }
  // END SOLUTION
}
