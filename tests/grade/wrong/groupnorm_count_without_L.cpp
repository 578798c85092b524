// A typical wrong answer to the groupnorm exercise, for tests/grade/test_grade.cpp:
// the count in the dx formula is the group's channels, C/G, forgetting the L positions.
// Exercise: GroupNorm backward.
// Grade it with:  build/bin/normlab-grade groupnorm THIS_FILE.cpp
//
// x holds N samples of C channels of L positions (a sequence, or a flattened
// image), row-major: x[(n*C + c)*L + l]. GroupNorm (Wu & He 2018) splits the C
// channels into G groups of C/G consecutive channels and normalizes each
// sample's group over all its M = C/G · L values, then scales and shifts per
// channel. With g = c / (C/G) the group of channel c:
//
//   mean_ng  = 1/M · Σ x over the group's M values     (index n*G + g)
//   rstd_ng  = 1 / √(1/M · Σ (x − mean_ng)² + eps)
//   xhat_ncl = (x_ncl − mean_ng) · rstd_ng
//   y_ncl    = gamma_c · xhat_ncl + beta_c
//
// G = 1 is LayerNorm over (C, L); G = C normalizes each channel on its own
// (InstanceNorm). Backward: given dy and the forward's mean and rstd, write dx,
// dgamma and dbeta. Which values share a mean and a variance here?
//
// Only <cmath> and plain loops are needed. Keep the signature as it is.
#include <cmath>

void groupnorm_backward(const double* dy, const double* x, const double* gamma, const double* mean, const double* rstd,
                        int N, int C, int L, int G, double* dx, double* dgamma, double* dbeta) {
  // BEGIN SOLUTION: compute dx, dgamma and dbeta
  const int per_group = C / G, M = per_group * L;
  for (int c = 0; c < C; ++c) dgamma[c] = dbeta[c] = 0;
  for (int n = 0; n < N; ++n) {
    for (int g = 0; g < G; ++g) {
      const double m = mean[n * G + g], r = rstd[n * G + g];
      // the group's M values are contiguous: channels g*per_group ... (g+1)*per_group − 1 of sample n
      const int first = (n * C + g * per_group) * L;
      // dxhat = dy · gamma_c;  dx = rstd/M · (M·dxhat − Σ dxhat − xhat · Σ dxhat·xhat), sums over the group
      double sum_dxhat = 0, sum_dxhat_xhat = 0;
      for (int k = 0; k < M; ++k) {
        const int c = g * per_group + k / L;
        const double xhat = (x[first + k] - m) * r, dxhat = dy[first + k] * gamma[c];
        sum_dxhat += dxhat;
        sum_dxhat_xhat += dxhat * xhat;
        dgamma[c] += dy[first + k] * xhat;
        dbeta[c] += dy[first + k];
      }
      for (int k = 0; k < M; ++k) {
        const int c = g * per_group + k / L;
        const double xhat = (x[first + k] - m) * r, dxhat = dy[first + k] * gamma[c];
        dx[first + k] = r / per_group * (per_group * dxhat - sum_dxhat - xhat * sum_dxhat_xhat);
      }
    }
  }
  // END SOLUTION
}
