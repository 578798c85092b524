// lstm_sequence: the plain LSTM (PyTorch's cell) over a whole sequence as one
// op: one graph node for all T steps instead of a dozen per step, and the
// recurrent weight's gradient as one large GEMM instead of T thin ones.
// x_proj (T, N, 4H) holds the input projections W_ih·x_t + b_ih + b_hh of
// every step (one GEMM before this op); gates in PyTorch's order [i | f | g | o].
//
//   forward, t = 1..T:   a_t = x_proj[t] + h_{t−1}·W_hhᵀ          (one GEMM per step)
//                        i, f, g, o = σ(a_i), σ(a_f), tanh(a_g), σ(a_o)
//                        c_t = f·c_{t−1} + i·g,   h_t = o·tanh(c_t)
//   backward, t = T..1:  dh = dy_t + da_{t+1}·W_hh   (the gradient h_t sends back to step t+1)
//                        da_t, dc_{t−1} by the cell rule (core/kernels/lstm_unit.h)
//   then:                dW_hh = Σ_t da_tᵀ·h_{t−1}                (one GEMM over K = T·N rows)
//                        dx_proj = [da_1 .. da_T],  dh_0 = da_1·W_hh,  dc_0
//
// The output is (T + 1, N, H): rows 0..T−1 are h_1..h_T, row T is c_T (one
// tensor, one node; the caller takes views). The forward saves every step's
// activations (i, f, g, o) and cell state; tanh(c_t) is recomputed.
#include "core/kernels/blas.h"
#include "core/kernels/lstm_unit.h"
#include "core/kernels/simd.h"
#include "core/kernels/vec_math.h"
#include "core/ops/helpers.h"

namespace nl {

namespace {
using kernels::vec::sigmoid;
using kernels::vec::tanh;

// Rows [lo, hi) of one step: pre-activations a = xp + hp (both (N, 4H)), the
// activations into acts, c and h (N, H).
template <typename T>
NL_SIMD_CLONES void step_forward(const T* xp, const T* hp, const T* c_prev, T* acts, T* c, T* h, int64_t lo,
                                 int64_t hi, int64_t H) {
  for (int64_t n = lo; n < hi; ++n) {
    const T* x = xp + n * 4 * H;
    const T* p = hp + n * 4 * H;
    T* a = acts + n * 4 * H;
    const T* cp = c_prev + n * H;
    T* cn = c + n * H;
    T* hn = h + n * H;
#pragma omp simd
    for (int64_t u = 0; u < H; ++u) {
      T i = sigmoid(x[u] + p[u]), f = sigmoid(x[H + u] + p[H + u]);
      T g = tanh(x[2 * H + u] + p[2 * H + u]), o = sigmoid(x[3 * H + u] + p[3 * H + u]);
      a[u] = i;
      a[H + u] = f;
      a[2 * H + u] = g;
      a[3 * H + u] = o;
      cn[u] = f * cp[u] + i * g;  // c = f·c_prev + i·g
      hn[u] = o * tanh(cn[u]);    // h = o·tanh(c)
    }
  }
}

// Rows [lo, hi) of one step backward: dh = dy + dh_next reaches h_t; dc (in:
// the gradient reaching c_t, out: the one reaching c_{t−1}); da (N, 4H).
template <typename T>
NL_SIMD_CLONES void step_backward(const T* acts, const T* c_prev, const T* c, const T* dy, const T* dh_next, T* dc,
                                  T* da, int64_t lo, int64_t hi, int64_t H) {
  for (int64_t n = lo; n < hi; ++n) {
    const T* a = acts + n * 4 * H;
    T* d = da + n * 4 * H;
    const T *cp = c_prev + n * H, *cn = c + n * H, *dyn = dy + n * H, *dhn = dh_next + n * H;
    T* dcn = dc + n * H;
#pragma omp simd
    for (int64_t u = 0; u < H; ++u) {
      // dc is read (the gradient reaching c_t) and overwritten (the one reaching c_{t−1}) per unit
      kernels::lstm_unit_backward_store(a[u], a[H + u], a[2 * H + u], a[3 * H + u], cp[u], tanh(cn[u]),
                                        dyn[u] + dhn[u], dcn[u], u, H, d, dcn);
    }
  }
}

// fn(lo, hi) over the N rows of a step, on several threads when the step is
// big enough. A unit costs five exponentials (about 30 flops each): count it
// as 32 elements of a plain loop when choosing the grain.
template <typename Fn>
void for_rows(int64_t N, int64_t H, Fn&& fn) {
  parallel_for(0, N, std::max<int64_t>(1, kParallelGrain / (32 * H)), fn);
}
}  // namespace

Tensor lstm_sequence(const Tensor& x_proj_in, const Tensor& h0_in, const Tensor& c0_in, const Tensor& weight_hh_in) {
  const char* op = "lstm_sequence";
  ops::check_floating(op, x_proj_in);
  for (const Tensor* t : {&h0_in, &c0_in, &weight_hh_in}) ops::check_same_dtype(op, x_proj_in, *t);
  if (x_proj_in.dim() != 3 || x_proj_in.size(2) % 4 != 0 || x_proj_in.size(0) < 1)
    fail("{}: expected x_proj (T, N, 4H) with T >= 1, got {}", op, x_proj_in.shape());
  const int64_t T = x_proj_in.size(0), N = x_proj_in.size(1), H = x_proj_in.size(2) / 4;
  if (!(h0_in.shape() == Shape{N, H}) || !(c0_in.shape() == Shape{N, H}) || !(weight_hh_in.shape() == Shape{4 * H, H}))
    fail("{}: for x_proj {} expected h0 and c0 ({}, {}) and weight_hh ({}, {}), got {}, {} and {}", op,
         x_proj_in.shape(), N, H, 4 * H, H, h0_in.shape(), c0_in.shape(), weight_hh_in.shape());
  if (N == 0 || H == 0)
    fail("{}: expected a batch and a hidden size > 0, got x_proj {}", op, x_proj_in.shape());
  Tensor x_proj = x_proj_in.contiguous(), h0 = h0_in.contiguous(), w = weight_hh_in.contiguous();
  Tensor out = Tensor::make({T + 1, N, H}, x_proj.dtype(), op);
  Tensor acts = Tensor::make({T, N, 4 * H}, x_proj.dtype(), op);
  Tensor cells = Tensor::make({T + 1, N, H}, x_proj.dtype(), op);  // c_0 .. c_T
  cells.select(0, 0).copy_(c0_in.detach());
  dispatch_floating(op, x_proj.dtype(), [&]<typename S>() {
    const int64_t step = N * H;
    Tensor scratch = Tensor::make({N, 4 * H}, x_proj.dtype(), op);  // h_{t−1}·W_hhᵀ
    S* hp = scratch.data<S>();
    const S* h_prev = h0.data<S>();
    for (int64_t t = 0; t < T; ++t) {
      kernels::gemm<S>(CblasNoTrans, CblasTrans, N, 4 * H, H, S(1), h_prev, H, w.data<S>(), H, S(0), hp, 4 * H);
      const S* xp = x_proj.data<S>() + t * 4 * step;
      S* c = cells.data<S>() + (t + 1) * step;
      S* h = out.data<S>() + t * step;
      for_rows(N, H, [&](int64_t lo, int64_t hi) {
        step_forward<S>(xp, hp, c - step, acts.data<S>() + t * 4 * step, c, h, lo, hi, H);
      });
      h_prev = h;
    }
    std::copy(cells.data<S>() + T * step, cells.data<S>() + (T + 1) * step, out.data<S>() + T * step);  // c_T
  });
  if (!needs_grad(x_proj_in, h0_in, c0_in, weight_hh_in)) return out;

  bool want_dh0 = needs_grad(h0_in), want_dc0 = needs_grad(c0_in), want_dw = needs_grad(weight_hh_in);
  attach(out, op, {x_proj_in, h0_in, c0_in, weight_hh_in},
         [h0 = h0.detach(), w = w.detach(), out = out.detach(), acts, cells, T, N, H, want_dh0, want_dc0,
          want_dw](const Tensor& grad) -> Grads {
           const char* backward_op = "lstm_sequence_backward";
           Tensor dy = grad.contiguous();
           DType dtype = dy.dtype();
           Tensor da = Tensor::make({T, N, 4 * H}, dtype, backward_op);
           Tensor dh = zeros({N, H}, dtype);                    // da_{t+1}·W_hh, the gradient h_t sends back
           Tensor dc = dy.select(0, T).clone();                 // the gradient reaching c_t (c_T: from the output)
           Tensor dw = want_dw ? Tensor::make({4 * H, H}, dtype, backward_op) : Tensor();
           dispatch_floating(backward_op, dtype, [&]<typename S>() {
             const int64_t step = N * H;
             const S* W = w.data<S>();
             for (int64_t t = T - 1; t >= 0; --t) {
               S* da_t = da.data<S>() + t * 4 * step;
               const S* c = cells.data<S>() + (t + 1) * step;
               for_rows(N, H, [&](int64_t lo, int64_t hi) {
                 step_backward<S>(acts.data<S>() + t * 4 * step, c - step, c, dy.data<S>() + t * step, dh.data<S>(),
                                  dc.data<S>(), da_t, lo, hi, H);
               });
               if (t > 0 || want_dh0)  // dh = da_t·W_hh: (N, 4H)·(4H, H)
                 kernels::gemm<S>(CblasNoTrans, CblasNoTrans, N, H, 4 * H, S(1), da_t, 4 * H, W, H, S(0),
                                  dh.data<S>(), H);
             }
             if (want_dw) {  // dW_hh = Σ_t da_tᵀ·h_{t−1}: h_0, then h_1..h_{T−1} (rows 0..T−2 of out)
               kernels::gemm<S>(CblasTrans, CblasNoTrans, 4 * H, H, N, S(1), da.data<S>(), 4 * H, h0.data<S>(), H,
                                S(0), dw.data<S>(), H);
               if (T > 1)
                 kernels::gemm<S>(CblasTrans, CblasNoTrans, 4 * H, H, (T - 1) * N, S(1), da.data<S>() + 4 * step,
                                  4 * H, out.data<S>(), H, S(1), dw.data<S>(), H);
             }
           });
           return {da, want_dh0 ? dh : Tensor(), want_dc0 ? dc : Tensor(), dw};
         });
  return out;
}

}  // namespace nl
