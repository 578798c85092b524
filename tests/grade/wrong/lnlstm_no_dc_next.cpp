// A typical wrong answer to the lnlstm exercise, for tests/grade/test_grade.cpp:
// c's gradient comes only through h; the dc from the next step is left out.
// Exercise: the layer-normalized LSTM cell (Ba, Kiros & Hinton 2016), the
// backward of one step.
// Grade it with:  build/bin/normlab-grade lnlstm THIS_FILE.cpp
//
// N rows (the batch), I input features, H hidden units, row-major; the 4H gate
// values of a row in PyTorch's order [i | f | g | o]. One step, as
// layers::LSTM's layer_norm cell computes it (LN over a row: the layernorm
// exercise):
//
//   ax = LN_ih(x · W_ihᵀ)          over the 4H values of a row; γ_ih, β_ih
//   ah = LN_hh(h_prev · W_hhᵀ)     over the 4H values of a row; γ_hh, β_hh
//   a  = ax + ah                   (the β's are the biases)
//   i, f, g, o = σ(a_i), σ(a_f), tanh(a_g), σ(a_o)
//   c  = f·c_prev + i·g
//   z  = LN_c(c)                   over the H values of a row; γ_c, β_c
//   h  = o·tanh(z)
//
// Backward: given dh = ∂L/∂h and dc = ∂L/∂c — what reaches c from the NEXT
// step, which uses c as its c_prev — write dx, dh_prev, dc_prev and the
// gradients of every weight. lnlstm_cell_forward below is done for you and
// keeps what the backward needs. Work from h back to a: dz and do, then c's
// gradient (two paths reach c: through h and from the next step), then
// di, df, dg and dc_prev, then the gates' pre-activations da. Both LayerNorms
// of a get the same da; their inputs' gradients then go through the matrix
// products to dx, dh_prev, dW_ih and dW_hh.
//
// Only the standard library and plain loops are needed. Keep the signature as it is.
#include <cmath>
#include <vector>

namespace {

using Vec = std::vector<double>;

// y (N×rows) = x (N×cols) · Wᵀ, W rows×cols
Vec matmul_t(const double* x, const double* w, int N, int cols, int rows) {
  Vec y(size_t(N) * rows, 0.0);
  for (int n = 0; n < N; ++n)
    for (int r = 0; r < rows; ++r)
      for (int k = 0; k < cols; ++k) y[size_t(n) * rows + r] += x[size_t(n) * cols + k] * w[size_t(r) * cols + k];
  return y;
}

// LayerNorm of each of the N rows of D values of p: y = γ·(p − mean)·rstd + β.
void layernorm_rows(const double* p, const double* gamma, const double* beta, int N, int D, double eps, double* y,
                    double* mean, double* rstd) {
  for (int n = 0; n < N; ++n) {
    const double* row = p + size_t(n) * D;
    double m = 0, var = 0;
    for (int j = 0; j < D; ++j) m += row[j];
    m /= D;
    for (int j = 0; j < D; ++j) var += (row[j] - m) * (row[j] - m);
    const double r = 1.0 / std::sqrt(var / D + eps);
    for (int j = 0; j < D; ++j) y[size_t(n) * D + j] = gamma[j] * (row[j] - m) * r + beta[j];
    mean[n] = m;
    rstd[n] = r;
  }
}

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// What the forward keeps for the backward.
struct Cache {
  Vec px, ph;                   // N×4H: x·W_ihᵀ and h_prev·W_hhᵀ, before their LayerNorms
  Vec mean_x, rstd_x;           // N: LN_ih's statistics of each row of px
  Vec mean_h, rstd_h;           // N: LN_hh's of ph
  Vec gates;                    // N×4H: i, f, g, o after σ / tanh
  Vec c, mean_c, rstd_c, z, h;  // N×H, N, N, N×H, N×H
};

Cache lnlstm_cell_forward(const double* x, const double* h_prev, const double* c_prev, const LNLSTMWeights& w, int N,
                          int I, int H, double eps) {
  const int G = 4 * H;
  Cache k;
  k.px = matmul_t(x, w.w_ih, N, I, G);
  k.ph = matmul_t(h_prev, w.w_hh, N, H, G);
  Vec ax(size_t(N) * G), ah(size_t(N) * G);
  k.mean_x.resize(N), k.rstd_x.resize(N), k.mean_h.resize(N), k.rstd_h.resize(N);
  layernorm_rows(k.px.data(), w.gamma_ih, w.beta_ih, N, G, eps, ax.data(), k.mean_x.data(), k.rstd_x.data());
  layernorm_rows(k.ph.data(), w.gamma_hh, w.beta_hh, N, G, eps, ah.data(), k.mean_h.data(), k.rstd_h.data());
  k.gates.resize(size_t(N) * G);
  k.c.resize(size_t(N) * H);
  for (int n = 0; n < N; ++n)
    for (int j = 0; j < H; ++j) {
      const size_t row = size_t(n) * G;
      double* gate = k.gates.data() + row;
      for (int q = 0; q < 4; ++q) {
        const double a = ax[row + size_t(q) * H + j] + ah[row + size_t(q) * H + j];
        gate[size_t(q) * H + j] = q == 2 ? std::tanh(a) : sigmoid(a);
      }
      k.c[size_t(n) * H + j] = gate[H + j] * c_prev[size_t(n) * H + j] + gate[j] * gate[2 * H + j];
    }
  k.z.resize(size_t(N) * H), k.h.resize(size_t(N) * H), k.mean_c.resize(N), k.rstd_c.resize(N);
  layernorm_rows(k.c.data(), w.gamma_c, w.beta_c, N, H, eps, k.z.data(), k.mean_c.data(), k.rstd_c.data());
  for (int n = 0; n < N; ++n)
    for (int j = 0; j < H; ++j)
      k.h[size_t(n) * H + j] = k.gates[size_t(n) * G + 3 * H + j] * std::tanh(k.z[size_t(n) * H + j]);
  return k;
}

// LayerNorm's backward over the N rows of D values of p (the layernorm
// exercise): given dy, the gradient of y = γ·p̂ + β, writes dp and ADDS to
// dgamma and dbeta (the caller zeroes them once).
[[maybe_unused]] void layernorm_rows_backward(const double* dy, const double* p, const double* gamma,
                                              const double* mean, const double* rstd, int N, int D, double* dp,
                                              double* dgamma, double* dbeta) {
  for (int n = 0; n < N; ++n) {
    // dp̂ = dy·γ;  dp = rstd/D · (D·dp̂ − Σ dp̂ − p̂ · Σ dp̂·p̂)
    double sum = 0, sum_phat = 0;
    for (int j = 0; j < D; ++j) {
      const size_t at = size_t(n) * D + j;
      const double phat = (p[at] - mean[n]) * rstd[n], dphat = dy[at] * gamma[j];
      sum += dphat;
      sum_phat += dphat * phat;
      dgamma[j] += dy[at] * phat;
      dbeta[j] += dy[at];
    }
    for (int j = 0; j < D; ++j) {
      const size_t at = size_t(n) * D + j;
      const double phat = (p[at] - mean[n]) * rstd[n];
      dp[at] = rstd[n] / D * (D * dy[at] * gamma[j] - sum - phat * sum_phat);
    }
  }
}

}  // namespace

void lnlstm_cell_backward(const double* x, const double* h_prev, const double* c_prev, const LNLSTMWeights* w, int N,
                          int I, int H, double eps, const double* dh, const double* dc, double* dx, double* dh_prev,
                          double* dc_prev, LNLSTMGrads* grads) {
  const Cache k = lnlstm_cell_forward(x, h_prev, c_prev, *w, N, I, H, eps);
  const int G = 4 * H;
  LNLSTMGrads& d = *grads;
  for (int q = 0; q < G; ++q) d.dgamma_ih[q] = d.dbeta_ih[q] = d.dgamma_hh[q] = d.dbeta_hh[q] = 0;
  for (int j = 0; j < H; ++j) d.dgamma_c[j] = d.dbeta_c[j] = 0;
  // h = o·tanh(z):  do = dh·tanh(z),  dz = dh·o·(1 − tanh²z)
  Vec dz(size_t(N) * H), da(size_t(N) * G);
  for (int n = 0; n < N; ++n)
    for (int j = 0; j < H; ++j) {
      const double t = std::tanh(k.z[size_t(n) * H + j]), o = k.gates[size_t(n) * G + 3 * H + j];
      const double dhj = dh[size_t(n) * H + j];
      dz[size_t(n) * H + j] = dhj * o * (1 - t * t);
      da[size_t(n) * G + 3 * H + j] = dhj * t * o * (1 - o);  // through σ: σ' = σ(1 − σ)
    }
  // z = LN_c(c); c's gradient is that through h plus dc from the next step
  Vec dc_total(size_t(N) * H);
  layernorm_rows_backward(dz.data(), k.c.data(), w->gamma_c, k.mean_c.data(), k.rstd_c.data(), N, H, dc_total.data(),
                          d.dgamma_c, d.dbeta_c);
  // c = f·c_prev + i·g
  for (int n = 0; n < N; ++n)
    for (int j = 0; j < H; ++j) {
      const size_t at = size_t(n) * H + j, row = size_t(n) * G;
      const double dct = dc_total[at];
      const double i = k.gates[row + j], f = k.gates[row + H + j], g = k.gates[row + 2 * H + j];
      da[row + j] = dct * g * i * (1 - i);
      da[row + H + j] = dct * c_prev[at] * f * (1 - f);
      da[row + 2 * H + j] = dct * i * (1 - g * g);  // tanh' = 1 − tanh²
      dc_prev[at] = dct * f;
    }
  // a = LN_ih(px) + LN_hh(ph): both get da
  Vec dpx(size_t(N) * G), dph(size_t(N) * G);
  layernorm_rows_backward(da.data(), k.px.data(), w->gamma_ih, k.mean_x.data(), k.rstd_x.data(), N, G, dpx.data(),
                          d.dgamma_ih, d.dbeta_ih);
  layernorm_rows_backward(da.data(), k.ph.data(), w->gamma_hh, k.mean_h.data(), k.rstd_h.data(), N, G, dph.data(),
                          d.dgamma_hh, d.dbeta_hh);
  // px = x·W_ihᵀ:  dx = dpx·W_ih,  dW_ih = dpxᵀ·x  (and the same for ph, h_prev, W_hh)
  auto backward_matmul = [&](const Vec& dp, const double* in, const double* weight, int cols, double* din,
                             double* dweight) {
    for (int n = 0; n < N; ++n)
      for (int m = 0; m < cols; ++m) {
        double s = 0;
        for (int q = 0; q < G; ++q) s += dp[size_t(n) * G + q] * weight[size_t(q) * cols + m];
        din[size_t(n) * cols + m] = s;
      }
    for (int q = 0; q < G; ++q)
      for (int m = 0; m < cols; ++m) {
        double s = 0;
        for (int n = 0; n < N; ++n) s += dp[size_t(n) * G + q] * in[size_t(n) * cols + m];
        dweight[size_t(q) * cols + m] = s;
      }
  };
  backward_matmul(dpx, x, w->w_ih, I, dx, d.dw_ih);
  backward_matmul(dph, h_prev, w->w_hh, H, dh_prev, d.dw_hh);
}
