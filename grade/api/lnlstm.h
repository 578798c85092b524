#pragma once
// The function of the lnlstm exercise (exercises/lnlstm.cpp), on plain
// row-major arrays of double. normlab-grade compiles a student's file with
// `-include` of this header (see layernorm.h).
extern "C" {
// The cell's parameters: the 4H gate rows in PyTorch's order [i | f | g | o].
struct LNLSTMWeights {
  const double* w_ih;                // 4H×I
  const double* w_hh;                // 4H×H
  const double *gamma_ih, *beta_ih;  // 4H: LN_ih, over the 4H values of x·W_ihᵀ
  const double *gamma_hh, *beta_hh;  // 4H: LN_hh, over the 4H values of h_prev·W_hhᵀ
  const double *gamma_c, *beta_c;    // H: LN_c, over the H values of c
};
// Their gradients, the same shapes.
struct LNLSTMGrads {
  double *dw_ih, *dw_hh;
  double *dgamma_ih, *dbeta_ih, *dgamma_hh, *dbeta_hh, *dgamma_c, *dbeta_c;
};
// One step of the layer-normalized LSTM cell on x (N×I), h_prev and c_prev
// (N×H). Given dh (N×H) and dc (N×H), the gradients of the step's outputs h
// and c, writes dx (N×I), dh_prev and dc_prev (N×H) and every gradient of *grads.
void lnlstm_cell_backward(const double* x, const double* h_prev, const double* c_prev, const LNLSTMWeights* w, int N,
                          int I, int H, double eps, const double* dh, const double* dc, double* dx, double* dh_prev,
                          double* dc_prev, LNLSTMGrads* grads);
}
