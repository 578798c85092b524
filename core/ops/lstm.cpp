// lstm_cell: one LSTM time step after the matrix products, fused into a
// single pass forward and a single pass backward. With the gate
// pre-activations a = W_ih·x + b_ih + W_hh·h + b_hh laid out as [i | f | g | o]
// (PyTorch's order), for each of the H units:
//
//   i = σ(a_i),  f = σ(a_f),  g = tanh(a_g),  o = σ(a_o)
//   c = f·c_prev + i·g
//   h = o·tanh(c)
//
// h and c are the two outputs of one graph node, whose rule gets dh and dc
// (zeros for an output no gradient reached): the rule in
// core/kernels/lstm_unit.h.
//
// lstm_cell_state is the same step without the output gate (output c only),
// for the normalized cells, which compute h = o·tanh(norm(c)) from primitives.
// The backward recomputes the activations from a instead of saving them.
#include <cmath>

#include "core/kernels/lstm_unit.h"
#include "core/kernels/simd.h"
#include "core/kernels/vec_math.h"
#include "core/ops/helpers.h"
#include "core/parallel.h"

namespace nl {

namespace {
using kernels::vec::sigmoid;
using kernels::vec::tanh;

// Rows [lo, hi) of the forward: c, and h with the output gate (h is not
// written without). The row loops are compiled for AVX2 as well
// (NL_SIMD_CLONES): the parallel regions that call them are not cloned.
template <typename T, bool kOutputGate>
NL_SIMD_CLONES void forward_rows(const T* a, const T* c_prev, T* h_out, T* c_out, int64_t H, int64_t lo, int64_t hi) {
  for (int64_t n = lo; n < hi; ++n) {
    const T* an = a + n * 4 * H;
    const T* cp = c_prev + n * H;
    T* h = kOutputGate ? h_out + n * H : nullptr;
    T* c = c_out + n * H;
#pragma omp simd
    for (int64_t u = 0; u < H; ++u) {
      T i = sigmoid(an[u]), f = sigmoid(an[H + u]), g = tanh(an[2 * H + u]);
      c[u] = f * cp[u] + i * g;                                               // c = f·c_prev + i·g
      if constexpr (kOutputGate) h[u] = sigmoid(an[3 * H + u]) * tanh(c[u]);  // h = o·tanh(c)
    }
  }
}

// Rows [lo, hi) of the backward: da (N, 4H) and dc_prev (N, H) from dc, and
// dh and c with the output gate (both unread without).
template <typename T, bool kOutputGate>
NL_SIMD_CLONES void backward_rows(const T* a, const T* c_prev, const T* c_out, const T* dh_in, const T* dc_in, T* da,
                                  T* dc_prev, int64_t H, int64_t lo, int64_t hi) {
  for (int64_t n = lo; n < hi; ++n) {
    const T* an = a + n * 4 * H;
    const T* cp = c_prev + n * H;
    const T* c = kOutputGate ? c_out + n * H : nullptr;
    const T* dh = kOutputGate ? dh_in + n * H : nullptr;
    const T* dc = dc_in + n * H;
    T* dan = da + n * 4 * H;
    T* dcp = dc_prev + n * H;
#pragma omp simd
    for (int64_t u = 0; u < H; ++u) {
      T i = sigmoid(an[u]), f = sigmoid(an[H + u]), g = tanh(an[2 * H + u]);
      T o = kOutputGate ? sigmoid(an[3 * H + u]) : T(0), tanh_c = kOutputGate ? tanh(c[u]) : T(0);
      kernels::lstm_unit_backward_store(i, f, g, o, cp[u], tanh_c, kOutputGate ? dh[u] : T(0), dc[u], u, H, dan, dcp);
    }
  }
}

template <typename T, bool kOutputGate>
void lstm_cell_forward(const T* a, const T* c_prev, T* h_out, T* c_out, int64_t N, int64_t H) {
  parallel_for(0, N, std::max<int64_t>(1, kParallelGrain / (4 * H)),
               [=](int64_t lo, int64_t hi) { forward_rows<T, kOutputGate>(a, c_prev, h_out, c_out, H, lo, hi); });
}

template <typename T, bool kOutputGate>
void lstm_cell_backward(const T* a, const T* c_prev, const T* c_out, const T* dh_in, const T* dc_in, T* da, T* dc_prev,
                        int64_t N, int64_t H) {
  parallel_for(0, N, std::max<int64_t>(1, kParallelGrain / (4 * H)), [=](int64_t lo, int64_t hi) {
    backward_rows<T, kOutputGate>(a, c_prev, c_out, dh_in, dc_in, da, dc_prev, H, lo, hi);
  });
}

void check_step(const char* op, const Tensor& gates, const Tensor& c_prev) {
  ops::check_floating(op, gates);
  ops::check_same_dtype(op, gates, c_prev);
  if (gates.dim() != 2 || gates.size(1) % 4 != 0 || c_prev.dim() != 2 || c_prev.size(0) != gates.size(0) ||
      c_prev.size(1) * 4 != gates.size(1))
    fail("{}: expected gates (N, 4H) and c_prev (N, H), got {} and {}", op, gates.shape(), c_prev.shape());
}

// The forward of one step on contiguous a (N, 4H) and c_prev (N, H): c, and h
// with the output gate.
template <bool kOutputGate>
LSTMState step_forward(const char* op, const Tensor& a, const Tensor& c_prev) {
  int64_t N = a.size(0), H = c_prev.size(1);
  LSTMState out{kOutputGate ? Tensor::make({N, H}, a.dtype(), op) : Tensor(), Tensor::make({N, H}, a.dtype(), op)};
  dispatch_floating(op, a.dtype(), [&]<typename T>() {
    lstm_cell_forward<T, kOutputGate>(a.data<T>(), c_prev.data<T>(), ops::data_or_null<T>(out.h), out.c.data<T>(), N,
                                      H);
  });
  return out;
}

// The gradient rule of one step: {da, dc_prev} from dc, and dh and c with the output gate.
template <bool kOutputGate>
Grads step_backward(const Tensor& dh, const Tensor& dc, const Tensor& a, const Tensor& c_prev, const Tensor& c,
                    bool want_dc_prev) {
  const char* op = "lstm_cell_backward";
  int64_t N = a.size(0), H = c_prev.size(1);
  Tensor dh_c = kOutputGate ? dh.contiguous() : Tensor(), dc_c = dc.contiguous();
  Tensor da = Tensor::make(a.shape(), a.dtype(), op);
  Tensor dc_prev = Tensor::make(c_prev.shape(), a.dtype(), op);
  dispatch_floating(op, a.dtype(), [&]<typename T>() {
    using ops::data_or_null;
    lstm_cell_backward<T, kOutputGate>(a.data<T>(), c_prev.data<T>(), data_or_null<T>(c), data_or_null<T>(dh_c),
                                       dc_c.data<T>(), da.data<T>(), dc_prev.data<T>(), N, H);
  });
  return {da, want_dc_prev ? dc_prev : Tensor()};
}
}  // namespace

LSTMState lstm_cell(const Tensor& gates, const Tensor& c_prev_in) {
  const char* op = "lstm_cell";
  check_step(op, gates, c_prev_in);
  Tensor a = gates.contiguous(), c_prev = c_prev_in.contiguous();
  LSTMState out = step_forward<true>(op, a, c_prev);
  if (needs_grad(gates, c_prev_in))
    attach({out.h, out.c}, op, {gates, c_prev_in}, save(a, c_prev, out.c),
           [want_dc_prev = needs_grad(c_prev_in)](const Tensor& dh, const Tensor& dc, const Tensor& a,
                                                  const Tensor& c_prev, const Tensor& c) -> Grads {
             return step_backward<true>(dh, dc, a, c_prev, c, want_dc_prev);
           });
  return out;
}

Tensor lstm_cell_state(const Tensor& gates, const Tensor& c_prev_in) {
  const char* op = "lstm_cell_state";
  check_step(op, gates, c_prev_in);
  Tensor a = gates.contiguous(), c_prev = c_prev_in.contiguous();
  Tensor c = step_forward<false>(op, a, c_prev).c;
  if (needs_grad(gates, c_prev_in))
    attach(c, op, {gates, c_prev_in}, save(a, c_prev),
           [want_dc_prev = needs_grad(c_prev_in)](const Tensor& dc, const Tensor& a, const Tensor& c_prev) -> Grads {
             return step_backward<false>(Tensor(), dc, a, c_prev, Tensor(), want_dc_prev);
           });
  return c;
}

}  // namespace nl
