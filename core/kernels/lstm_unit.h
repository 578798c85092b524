#pragma once
// One hidden unit of the LSTM cell, forward and backward: the forward shared
// by the sequence ops (core/ops/{,layer_norm_,batch_norm_}lstm_sequence.cpp),
// the gradient rule by those and lstm_cell (one step, core/ops/lstm.cpp).
//
//   i, f, g, o = σ(a_i), σ(a_f), tanh(a_g), σ(a_o),   c = f·c_prev + i·g
//
// Backward, with the gate activations i, f, g, o, the previous cell state c_prev,
// tanh(c), and the gradients dh and dc reaching h = o·tanh(c) and c:
//
//   dc_total = dc + dh·o·(1 − tanh²c)
//   da_i = dc_total·g·i(1 − i)        da_f = dc_total·c_prev·f(1 − f)
//   da_g = dc_total·i·(1 − g²)        da_o = dh·tanh(c)·o(1 − o)
//   dc_prev = dc_total·f
//
// (A cell without the output gate is o = 0, dh = 0.)
#include <cstdint>

#include "core/kernels/vec_math.h"

namespace nl::kernels {

// Unit u's forward from its gate pre-activations: the activations i, f, g, o
// stored into acts (one row of 4H, order [i | f | g | o]); returns c.
template <typename T>
inline T lstm_unit_forward_store(T a_i, T a_f, T a_g, T a_o, T c_prev, int64_t u, int64_t H, T* acts) {
  T i = vec::sigmoid(a_i), f = vec::sigmoid(a_f), g = vec::tanh(a_g), o = vec::sigmoid(a_o);
  acts[u] = i;
  acts[H + u] = f;
  acts[2 * H + u] = g;
  acts[3 * H + u] = o;
  return f * c_prev + i * g;  // c = f·c_prev + i·g
}

template <typename T>
struct LstmUnitGrads {
  T da_i, da_f, da_g, da_o, dc_prev;
};

template <typename T>
inline LstmUnitGrads<T> lstm_unit_backward(T i, T f, T g, T o, T c_prev, T tanh_c, T dh, T dc) {
  T dc_total = dc + dh * o * (1 - tanh_c * tanh_c);
  return {dc_total * g * i * (1 - i), dc_total * c_prev * f * (1 - f), dc_total * i * (1 - g * g),
          dh * tanh_c * o * (1 - o), dc_total * f};
}

// Unit u's rule, stored: the gate gradients into da (one row of 4H, order
// [i | f | g | o]) and dc_prev[u].
template <typename T>
inline void lstm_unit_backward_store(T i, T f, T g, T o, T c_prev, T tanh_c, T dh, T dc, int64_t u, int64_t H, T* da,
                                     T* dc_prev) {
  LstmUnitGrads<T> d = lstm_unit_backward(i, f, g, o, c_prev, tanh_c, dh, dc);
  da[u] = d.da_i;
  da[H + u] = d.da_f;
  da[2 * H + u] = d.da_g;
  da[3 * H + u] = d.da_o;
  dc_prev[u] = d.dc_prev;
}

}  // namespace nl::kernels
