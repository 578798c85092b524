#pragma once
// What the whole-sequence LSTM ops (lstm_sequence.cpp, layer_norm_lstm_sequence.cpp)
// share: the checks of x_proj, h0, c0 and W_hh, and W_hh packed once per call.
#include "core/kernels/blas.h"
#include "core/kernels/packed_panels.h"
#include "core/ops/helpers.h"

namespace nl::ops {

struct LSTMSizes {
  int64_t T, N, H;
};

// x_proj (T, N, 4H) with T, N, H >= 1, h0 and c0 (N, H), weight_hh (4H, H), one dtype.
inline LSTMSizes check_lstm_sequence(const char* op, const Tensor& x_proj, const Tensor& h0, const Tensor& c0,
                                     const Tensor& weight_hh) {
  check_floating(op, x_proj);
  for (const Tensor* t : {&h0, &c0, &weight_hh}) check_same_dtype(op, x_proj, *t);
  if (x_proj.dim() != 3 || x_proj.size(2) % 4 != 0 || x_proj.size(0) < 1)
    fail("{}: expected x_proj (T, N, 4H) with T >= 1, got {}", op, x_proj.shape());
  const int64_t T = x_proj.size(0), N = x_proj.size(1), H = x_proj.size(2) / 4;
  if (!(h0.shape() == Shape{N, H}) || !(c0.shape() == Shape{N, H}) || !(weight_hh.shape() == Shape{4 * H, H}))
    fail("{}: for x_proj {} expected h0 and c0 ({}, {}) and weight_hh ({}, {}), got {}, {} and {}", op,
         x_proj.shape(), N, H, 4 * H, H, h0.shape(), c0.shape(), weight_hh.shape());
  if (N == 0 || H == 0) fail("{}: expected a batch and a hidden size > 0, got x_proj {}", op, x_proj.shape());
  return {T, N, H};
}

// W_hh (4H, H) packed for dh = da·W_hh (the backward's per-step product):
// kernels::pack_columns, panel q holding hidden units 32q .. 32q+31.
template <typename T>
Tensor pack_for_hidden_gradient(const T* w, int64_t H, const char* op) {
  Tensor packed = Tensor::make({kernels::panel_count(H), 4 * H, kernels::kPanelWidth}, dtype_of<T>(), op);
  kernels::pack_columns(packed.data<T>(), w, 4 * H, H);
  return packed;
}

// dW_hh (4H, H) = Σ_t dpre_tᵀ·h_{t−1}: one GEMM over h_0, one over K = (T−1)·N
// rows for h_1..h_{T−1} (rows 0..T−2 of out). dpre (T, N, 4H) is the gradient
// reaching the recurrent products h_{t−1}·W_hhᵀ of every step.
template <typename S>
void recurrent_weight_gradient(const S* dpre, const S* h0, const S* out, int64_t T, int64_t N, int64_t H, S* dw) {
  kernels::gemm<S>(CblasTrans, CblasNoTrans, 4 * H, H, N, S(1), dpre, 4 * H, h0, H, S(0), dw, H);
  if (T > 1)
    kernels::gemm<S>(CblasTrans, CblasNoTrans, 4 * H, H, (T - 1) * N, S(1), dpre + N * 4 * H, 4 * H, out, H, S(1), dw,
                     H);
}

}  // namespace nl::ops
