// A typical wrong answer to the batchnorm exercise, for tests/grade/test_grade.cpp:
// the training forward normalizes with the unbiased variance.
// Exercise: BatchNorm, training forward and backward, and eval forward.
// Grade it with:  build/bin/normlab-grade batchnorm THIS_FILE.cpp
//
// x holds N samples of C channels, row-major: x[n*C + c]. In training each
// channel c is normalized over the batch (its N values), as PyTorch does:
//
//   mean_c  = 1/N · Σ_n x_nc
//   var_c   = 1/N · Σ_n (x_nc − mean_c)²        (biased: used to normalize)
//   rstd_c  = 1 / √(var_c + eps)
//   xhat_nc = (x_nc − mean_c) · rstd_c
//   y_nc    = gamma_c · xhat_nc + beta_c
//   running_mean_c ← (1 − momentum) · running_mean_c + momentum · mean_c
//   running_var_c  ← (1 − momentum) · running_var_c  + momentum · var_c · N/(N − 1)
//                                                   (unbiased: the running estimate)
//
// Backward (training): given dy, write dx, dgamma and dbeta. x_nc reaches y
// through xhat_nc directly and through mean_c and var_c, which the whole
// batch shares. The grader passes the batch's mean and rstd.
//
// Eval: the running statistics take the place of the batch statistics, so a
// sample's output does not depend on the rest of the batch:
//   y_nc = gamma_c · (x_nc − running_mean_c) / √(running_var_c + eps) + beta_c
//
// Only <cmath> and plain loops are needed. Keep the signatures as they are.
#include <cmath>

void batchnorm_forward_train(const double* x, const double* gamma, const double* beta, int N, int C, double eps,
                             double momentum, double* y, double* mean, double* rstd, double* running_mean,
                             double* running_var) {
  // BEGIN SOLUTION: compute mean[c], rstd[c] and y; update running_mean and running_var
  for (int c = 0; c < C; ++c) {
    double m = 0;
    for (int n = 0; n < N; ++n) m += x[n * C + c];
    m /= N;
    double var = 0;
    for (int n = 0; n < N; ++n) var += (x[n * C + c] - m) * (x[n * C + c] - m);
    var /= N - 1;
    const double r = 1.0 / std::sqrt(var + eps);
    for (int n = 0; n < N; ++n) y[n * C + c] = gamma[c] * (x[n * C + c] - m) * r + beta[c];
    mean[c] = m;
    rstd[c] = r;
    running_mean[c] = (1 - momentum) * running_mean[c] + momentum * m;
    running_var[c] = (1 - momentum) * running_var[c] + momentum * var * N / (N - 1);
  }
  // END SOLUTION
}

void batchnorm_backward(const double* dy, const double* x, const double* gamma, const double* mean, const double* rstd,
                        int N, int C, double* dx, double* dgamma, double* dbeta) {
  // BEGIN SOLUTION: compute dx, dgamma and dbeta
  for (int c = 0; c < C; ++c) {
    // dxhat = dy · gamma;  dx = rstd/N · (N·dxhat − Σ dxhat − xhat · Σ dxhat·xhat), sums over the batch
    double sum_dxhat = 0, sum_dxhat_xhat = 0, sum_dy = 0, sum_dy_xhat = 0;
    for (int n = 0; n < N; ++n) {
      const double xhat = (x[n * C + c] - mean[c]) * rstd[c];
      sum_dy += dy[n * C + c];
      sum_dy_xhat += dy[n * C + c] * xhat;
    }
    sum_dxhat = sum_dy * gamma[c];
    sum_dxhat_xhat = sum_dy_xhat * gamma[c];
    for (int n = 0; n < N; ++n) {
      const double xhat = (x[n * C + c] - mean[c]) * rstd[c];
      const double dxhat = dy[n * C + c] * gamma[c];
      dx[n * C + c] = rstd[c] / N * (N * dxhat - sum_dxhat - xhat * sum_dxhat_xhat);
    }
    dgamma[c] = sum_dy_xhat;
    dbeta[c] = sum_dy;
  }
  // END SOLUTION
}

void batchnorm_forward_eval(const double* x, const double* gamma, const double* beta, const double* running_mean,
                            const double* running_var, int N, int C, double eps, double* y) {
  // BEGIN SOLUTION: compute y with the running statistics
  for (int c = 0; c < C; ++c) {
    const double r = 1.0 / std::sqrt(running_var[c] + eps);
    for (int n = 0; n < N; ++n) y[n * C + c] = gamma[c] * (x[n * C + c] - running_mean[c]) * r + beta[c];
  }
  // END SOLUTION
}
