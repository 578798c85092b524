// lstm_cell: one LSTM time step after the matrix products, fused into a
// single pass forward and a single pass backward. With the gate
// pre-activations a = W_ih·x + b_ih + W_hh·h + b_hh laid out as [i | f | g | o]
// (PyTorch's order), for each of the H units:
//
//   i = σ(a_i),  f = σ(a_f),  g = tanh(a_g),  o = σ(a_o)
//   c = f·c_prev + i·g
//   h = o·tanh(c)
//
// The output is [h | c] side by side, shape (N, 2H): one tensor, one graph
// node, and the caller takes h and c as slices (views). Backward, with dh and
// dc the gradients reaching h and c:
//
//   dc_total = dc + dh·o·(1 − tanh²c)
//   da_i = dc_total·g·i(1 − i)        da_f = dc_total·c_prev·f(1 − f)
//   da_g = dc_total·i·(1 − g²)        da_o = dh·tanh(c)·o(1 − o)
//   dc_prev = dc_total·f
//
// lstm_cell_state is the same step without the output gate (output c only),
// for the normalized cells, which compute h = o·tanh(norm(c)) from primitives.
// The backward recomputes the activations from a instead of saving them.
#include <cmath>

#include "core/ops/helpers.h"
#include "core/parallel.h"

namespace nl {

namespace {
template <typename T>
inline T sigmoid_of(T v) {
  return T(1) / (T(1) + std::exp(-v));
}

// out: (N, 2H) [h | c] with the output gate, (N, H) c without.
template <typename T, bool kOutputGate>
void lstm_cell_forward(const T* a, const T* c_prev, T* out, int64_t N, int64_t H) {
  parallel_for(0, N, std::max<int64_t>(1, kParallelGrain / (4 * H)), [&](int64_t lo, int64_t hi) {
    for (int64_t n = lo; n < hi; ++n) {
      const T* an = a + n * 4 * H;
      const T* cp = c_prev + n * H;
      T* h = out + n * (kOutputGate ? 2 : 1) * H;
      T* c = kOutputGate ? h + H : h;
      for (int64_t u = 0; u < H; ++u) {
        T i = sigmoid_of(an[u]), f = sigmoid_of(an[H + u]), g = std::tanh(an[2 * H + u]);
        c[u] = f * cp[u] + i * g;                                          // c = f·c_prev + i·g
        if constexpr (kOutputGate) h[u] = sigmoid_of(an[3 * H + u]) * std::tanh(c[u]);  // h = o·tanh(c)
      }
    }
  });
}

template <typename T, bool kOutputGate>
void lstm_cell_backward(const T* a, const T* c_prev, const T* out, const T* d_out, T* da, T* dc_prev, int64_t N,
                        int64_t H) {
  parallel_for(0, N, std::max<int64_t>(1, kParallelGrain / (4 * H)), [&](int64_t lo, int64_t hi) {
    for (int64_t n = lo; n < hi; ++n) {
      const int64_t width = (kOutputGate ? 2 : 1) * H;
      const T* an = a + n * 4 * H;
      const T* cp = c_prev + n * H;
      const T* c = out + n * width + (kOutputGate ? H : 0);
      const T* dh = d_out + n * width;
      const T* dc = kOutputGate ? dh + H : dh;
      T* dan = da + n * 4 * H;
      for (int64_t u = 0; u < H; ++u) {
        T i = sigmoid_of(an[u]), f = sigmoid_of(an[H + u]), g = std::tanh(an[2 * H + u]);
        T dc_total = dc[u];
        if constexpr (kOutputGate) {
          T o = sigmoid_of(an[3 * H + u]), tanh_c = std::tanh(c[u]);
          dc_total += dh[u] * o * (1 - tanh_c * tanh_c);                   // through h = o·tanh(c)
          dan[3 * H + u] = dh[u] * tanh_c * o * (1 - o);                   // da_o
        } else {
          dan[3 * H + u] = 0;
        }
        dan[u] = dc_total * g * i * (1 - i);                               // da_i
        dan[H + u] = dc_total * cp[u] * f * (1 - f);                       // da_f
        dan[2 * H + u] = dc_total * i * (1 - g * g);                       // da_g
        if (dc_prev) dc_prev[n * H + u] = dc_total * f;                    // dc_prev
      }
    }
  });
}

template <bool kOutputGate>
Tensor lstm_step(const char* op, const Tensor& gates, const Tensor& c_prev_in) {
  ops::check_floating(op, gates);
  ops::check_same_dtype(op, gates, c_prev_in);
  if (gates.dim() != 2 || gates.size(1) % 4 != 0 || c_prev_in.dim() != 2 || c_prev_in.size(0) != gates.size(0) ||
      c_prev_in.size(1) * 4 != gates.size(1))
    fail("{}: expected gates (N, 4H) and c_prev (N, H), got {} and {}", op, gates.shape(), c_prev_in.shape());
  int64_t N = gates.size(0), H = c_prev_in.size(1);
  Tensor a = gates.contiguous(), c_prev = c_prev_in.contiguous();
  Tensor out = Tensor::make({N, (kOutputGate ? 2 : 1) * H}, a.dtype(), op);
  dispatch_floating(op, a.dtype(), [&]<typename T>() {
    lstm_cell_forward<T, kOutputGate>(a.data<T>(), c_prev.data<T>(), out.data<T>(), N, H);
  });
  if (needs_grad(gates, c_prev_in)) {
    bool want_dc_prev = needs_grad(c_prev_in);
    attach(out, op, {gates, c_prev_in},
           [a = a.detach(), c_prev = c_prev.detach(), out = out.detach(), N, H, want_dc_prev](const Tensor& grad) -> Grads {
             Tensor d_out = grad.contiguous();
             Tensor da = Tensor::make(a.shape(), a.dtype(), "lstm_cell_backward");
             Tensor dc_prev = want_dc_prev ? Tensor::make(c_prev.shape(), a.dtype(), "lstm_cell_backward") : Tensor();
             dispatch_floating("lstm_cell_backward", a.dtype(), [&]<typename T>() {
               lstm_cell_backward<T, kOutputGate>(a.data<T>(), c_prev.data<T>(), out.data<T>(), d_out.data<T>(),
                                                  da.data<T>(), dc_prev.defined() ? dc_prev.data<T>() : nullptr, N, H);
             });
             return {da, dc_prev};
           });
  }
  return out;
}
}  // namespace

Tensor lstm_cell(const Tensor& gates, const Tensor& c_prev) { return lstm_step<true>("lstm_cell", gates, c_prev); }

Tensor lstm_cell_state(const Tensor& gates, const Tensor& c_prev) {
  return lstm_step<false>("lstm_cell_state", gates, c_prev);
}

}  // namespace nl
