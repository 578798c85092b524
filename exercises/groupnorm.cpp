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
  // TODO: compute dx, dgamma and dbeta
}
