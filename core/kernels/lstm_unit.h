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

}  // namespace nl::kernels
