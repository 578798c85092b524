// batch_norm_lstm_sequence: the recurrent BatchNorm LSTM (Cooijmans et al.
// 2016) over a whole sequence as one op, for layers::LSTM's batch_norm cell.
// Every BN has statistics per time step (slot s = min(start_step + t, S − 1)
// of the running statistics, S = max_steps), over the N rows of the step:
//
//   forward, t = 1..T:  p_t = h_{t−1}·W_hhᵀ
//                       a_t = BN_ih(x_proj[t]) + BN_hh(p_t) + b     (BN weights γ_ih, γ_hh; no BN bias)
//                       i, f, g, o = σ(a_i), σ(a_f), tanh(a_g), σ(a_o)
//                       c_t = f·c_{t−1} + i·g
//                       h_t = o·tanh(BN_c(c_t))                     (γ_c, β_c)
//   BN, each channel:   training: mean, var over the N rows (biased); the
//                       running statistics of the slot updated as batch_norm does
//                       eval: the slot's running mean and var
//                       xhat = (v − mean)/√(var + eps),  y = γ·xhat (+ β)
//   backward, t = T..1: dh = dy_t + dp_{t+1}·W_hh
//                       da_o = dh·tanh(z)·o(1 − o),  dz = dh·o·(1 − tanh²z)   (z = BN_c(c))
//                       dc = dc_next + BN_c backward(dz)
//                       da_i, da_f, da_g, dc_{t−1} by the cell rule (core/kernels/lstm_unit.h)
//                       dx_proj[t] = BN_ih backward(da),  dp_t = BN_hh backward(da)
//   BN backward:        dxhat = dy·γ; training: dv = rstd/N·(N·dxhat − Σdxhat − xhat·Σ(dxhat·xhat))
//                       (core/ops/batch_norm.cpp); eval: dv = rstd·dxhat
//                       dγ = Σ dy·xhat,  dβ = Σ dy
//   then:               dW_hh = Σ_t dp_tᵀ·h_{t−1},  db = Σ da,  dh_0 = dp_1·W_hh,  dc_0
//
// Threads: a thread owns a block of batch rows or blocks of 32 hidden units
// for the whole sequence, chosen as the plain op chooses (ops::split_plain_lstm,
// lstm_helpers.h; rows in whole blocks of kStatRows).
//  - By rows: every array a thread reads or writes at a step is its rows'
//    contiguous block, and h_{t−1}·W_hhᵀ and dp_t·W_hh need only its own rows.
//    The statistics need every row, so the threads meet twice per step: after
//    the partial statistics of x_proj and p, and after those of c (backward:
//    after the sums of BN_c, and after those of BN_ih and BN_hh).
//  - By units: a thread's channels are all its own and their statistics need
//    no meeting, but h_t (dp_t in backward) must be complete before anyone
//    multiplies by it: once per step. Its share of each row is a run of the
//    row (128 of 1024 values at H 256), which the caches fetch slower than
//    whole blocks of rows (bench/RESULTS.md).
// Either way the statistics and the backward's sums are taken per block of
// kStatRows rows, then merged over the blocks in order, so every value is the
// same whatever the thread count and the split. (By rows the char-LM step at
// H 256 took 37.0 ms where by units it took 42.0, medians at 2 threads in the
// host's slow minutes, and the same in its fast ones; bench/RESULTS.md.) The
// thread that owns row 0 writes the saved statistics and the parameter
// gradients of its channels.
// The forward saves p_t, the activations, c_t and each step's means and variances.
#include <cmath>
#include <vector>

#include "core/kernels/batch_norm_columns.h"
#include "core/kernels/lstm_unit.h"
#include "core/kernels/simd.h"
#include "core/kernels/vec_math.h"
#include "core/ops/lstm_helpers.h"

namespace nl {

namespace {
using kernels::vec::tanh;

using kernels::bn_statistics;
using kernels::column_bn_apply;
using kernels::column_bn_coefficients;
using kernels::column_bn_coefficients_size;
using kernels::column_bn_sums;
using kernels::column_moments;
using kernels::ColumnBN;
using kernels::kStatRows;
using kernels::stat_blocks;

// One step's statistics: mean, variance and rstd = 1/√(var + eps) of BN_ih and
// BN_hh (4H each), then of BN_c (H).
constexpr int64_t kStatsPerUnit = 27;  // 3 × 4 + 3 × 4 + 3
template <typename T>
struct StepStats {
  T *mean_ih, *var_ih, *rstd_ih, *mean_hh, *var_hh, *rstd_hh, *mean_c, *var_c, *rstd_c;
};
template <typename T>
StepStats<T> step_stats(T* stats, int64_t t, int64_t H) {  // stats (T, 27H)
  T* s = stats + t * kStatsPerUnit * H;
  return {s, s + 4 * H, s + 8 * H, s + 12 * H, s + 16 * H, s + 20 * H, s + 24 * H, s + 25 * H, s + 26 * H};
}

// A step's partial statistics in the forward, per row block: the block's mean
// and biased variance of each channel,
//   [mean_ih | var_ih | mean_hh | var_hh] (4H each), [mean_c | var_c] (H each);
// in the backward, its sums, [Σdz | Σdz·ĉ] (H each), [Σda | Σda·x̂_ih | Σda·x̂_hh] (4H each).
constexpr int64_t kForwardPartsPerUnit = 18, kBackwardPartsPerUnit = 14;

// The BN parameters: γ_ih, γ_hh (4H), the gate bias b (4H, zeros when absent), γ_c, β_c (H).
template <typename T>
struct BNParams {
  const T *ih_weight, *hh_weight, *bias, *c_weight, *c_bias;
  T eps;
  bool training;
};
template <typename T>
BNParams<T> bn_params(const Tensor& params, int64_t H, double eps, bool training) {  // params (14H)
  const T* v = params.data<T>();
  return {v, v + 4 * H, v + 8 * H, v + 12 * H, v + 13 * H, T(eps), training};
}

// What one thread runs of each step: rows [n0, n1), whole blocks of kStatRows
// but the last, and hidden units [lo, hi) of them. The writer (the thread with
// row 0) writes its channels' saved statistics and parameter gradients.
struct Share {
  int64_t n0, n1, lo, hi;
  bool writer;
};
Share share_of(const ops::SequenceSplit& split, int64_t lo, int64_t hi, int64_t N, int64_t H) {
  const ops::SequenceBlock b = ops::sequence_block(split, lo, hi, N, H);
  return {b.row0, b.row0 + b.rows, b.unit_lo, b.unit_hi, b.row0 == 0};
}

// ---- forward of one step, in three parts (the threads meet between them when split by rows)

// p = h_{t−1}·W_hhᵀ and, in training, each row block's moments of x_proj and p.
template <typename T>
NL_SIMD_CLONES void forward_products(const T* packed, const T* xp, const T* h_prev, T* p, T* part, bool training,
                                     int64_t H, Share s) {
  const int64_t G = 4 * H;
  ops::gate_products(packed, h_prev + s.n0 * H, p + s.n0 * G, s.n1 - s.n0, H, s.lo, s.hi);
  if (!training) return;
  for (int64_t b0 = s.n0; b0 < s.n1; b0 += kStatRows) {
    const int64_t b1 = std::min(b0 + kStatRows, s.n1);
    T* q = part + b0 / kStatRows * kForwardPartsPerUnit * H;
    for (int64_t gate = 0; gate < 4; ++gate) {
      const int64_t c0 = gate * H + s.lo, c1 = gate * H + s.hi;
      column_moments(xp, G, b0, b1, c0, c1, q, q + G);
      column_moments(p, G, b0, b1, c0, c1, q + 2 * G, q + 3 * G);
    }
  }
}

// BN_ih's and BN_hh's statistics, a = BN_ih(x) + BN_hh(p) + b, the cell, and
// in training each row block's moments of c.
template <typename T>
NL_SIMD_CLONES void forward_cell(const T* xp, const T* p, const T* c_prev, T* acts, T* c, T* part, StepStats<T> st,
                                 T* const* running, int64_t slot, BNParams<T> bn, int64_t N, int64_t H, Share s) {
  const int64_t G = 4 * H, stride = kForwardPartsPerUnit * H;
  for (int64_t gate = 0; gate < 4; ++gate) {
    const int64_t c0 = gate * H + s.lo, c1 = gate * H + s.hi;
    bn_statistics(part, stride, G, N, c0, c1, running[0] + slot * G, running[1] + slot * G, bn.training, bn.eps,
                  st.mean_ih, st.var_ih, st.rstd_ih);
    bn_statistics(part + 2 * G, stride, G, N, c0, c1, running[2] + slot * G, running[3] + slot * G, bn.training, bn.eps,
                  st.mean_hh, st.var_hh, st.rstd_hh);
  }
  for (int64_t n = s.n0; n < s.n1; ++n) {
    const T *x = xp + n * G, *pn = p + n * G, *cp = c_prev + n * H;
    T* a = acts + n * G;
#pragma omp simd
    for (int64_t u = s.lo; u < s.hi; ++u) {
      T pre[4];
      for (int64_t gate = 0; gate < 4; ++gate) {  // a = BN_ih(x) + BN_hh(p) + b
        const int64_t j = gate * H + u;
        pre[gate] = bn.ih_weight[j] * (x[j] - st.mean_ih[j]) * st.rstd_ih[j] +
                    bn.hh_weight[j] * (pn[j] - st.mean_hh[j]) * st.rstd_hh[j] + bn.bias[j];
      }
      c[n * H + u] = kernels::lstm_unit_forward_store(pre[0], pre[1], pre[2], pre[3], cp[u], u, H, a);
    }
  }
  if (!bn.training) return;
  for (int64_t b0 = s.n0; b0 < s.n1; b0 += kStatRows) {
    T* q = part + b0 / kStatRows * stride + 4 * G;
    column_moments(c, H, b0, std::min(b0 + kStatRows, s.n1), s.lo, s.hi, q, q + H);
  }
}

// BN_c's statistics and h = o·tanh(BN_c(c)).
template <typename T>
NL_SIMD_CLONES void forward_output(const T* acts, const T* c, T* h, const T* part, StepStats<T> st, T* const* running,
                                   int64_t slot, BNParams<T> bn, int64_t N, int64_t H, Share s) {
  const int64_t G = 4 * H;
  bn_statistics(part + 4 * G, kForwardPartsPerUnit * H, H, N, s.lo, s.hi, running[4] + slot * H, running[5] + slot * H,
                bn.training, bn.eps, st.mean_c, st.var_c, st.rstd_c);
  for (int64_t n = s.n0; n < s.n1; ++n)
#pragma omp simd
    for (int64_t u = s.lo; u < s.hi; ++u) {
      T z = bn.c_weight[u] * (c[n * H + u] - st.mean_c[u]) * st.rstd_c[u] + bn.c_bias[u];
      h[n * H + u] = acts[n * G + 3 * H + u] * tanh(z);
    }
}

// ---- backward of one step, in three parts as the forward

// The parameter gradients' sums, one slot per channel: dγ_ih, dγ_hh, db (4H), dγ_c, dβ_c (H).
template <typename T>
struct BNParamGrads {
  T *ih_weight, *hh_weight, *bias, *c_weight, *c_bias;
};

// What the backward's parts share. dh (N, H) holds dp_{t+1}·W_hh (for t = T:
// the gradient reaching h_n); dc the gradient reaching c_t, replaced by the
// one reaching c_{t−1}. da (N, 4H) and dz (N, H) are one step's scratch; dx
// and dp (N, 4H) the step's outputs. coef_c and coef_g: a thread's own
// coefficients (column_bn_coefficients) of BN_c and of BN_ih and BN_hh.
template <typename T>
struct BackwardStep {
  const T *xp, *p, *acts, *c_prev, *c, *dy, *dh;
  StepStats<T> st;
  T *dc, *da, *dz, *dx, *dp, *part, *coef_c, *coef_g;
};

// BN_c, and BN_ih and BN_hh (which share their output gradient da), as column_bn_* take them.
template <typename T>
ColumnBN<T> bn_c_of(const BackwardStep<T>& b, const BNParams<T>& bn, const BNParamGrads<T>& grads) {
  return {b.c, b.dz, b.st.mean_c, b.st.rstd_c, bn.c_weight, grads.c_weight};
}
template <typename T>
struct GateBNs {
  ColumnBN<T> of[2];
};
template <typename T>
GateBNs<T> gate_bns_of(const BackwardStep<T>& b, const BNParams<T>& bn, const BNParamGrads<T>& grads) {
  return {{{b.xp, b.dx, b.st.mean_ih, b.st.rstd_ih, bn.ih_weight, grads.ih_weight},
           {b.p, b.dp, b.st.mean_hh, b.st.rstd_hh, bn.hh_weight, grads.hh_weight}}};
}

// Through h = o·tanh(z): da_o and dz, and each row block's sums of BN_c.
template <typename T>
NL_SIMD_CLONES void backward_output(BackwardStep<T> b, BNParams<T> bn, BNParamGrads<T> grads, int64_t H, Share s) {
  const int64_t G = 4 * H;
  for (int64_t n = s.n0; n < s.n1; ++n)
#pragma omp simd
    for (int64_t u = s.lo; u < s.hi; ++u) {
      T z = bn.c_weight[u] * (b.c[n * H + u] - b.st.mean_c[u]) * b.st.rstd_c[u] + bn.c_bias[u];
      T th = tanh(z), o = b.acts[n * G + 3 * H + u], dh_u = b.dy[n * H + u] + b.dh[n * H + u];
      b.da[n * G + 3 * H + u] = dh_u * th * o * (1 - o);
      b.dz[n * H + u] = dh_u * o * (1 - th * th);
    }
  for (int64_t b0 = s.n0; b0 < s.n1; b0 += kStatRows)
    column_bn_sums<T, 1>(b.dz, {bn_c_of(b, bn, grads)}, H, H, b0, std::min(b0 + kStatRows, s.n1), s.lo, s.hi,
                         b.part + b0 / kStatRows * kBackwardPartsPerUnit * H);
}

// BN_c backward (dz becomes its input gradient, in place), the cell rule with
// dc = dc_next + BN_c's dc, and each row block's sums of BN_ih and BN_hh.
template <typename T>
NL_SIMD_CLONES void backward_cell(BackwardStep<T> b, BNParams<T> bn, BNParamGrads<T> grads, int64_t N, int64_t H,
                                  Share s) {
  const int64_t G = 4 * H, stride = kBackwardPartsPerUnit * H;
  const ColumnBN<T> bn_c[1] = {bn_c_of(b, bn, grads)};
  column_bn_coefficients<T, 1>(b.part, stride, bn_c, H, N, s.lo, s.hi, bn.training, s.writer, grads.c_bias, b.coef_c);
  column_bn_apply<T, 1>(b.dz, bn_c, H, H, b.coef_c, s.n0, s.n1, s.lo, s.hi);
  for (int64_t n = s.n0; n < s.n1; ++n) {
    const T* a = b.acts + n * G;
    T* d = b.da + n * G;
#pragma omp simd
    for (int64_t u = s.lo; u < s.hi; ++u) {  // the cell rule (its output gate done in backward_output)
      kernels::LstmUnitGrads<T> g =
          kernels::lstm_unit_backward(a[u], a[H + u], a[2 * H + u], a[3 * H + u], b.c_prev[n * H + u], T(0), T(0),
                                      b.dc[n * H + u] + b.dz[n * H + u]);
      d[u] = g.da_i;
      d[H + u] = g.da_f;
      d[2 * H + u] = g.da_g;
      b.dc[n * H + u] = g.dc_prev;
    }
  }
  const GateBNs<T> gates = gate_bns_of(b, bn, grads);
  for (int64_t b0 = s.n0; b0 < s.n1; b0 += kStatRows)
    for (int64_t gate = 0; gate < 4; ++gate)
      column_bn_sums<T, 2>(b.da, gates.of, G, G, b0, std::min(b0 + kStatRows, s.n1), gate * H + s.lo, gate * H + s.hi,
                           b.part + b0 / kStatRows * stride + 2 * H);
}

// BN_ih and BN_hh backward: dx = BN_ih's input gradient, dp = BN_hh's; db = Σ da.
template <typename T>
NL_SIMD_CLONES void backward_inputs(BackwardStep<T> b, BNParams<T> bn, BNParamGrads<T> grads, int64_t N, int64_t H,
                                    Share s) {
  const int64_t G = 4 * H;
  const GateBNs<T> gates = gate_bns_of(b, bn, grads);
  for (int64_t gate = 0; gate < 4; ++gate) {
    const int64_t c0 = gate * H + s.lo, c1 = gate * H + s.hi;
    column_bn_coefficients<T, 2>(b.part + 2 * H, kBackwardPartsPerUnit * H, gates.of, G, N, c0, c1, bn.training,
                                 s.writer, grads.bias, b.coef_g);
    column_bn_apply<T, 2>(b.da, gates.of, G, G, b.coef_g, s.n0, s.n1, c0, c1);
  }
}

}  // namespace

LSTMSequenceResult batch_norm_lstm_sequence(const Tensor& x_proj_in, const Tensor& h0_in, const Tensor& c0_in,
                                            const Tensor& weight_hh_in, const Tensor& ih_weight, const Tensor& hh_weight,
                                            const Tensor& bias, const Tensor& c_weight, const Tensor& c_bias,
                                            const BNLSTMRunningStats& running, int64_t start_step, bool training,
                                            double momentum, double eps) {
  const char* op = "batch_norm_lstm_sequence";
  const ops::LSTMSizes sizes = ops::check_lstm_sequence(op, x_proj_in, h0_in, c0_in, weight_hh_in);
  const int64_t T = sizes.T, N = sizes.N, H = sizes.H;  // (not a structured binding: the rule captures them)
  ops::check_lstm_norm_params(op, x_proj_in, {{"ih_weight", &ih_weight, 4 * H, true},
                                              {"hh_weight", &hh_weight, 4 * H, true},
                                              {"bias", &bias, 4 * H, false},
                                              {"c_weight", &c_weight, H, true},
                                              {"c_bias", &c_bias, H, true}});
  const Tensor* stats_in[] = {&running.mean_ih, &running.var_ih, &running.mean_hh,
                              &running.var_hh,  &running.mean_c, &running.var_c};
  const char* stat_names[] = {"mean_ih", "var_ih", "mean_hh", "var_hh", "mean_c", "var_c"};
  const int64_t S = running.mean_c.defined() && running.mean_c.dim() == 2 ? running.mean_c.size(0) : 0;
  for (int k = 0; k < 6; ++k) {
    const Tensor& r = *stats_in[k];
    const Shape expected{S, k < 4 ? 4 * H : H};
    if (S < 1 || !r.defined() || r.shape() != expected || r.dtype() != x_proj_in.dtype() || !r.is_contiguous())
      fail("{}: running.{} must be a contiguous {} tensor of shape (max_steps, {}) with max_steps >= 1, the same for "
           "all six (x_proj {}), got {}",
           op, stat_names[k], x_proj_in.dtype(), k < 4 ? 4 * H : H, x_proj_in.shape(),
           r.defined() ? fmt::format("{} {}", r.dtype(), r.shape()) : std::string("undefined"));
  }
  if (start_step < 0) fail("{}: start_step must be >= 0, got {}", op, start_step);
  if (training && N < 2)
    fail("{}: expected more than 1 value per channel when training, got x_proj {}", op, x_proj_in.shape());
  if (!(eps > 0)) fail("{}: eps must be > 0, got {}", op, eps);
  if (!(momentum >= 0 && momentum <= 1)) fail("{}: momentum must be in [0, 1], got {}", op, momentum);

  Tensor x_proj = x_proj_in.contiguous(), h0 = h0_in.contiguous(), w = weight_hh_in.contiguous();
  const DType dtype = x_proj.dtype();
  Tensor params = cat({ih_weight.detach(), hh_weight.detach(), bias.defined() ? bias.detach() : zeros({4 * H}, dtype),
                       c_weight.detach(), c_bias.detach()},
                      0);  // 14H values
  Tensor out = Tensor::make({T, N, H}, dtype, op);  // h_1 .. h_T
  Tensor acts = Tensor::make({T, N, 4 * H}, dtype, op);
  Tensor products = Tensor::make({T, N, 4 * H}, dtype, op);  // p_t = h_{t−1}·W_hhᵀ
  Tensor cells = Tensor::make({T + 1, N, H}, dtype, op);     // c_0 .. c_T
  Tensor stats = Tensor::make({T, kStatsPerUnit * H}, dtype, op);  // StepStats per step
  cells.select(0, 0).copy_(c0_in.detach());
  auto slot = [=](int64_t t) { return std::min(start_step + t, S - 1); };
  const ops::SequenceSplit split = ops::split_plain_lstm(N, H, dtype, kStatRows);
  // one step's partial statistics, shared by the threads (unused in eval, but the
  // parts' pointers into it stay valid)
  Tensor parts = Tensor::make({stat_blocks(N), kForwardPartsPerUnit * H}, dtype, op);
  dispatch_floating(op, dtype, [&]<typename U>() {
    const int64_t step = N * H;
    Tensor packed = ops::pack_gates_interleaved(w.data<U>(), H, op);
    const BNParams<U> bn = bn_params<U>(params, H, eps, training);
    U* run[6];
    for (int k = 0; k < 6; ++k) run[k] = stats_in[k]->data<U>();
    U *c = cells.data<U>(), *h = out.data<U>(), *part = parts.data<U>();
    ops::on_split_threads(split, [&](int64_t lo, int64_t hi) {
      const Share s = share_of(split, lo, hi, N, H);
      std::vector<U> own_stats(s.writer ? 0 : size_t(kStatsPerUnit * H));  // a non-writer's copy of the statistics
      auto meet = [&] {  // by rows: every block's partial statistics written
        if (split.by_rows && training) ops::step_barrier();
      };
      for (int64_t t = 0; t < T; ++t) {
        const U* xp = x_proj.data<U>() + t * 4 * step;
        U *p = products.data<U>() + t * 4 * step, *a = acts.data<U>() + t * 4 * step;
        const StepStats<U> st = s.writer ? step_stats(stats.data<U>(), t, H) : step_stats(own_stats.data(), 0, H);
        forward_products<U>(packed.data<U>(), xp, t == 0 ? h0.data<U>() : h + (t - 1) * step, p, part, training, H, s);
        meet();
        forward_cell<U>(xp, p, c + t * step, a, c + (t + 1) * step, part, st, run, slot(t), bn, N, H, s);
        meet();
        forward_output<U>(a, c + (t + 1) * step, h + t * step, part, st, run, slot(t), bn, N, H, s);
        if (!split.by_rows) ops::step_barrier();  // h_t complete: every unit's product reads all of it
      }
    });
    if (training) {  // the running statistics, step by step as batch_norm updates them
      const double bessel = double(N) / double(N - 1);
      for (int64_t t = 0; t < T; ++t) {
        StepStats<U> st = step_stats(stats.data<U>(), t, H);
        const U* batch[] = {st.mean_ih, st.var_ih, st.mean_hh, st.var_hh, st.mean_c, st.var_c};
        for (int k = 0; k < 6; ++k) {
          const int64_t width = k < 4 ? 4 * H : H;
          U* r = run[k] + slot(t) * width;
          for (int64_t j = 0; j < width; ++j)
            r[j] = U((1 - momentum) * r[j] + momentum * batch[k][j] * (k % 2 == 1 ? bessel : 1.0));
        }
      }
    }
  });
  LSTMSequenceResult result{out, out.select(0, T - 1), cells.select(0, T).clone()};
  if (!needs_grad(x_proj_in, h0_in, c0_in, weight_hh_in, ih_weight, hh_weight, bias, c_weight, c_bias)) return result;

  bool want_dh0 = needs_grad(h0_in), want_dc0 = needs_grad(c0_in), want_dw = needs_grad(weight_hh_in);
  bool has_bias = bias.defined();
  attach({result.output, result.h_n, result.c_n}, op,
         {x_proj_in, h0_in, c0_in, weight_hh_in, ih_weight, hh_weight, bias, c_weight, c_bias},
         save(x_proj, h0, w, params, out, acts, products, cells, stats),
         [T, N, H, eps, training, want_dh0, want_dc0, want_dw, has_bias](
             const Tensor& d_output, const Tensor& dh_n, const Tensor& dc_n, const Tensor& x_proj, const Tensor& h0,
             const Tensor& w, const Tensor& params, const Tensor& out, const Tensor& acts, const Tensor& products,
             const Tensor& cells, const Tensor& stats) -> Grads {
           const char* backward_op = "batch_norm_lstm_sequence_backward";
           Tensor dy = d_output.contiguous();
           const DType dtype = dy.dtype();
           Tensor dx = Tensor::make({T, N, 4 * H}, dtype, backward_op);  // the gradient of x_proj
           Tensor dp = Tensor::make({T, N, 4 * H}, dtype, backward_op);  // of the recurrent products
           Tensor da = Tensor::make({N, 4 * H}, dtype, backward_op);     // one step's gate gradients
           Tensor dz = Tensor::make({N, H}, dtype, backward_op);         // one step's BN_c output gradient
           Tensor dh = dh_n.clone();  // dp_{t+1}·W_hh (for h_T: the gradient reaching h_n)
           Tensor dc = dc_n.clone();  // the gradient reaching c_t (c_T: the one reaching c_n)
           Tensor dparams = zeros({14 * H}, dtype);  // [dγ_ih | dγ_hh | db | dγ_c | dβ_c]
           Tensor dw = want_dw ? Tensor::make({4 * H, H}, dtype, backward_op) : Tensor();
           const ops::SequenceSplit split = ops::split_plain_lstm(N, H, dtype, kStatRows);
           Tensor parts = Tensor::make({stat_blocks(N), kBackwardPartsPerUnit * H}, dtype,
                                       backward_op);  // one step's partial sums, shared by the threads
           dispatch_floating(backward_op, dtype, [&]<typename U>() {
             const int64_t step = N * H;
             Tensor packed = ops::pack_for_hidden_gradient(w.data<U>(), H, backward_op);
             const BNParams<U> bn = bn_params<U>(params, H, eps, training);
             U* g = dparams.data<U>();
             const BNParamGrads<U> grads{g, g + 4 * H, g + 8 * H, g + 12 * H, g + 13 * H};
             const U* c = cells.data<U>();
             ops::on_split_threads(split, [&](int64_t lo, int64_t hi) {
               const Share s = share_of(split, lo, hi, N, H);
               std::vector<U> coef(size_t(column_bn_coefficients_size(1) * H + column_bn_coefficients_size(2) * 4 * H));
               auto meet = [&] {  // by rows: every block's partial sums written
                 if (split.by_rows) ops::step_barrier();
               };
               for (int64_t t = T - 1; t >= 0; --t) {
                 U* dp_t = dp.data<U>() + t * 4 * step;
                 const BackwardStep<U> b{x_proj.data<U>() + t * 4 * step,
                                         products.data<U>() + t * 4 * step,
                                         acts.data<U>() + t * 4 * step,
                                         c + t * step,
                                         c + (t + 1) * step,
                                         dy.data<U>() + t * step,
                                         dh.data<U>(),
                                         step_stats(stats.data<U>(), t, H),
                                         dc.data<U>(),
                                         da.data<U>(),
                                         dz.data<U>(),
                                         dx.data<U>() + t * 4 * step,
                                         dp_t,
                                         parts.data<U>(),
                                         coef.data(),
                                         coef.data() + column_bn_coefficients_size(1) * H};
                 backward_output<U>(b, bn, grads, H, s);
                 meet();
                 backward_cell<U>(b, bn, grads, N, H, s);
                 meet();
                 backward_inputs<U>(b, bn, grads, N, H, s);
                 if (!split.by_rows) ops::step_barrier();  // dp_t complete: every unit's dh needs all of it
                 if (t > 0 || want_dh0)  // dh = dp_t·W_hh, this thread's rows and units (the ones it reads next step)
                   ops::hidden_gradient<U>(packed.data<U>(), dp_t + s.n0 * 4 * H, dh.data<U>() + s.n0 * H, s.n1 - s.n0,
                                           H, s.lo, s.hi);
               }
             });
             if (want_dw)
               ops::recurrent_weight_gradient<U>(dp.data<U>(), h0.data<U>(), out.data<U>(), T, N, H, dw.data<U>());
           });
           return {dx,
                   want_dh0 ? dh : Tensor(),
                   want_dc0 ? dc : Tensor(),
                   dw,
                   dparams.slice(0, 0, 4 * H),
                   dparams.slice(0, 4 * H, 8 * H),
                   has_bias ? dparams.slice(0, 8 * H, 12 * H) : Tensor(),
                   dparams.slice(0, 12 * H, 13 * H),
                   dparams.slice(0, 13 * H, 14 * H)};
         });
  return result;
}

// ---- the composed reference, step by step (what layers::LSTM ran before this op):
// step t's BNs use row min(start_step + t, S − 1) of the running statistics
// (views, which batch_norm updates in place in training)
LSTMSequenceResult reference::batch_norm_lstm_sequence(const Tensor& x_proj, const Tensor& h0, const Tensor& c0,
                                                       const Tensor& weight_hh, const Tensor& ih_weight,
                                                       const Tensor& hh_weight, const Tensor& bias,
                                                       const Tensor& c_weight, const Tensor& c_bias,
                                                       const BNLSTMRunningStats& running, int64_t start_step,
                                                       bool training, double momentum, double eps) {
  const int64_t H = h0.size(1), S = running.mean_c.size(0);
  Tensor h = h0, c = c0;
  std::vector<Tensor> outputs;
  for (int64_t t = 0; t < x_proj.size(0); ++t) {
    const int64_t slot = std::min(start_step + t, S - 1);
    auto bn = [&](const Tensor& v, const Tensor& mean, const Tensor& var, const Tensor& gamma, const Tensor& beta) {
      return nl::batch_norm(v, mean.select(0, slot), var.select(0, slot), gamma, beta, training, momentum, eps);
    };
    Tensor a = bn(x_proj.select(0, t), running.mean_ih, running.var_ih, ih_weight, Tensor()) +
               bn(matmul(h, weight_hh.t()), running.mean_hh, running.var_hh, hh_weight, Tensor());
    if (bias.defined()) a = a + bias;
    c = lstm_cell_state(a, c);
    h = sigmoid(a.slice(1, 3 * H, 4 * H)) * tanh(bn(c, running.mean_c, running.var_c, c_weight, c_bias));
    outputs.push_back(h);
  }
  return {stack(outputs, 0), h, c};
}

}  // namespace nl
