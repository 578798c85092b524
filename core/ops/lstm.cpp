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
// node, and the caller takes h and c as slices (views). Backward: the rule in
// core/kernels/lstm_unit.h, with dh and dc the gradients reaching h and c.
//
// lstm_cell_state is the same step without the output gate (output c only),
// for the normalized cells, which compute h = o·tanh(norm(c)) from primitives.
// The backward recomputes the activations from a instead of saving them.
#include <cmath>

#include "core/kernels/lstm_unit.h"
#include "core/kernels/vec_math.h"
#include "core/ops/helpers.h"
#include "core/parallel.h"

namespace nl {

namespace {
using kernels::vec::sigmoid;
using kernels::vec::tanh;

// out: (N, 2H) [h | c] with the output gate, (N, H) c without.
template <typename T, bool kOutputGate>
void lstm_cell_forward(const T* a, const T* c_prev, T* out, int64_t N, int64_t H) {
  // [=]: sizes captured by value, so the compiler knows stores cannot change them (and vectorizes)
  parallel_for(0, N, std::max<int64_t>(1, kParallelGrain / (4 * H)), [=](int64_t lo, int64_t hi) {
    for (int64_t n = lo; n < hi; ++n) {
      const T* an = a + n * 4 * H;
      const T* cp = c_prev + n * H;
      T* h = out + n * (kOutputGate ? 2 : 1) * H;
      T* c = kOutputGate ? h + H : h;
#pragma omp simd
      for (int64_t u = 0; u < H; ++u) {
        T i = sigmoid(an[u]), f = sigmoid(an[H + u]), g = tanh(an[2 * H + u]);
        c[u] = f * cp[u] + i * g;                                          // c = f·c_prev + i·g
        if constexpr (kOutputGate) h[u] = sigmoid(an[3 * H + u]) * tanh(c[u]);  // h = o·tanh(c)
      }
    }
  });
}

template <typename T, bool kOutputGate>
void lstm_cell_backward(const T* a, const T* c_prev, const T* out, const T* d_out, T* da, T* dc_prev, int64_t N,
                        int64_t H) {
  parallel_for(0, N, std::max<int64_t>(1, kParallelGrain / (4 * H)), [=](int64_t lo, int64_t hi) {
    for (int64_t n = lo; n < hi; ++n) {
      const int64_t width = (kOutputGate ? 2 : 1) * H;
      const T* an = a + n * 4 * H;
      const T* cp = c_prev + n * H;
      const T* c = out + n * width + (kOutputGate ? H : 0);
      const T* dh = d_out + n * width;
      const T* dc = kOutputGate ? dh + H : dh;
      T* dan = da + n * 4 * H;
      T* dcp = dc_prev + n * H;
#pragma omp simd
      for (int64_t u = 0; u < H; ++u) {
        T i = sigmoid(an[u]), f = sigmoid(an[H + u]), g = tanh(an[2 * H + u]);
        T o = kOutputGate ? sigmoid(an[3 * H + u]) : T(0), tanh_c = kOutputGate ? tanh(c[u]) : T(0);
        kernels::lstm_unit_backward_store(i, f, g, o, cp[u], tanh_c, kOutputGate ? dh[u] : T(0), dc[u], u, H, dan, dcp);
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
    attach(out, op, {gates, c_prev_in}, save(a, c_prev, out),
           [N, H, want_dc_prev](const Tensor& grad, const Tensor& a, const Tensor& c_prev, const Tensor& out) -> Grads {
             Tensor d_out = grad.contiguous();
             Tensor da = Tensor::make(a.shape(), a.dtype(), "lstm_cell_backward");
             Tensor dc_prev = Tensor::make(c_prev.shape(), a.dtype(), "lstm_cell_backward");
             dispatch_floating("lstm_cell_backward", a.dtype(), [&]<typename T>() {
               lstm_cell_backward<T, kOutputGate>(a.data<T>(), c_prev.data<T>(), out.data<T>(), d_out.data<T>(),
                                                  da.data<T>(), dc_prev.data<T>(), N, H);
             });
             return {da, want_dc_prev ? dc_prev : Tensor()};
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
