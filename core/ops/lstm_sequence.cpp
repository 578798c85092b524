// lstm_sequence: the plain LSTM (PyTorch's cell) over a whole sequence as one
// op: one graph node for all T steps instead of a dozen per step, and the
// recurrent weight's gradient as one large GEMM instead of T thin ones.
// x_proj (T, N, 4H) holds the input projections W_ih·x_t + b_ih + b_hh of
// every step (one GEMM before this op); gates in PyTorch's order [i | f | g | o].
//
//   forward, t = 1..T:   a_t = x_proj[t] + h_{t−1}·W_hhᵀ          (one GEMM per step)
//                        i, f, g, o = σ(a_i), σ(a_f), tanh(a_g), σ(a_o)
//                        c_t = f·c_{t−1} + i·g,   h_t = o·tanh(c_t)
//   backward, t = T..1:  dh = dy_t + da_{t+1}·W_hh   (the gradient reaching h_t; at t = T, dh_n)
//                        da_t, dc_{t−1} by the cell rule (core/kernels/lstm_unit.h; dc_T = dc_n)
//   then:                dW_hh = Σ_t da_tᵀ·h_{t−1}                (one GEMM over K = T·N rows)
//                        dx_proj = [da_1 .. da_T],  dh_0 = da_1·W_hh,  dc_0
//
// The outputs, of one node: output (T, N, H) = h_1..h_T, h_n = h_T (N, H) (a
// view of output's last step) and c_n = c_T (N, H) (a copy: the backward
// reads the saved cell states). The forward saves every step's activations
// (i, f, g, o) and cell state; tanh(c_t) is recomputed.
//
// The per-step products use W_hh packed once per sequence
// (core/kernels/packed_panels.h) instead of a BLAS call that would pack it
// again at every step. The forward's panels hold the four gates of 8 hidden
// units side by side, so a tile of the product is whole units and the cell
// runs on it while it is in registers. Threads own a block of the batch rows
// (when W_hh fits in L2) or of 32 hidden units for the whole sequence
// (ops::split_plain_lstm, lstm_helpers.h). Row blocks never meet; unit
// blocks meet once per step (h_t, or da_t in backward, must be complete
// before anyone reads it). Either way each value is the same chain of
// operations, so the results do not depend on the thread count.
#include "core/kernels/lstm_unit.h"
#include "core/kernels/packed_panels.h"
#include "core/kernels/simd.h"
#include "core/kernels/vec_math.h"
#include "core/ops/lstm_helpers.h"

namespace nl {

namespace {
using kernels::kMaxPanelRows;
using kernels::kPanelWidth;
using kernels::vec::tanh;
using ops::kUnitsPerPanel;

// Forward of step t for hidden units [lo, hi) of rows 0..N−1 (the caller's
// block of rows: every pointer starts at its first row): the gate
// pre-activations a = x_proj + h_{t−1}·W_hhᵀ a tile at a time from the packed
// panels, then the cell on the tile; acts, c, h of those units written.
// Panels outside, rows inside: a panel (32 KB at H 256) serves every row tile
// from L1 while h_{t−1} (32 KB at N 32) comes from L2. Rows outside streamed
// the thread's share of W_hh (512 KB at H 256 on 2 threads, all of L2 on Zen 3)
// once per tile of 3 rows: the lstm_lm step at 1 thread took 70–74 ms against
// 65–66 in this order (2026-12-04; an earlier host measured the opposite, 30%).
// A panel reads 32 bytes of each gate of every row of x_proj and writes as
// much of acts: 4·rows streams, each 32 bytes further on per panel, too
// many for the hardware prefetchers, so the first panel of each cache line
// asks for the next line of each. Alternated call by call (2026-12-07): the
// op's forward at (64, 32, 1024) 4–7% faster at 2 threads, 2–3% at 1; the
// lstm_lm step 2–3%.
template <typename T>
NL_SIMD_CLONES void step_forward(const T* packed, const T* xp, const T* h_prev, const T* c_prev, T* acts, T* c, T* h,
                                 int64_t N, int64_t H, int64_t lo, int64_t hi) {
  alignas(64) T tile[kMaxPanelRows * kPanelWidth];
  const int64_t R = kernels::panel_rows<T>();
  constexpr int64_t kLine = 64 / sizeof(T);  // values per cache line: 16 floats, two panels' units
  for (int64_t p = lo / kUnitsPerPanel; p * kUnitsPerPanel < hi; ++p) {
    const int64_t u0 = p * kUnitsPerPanel, count = std::min(kUnitsPerPanel, H - u0);
    for (int64_t n0 = 0; n0 < N; n0 += R) {
      const int64_t rows = std::min<int64_t>(R, N - n0);
      kernels::panel_product(h_prev + n0 * H, H, rows, packed + p * H * kPanelWidth, H, tile);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t n = n0 + r;
        const T* pre = tile + r * kPanelWidth;  // [i | f | g | o] of units u0 .. u0+7
        const T* x = xp + n * 4 * H;
        T* a = acts + n * 4 * H;
        if (u0 % kLine == 0 && u0 + kLine < H)  // at a line's first panel: the row's next lines, each gate
          for (int64_t gate = 0; gate < 4; ++gate) {
            __builtin_prefetch(x + gate * H + u0 + kLine, 0, 3);
            __builtin_prefetch(a + gate * H + u0 + kLine, 1, 3);
          }
#pragma omp simd
        for (int64_t j = 0; j < count; ++j) {
          const int64_t u = u0 + j;
          c[n * H + u] = kernels::lstm_unit_forward_store(
              pre[j] + x[u], pre[kUnitsPerPanel + j] + x[H + u], pre[2 * kUnitsPerPanel + j] + x[2 * H + u],
              pre[3 * kUnitsPerPanel + j] + x[3 * H + u], c_prev[n * H + u], u, H, a);
          h[n * H + u] = a[3 * H + u] * tanh(c[n * H + u]);  // h = o·tanh(c)
        }
      }
    }
  }
}

}  // namespace

template <typename T>
NL_SIMD_CLONES void ops::gate_products(const T* packed, const T* h, T* p, int64_t N, int64_t H, int64_t lo,
                                       int64_t hi) {
  alignas(64) T tile[kMaxPanelRows * kPanelWidth];
  const int64_t R = kernels::panel_rows<T>();
  for (int64_t q = lo / kUnitsPerPanel; q * kUnitsPerPanel < hi; ++q) {  // panels outside, as step_forward
    const int64_t u0 = q * kUnitsPerPanel, count = std::min(kUnitsPerPanel, H - u0);
    for (int64_t n0 = 0; n0 < N; n0 += R) {
      const int64_t rows = std::min<int64_t>(R, N - n0);
      kernels::panel_product(h + n0 * H, H, rows, packed + q * H * kPanelWidth, H, tile);
      for (int64_t r = 0; r < rows; ++r)  // the tile's [i | f | g | o] of 8 units to their gates' columns
        for (int64_t gate = 0; gate < 4; ++gate)
          std::copy(tile + r * kPanelWidth + gate * kUnitsPerPanel,
                    tile + r * kPanelWidth + gate * kUnitsPerPanel + count, p + (n0 + r) * 4 * H + gate * H + u0);
    }
  }
}
template void ops::gate_products<float>(const float*, const float*, float*, int64_t, int64_t, int64_t, int64_t);
template void ops::gate_products<double>(const double*, const double*, double*, int64_t, int64_t, int64_t, int64_t);

template <typename T>
NL_SIMD_CLONES void ops::cell_backward(const T* acts, const T* c_prev, const T* c, const T* dy, const T* dh_next, T* dc,
                                       T* da, int64_t N, int64_t H, int64_t lo, int64_t hi) {
  for (int64_t n = 0; n < N; ++n) {
    const T* a = acts + n * 4 * H;
    T* d = da + n * 4 * H;
    const T *cp = c_prev + n * H, *cn = c + n * H, *dyn = dy + n * H, *dhn = dh_next + n * H;
    T* dcn = dc + n * H;
#pragma omp simd
    for (int64_t u = lo; u < hi; ++u) {
      // dc is read (the gradient reaching c_t) and overwritten (the one reaching c_{t−1}) per unit
      kernels::lstm_unit_backward_store(a[u], a[H + u], a[2 * H + u], a[3 * H + u], cp[u], tanh(cn[u]), dyn[u] + dhn[u],
                                        dcn[u], u, H, d, dcn);
    }
  }
}
template void ops::cell_backward<float>(const float*, const float*, const float*, const float*, const float*, float*,
                                        float*, int64_t, int64_t, int64_t, int64_t);
template void ops::cell_backward<double>(const double*, const double*, const double*, const double*, const double*,
                                         double*, double*, int64_t, int64_t, int64_t, int64_t);

template <typename T>
NL_SIMD_CLONES void ops::hidden_gradient(const T* packed, const T* dpre, T* dh, int64_t N, int64_t H, int64_t lo,
                                         int64_t hi) {
  // panels q of units 32q .. 32q+31 in [lo, hi)
  kernels::panel_products(dpre, 4 * H, N, packed, 4 * H, H, lo / kPanelWidth, (hi + kPanelWidth - 1) / kPanelWidth,
                          dh, H);
}
template void ops::hidden_gradient<float>(const float*, const float*, float*, int64_t, int64_t, int64_t, int64_t);
template void ops::hidden_gradient<double>(const double*, const double*, double*, int64_t, int64_t, int64_t, int64_t);

LSTMSequenceResult lstm_sequence(const Tensor& x_proj_in, const Tensor& h0_in, const Tensor& c0_in,
                                 const Tensor& weight_hh_in) {
  const char* op = "lstm_sequence";
  const ops::LSTMSizes sizes = ops::check_lstm_sequence(op, x_proj_in, h0_in, c0_in, weight_hh_in);
  const int64_t T = sizes.T, N = sizes.N, H = sizes.H;  // (not a structured binding: the rule captures them)
  Tensor x_proj = x_proj_in.contiguous(), h0 = h0_in.contiguous(), w = weight_hh_in.contiguous();
  Tensor out = Tensor::make({T, N, H}, x_proj.dtype(), op);  // h_1 .. h_T
  Tensor acts = Tensor::make({T, N, 4 * H}, x_proj.dtype(), op);
  Tensor cells = Tensor::make({T + 1, N, H}, x_proj.dtype(), op);  // c_0 .. c_T
  cells.select(0, 0).copy_(c0_in.detach());
  const ops::SequenceSplit split = ops::split_plain_lstm(N, H, x_proj.dtype());
  dispatch_floating(op, x_proj.dtype(), [&]<typename S>() {
    const int64_t step = N * H;
    Tensor packed = ops::pack_gates_interleaved(w.data<S>(), H, op);
    ops::on_split_threads(split, [&](int64_t lo, int64_t hi) {
      const auto [n0, rows, u0, u1] = ops::sequence_block(split, lo, hi, N, H);  // pointers start at the block's rows
      const S *xp = x_proj.data<S>() + n0 * 4 * H, *h_0 = h0.data<S>() + n0 * H, *panels = packed.data<S>();
      S *c = cells.data<S>() + n0 * H, *h = out.data<S>() + n0 * H, *a = acts.data<S>() + n0 * 4 * H;
      for (int64_t t = 0; t < T; ++t) {  // h_{t−1}: h0, then row t−1 of out
        step_forward<S>(panels, xp + t * 4 * step, t == 0 ? h_0 : h + (t - 1) * step, c + t * step, a + t * 4 * step,
                        c + (t + 1) * step, h + t * step, rows, H, u0, u1);
        if (!split.by_rows) ops::step_barrier();  // h_t complete: every unit's product reads all of it
      }
    });
  });
  // (out and cells require no grad yet: the select is a plain view, the clone a plain copy)
  LSTMSequenceResult result{out, out.select(0, T - 1), cells.select(0, T).clone()};
  if (!needs_grad(x_proj_in, h0_in, c0_in, weight_hh_in)) return result;

  bool want_dh0 = needs_grad(h0_in), want_dc0 = needs_grad(c0_in), want_dw = needs_grad(weight_hh_in);
  attach({result.output, result.h_n, result.c_n}, op, {x_proj_in, h0_in, c0_in, weight_hh_in},
         save(h0, w, out, acts, cells),
         [T, N, H, want_dh0, want_dc0, want_dw](const Tensor& d_output, const Tensor& dh_n, const Tensor& dc_n,
                                                const Tensor& h0, const Tensor& w, const Tensor& out,
                                                const Tensor& acts, const Tensor& cells) -> Grads {
           const char* backward_op = "lstm_sequence_backward";
           Tensor dy = d_output.contiguous();
           DType dtype = dy.dtype();
           Tensor da = Tensor::make({T, N, 4 * H}, dtype, backward_op);
           Tensor dh = dh_n.clone();  // da_{t+1}·W_hh, the gradient h_t sends back (for h_T: the one reaching h_n)
           Tensor dc = dc_n.clone();  // the gradient reaching c_t (c_T: the one reaching c_n)
           Tensor dw = want_dw ? Tensor::make({4 * H, H}, dtype, backward_op) : Tensor();
           const ops::SequenceSplit split = ops::split_plain_lstm(N, H, dtype);
           dispatch_floating(backward_op, dtype, [&]<typename S>() {
             const int64_t step = N * H;
             Tensor packed = ops::pack_for_hidden_gradient(w.data<S>(), H, backward_op);
             ops::on_split_threads(split, [&](int64_t lo, int64_t hi) {
               const auto [n0, rows, u0, u1] = ops::sequence_block(split, lo, hi, N, H);
               const S *panels = packed.data<S>(), *c = cells.data<S>() + n0 * H, *a = acts.data<S>() + n0 * 4 * H;
               const S* y = dy.data<S>() + n0 * H;
               S *dh_rows = dh.data<S>() + n0 * H, *dc_rows = dc.data<S>() + n0 * H;
               for (int64_t t = T - 1; t >= 0; --t) {
                 S* da_t = da.data<S>() + t * 4 * step + n0 * 4 * H;
                 ops::cell_backward<S>(a + t * 4 * step, c + t * step, c + (t + 1) * step, y + t * step, dh_rows,
                                       dc_rows, da_t, rows, H, u0, u1);
                 if (!split.by_rows) ops::step_barrier();  // da_t complete: every unit's dh needs all of it
                 if (t > 0 || want_dh0)  // dh = da_t·W_hh, this thread's block (the one it reads next step)
                   ops::hidden_gradient<S>(panels, da_t, dh_rows, rows, H, u0, u1);
               }
             });
             if (want_dw)
               ops::recurrent_weight_gradient<S>(da.data<S>(), h0.data<S>(), out.data<S>(), T, N, H, dw.data<S>());
           });
           return {da, want_dh0 ? dh : Tensor(), want_dc0 ? dc : Tensor(), dw};
         });
  return result;
}

// ---- the composed reference: a_t = x_proj[t] + h·W_hhᵀ, (h, c) = lstm_cell(a_t, c)
LSTMSequenceResult reference::lstm_sequence(const Tensor& x_proj, const Tensor& h0, const Tensor& c0,
                                            const Tensor& weight_hh) {
  Tensor h = h0, c = c0;
  std::vector<Tensor> outputs;
  for (int64_t t = 0; t < x_proj.size(0); ++t) {
    LSTMState s = lstm_cell(x_proj.select(0, t) + matmul(h, weight_hh.t()), c);
    h = s.h;
    c = s.c;
    outputs.push_back(h);
  }
  return {stack(outputs, 0), h, c};
}

}  // namespace nl
