// Exercise: RMSNorm backward.
// Grade it with:  build/bin/normlab-grade rmsnorm THIS_FILE.cpp
//
// x holds N rows of D features, row-major: x[i*D + j]. RMSNorm (Zhang &
// Sennrich 2019) rescales each row by its root mean square, without
// subtracting the mean, and has a scale but no shift:
//
//   rstd_i  = 1 / √(1/D · Σ_j x_ij² + eps)
//   xhat_ij = x_ij · rstd_i
//   y_ij    = gamma_j · xhat_ij
//
// Backward: given dy = ∂L/∂y and the forward's rstd, write dx = ∂L/∂x and
// dgamma. x_ij reaches y through xhat_ij directly and through rstd_i, which
// the whole row shares. Compare with LayerNorm's: which term is gone, and why?
//
// Only <cmath> and plain loops are needed. Keep the signature as it is.
#include <cmath>

void rmsnorm_backward(const double* dy, const double* x, const double* gamma, const double* rstd, int N, int D,
                      double* dx, double* dgamma) {
  // BEGIN SOLUTION: compute dx and dgamma
  for (int j = 0; j < D; ++j) dgamma[j] = 0;
  for (int i = 0; i < N; ++i) {
    // dxhat = dy · gamma;  dx = rstd/D · (D·dxhat − xhat · Σ dxhat·xhat)
    double sum_dxhat_xhat = 0;
    for (int j = 0; j < D; ++j) {
      const double xhat = x[i * D + j] * rstd[i];
      sum_dxhat_xhat += dy[i * D + j] * gamma[j] * xhat;
      dgamma[j] += dy[i * D + j] * xhat;
    }
    for (int j = 0; j < D; ++j) {
      const double xhat = x[i * D + j] * rstd[i];
      dx[i * D + j] = rstd[i] / D * (D * dy[i * D + j] * gamma[j] - xhat * sum_dxhat_xhat);
    }
  }
  // END SOLUTION
}
