#pragma once
// The LSTM cell's gradient rule for one hidden unit, shared by lstm_cell (one
// step, core/ops/lstm.cpp) and lstm_sequence (all steps, core/ops/lstm_sequence.cpp).
// With the gate activations i, f, g, o, the previous cell state c_prev,
// tanh(c), and the gradients dh and dc reaching h = o·tanh(c) and c:
//
//   dc_total = dc + dh·o·(1 − tanh²c)
//   da_i = dc_total·g·i(1 − i)        da_f = dc_total·c_prev·f(1 − f)
//   da_g = dc_total·i·(1 − g²)        da_o = dh·tanh(c)·o(1 − o)
//   dc_prev = dc_total·f
//
// (A cell without the output gate is o = 0, dh = 0.)
#include <cstdint>

namespace nl::kernels {

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
