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
// Threads: BatchNorm's statistics are per channel over the rows, so the
// threads split the hidden units as the plain op does (core/ops/lstm_sequence.cpp):
// a thread owns blocks of 32 units, all four gates of each, for every row and
// step. Each channel's statistics, its normalization and its parameter
// gradients are then one thread's, summed in one order whatever the thread
// count, and the threads meet once per step, as in the plain op (h_t, or dp_t
// in backward, must be complete before anyone multiplies by it). The forward
// saves p_t, the activations, c_t and each step's means and variances.
#include <cmath>
#include <vector>

#include "core/kernels/lstm_unit.h"
#include "core/kernels/simd.h"
#include "core/kernels/vec_math.h"
#include "core/ops/lstm_helpers.h"

namespace nl {

namespace {
using kernels::vec::tanh;

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

// Columns [c0, c1) of v (N rows, leading dimension ld): mean and biased
// variance over the rows, two passes (no cancellation).
template <typename T>
__attribute__((always_inline)) inline void column_moments(const T* v, int64_t ld, int64_t N, int64_t c0, int64_t c1,
                                                          T* mean, T* var) {
  for (int64_t c = c0; c < c1; ++c) mean[c] = var[c] = 0;
  for (int64_t n = 0; n < N; ++n)
#pragma omp simd
    for (int64_t c = c0; c < c1; ++c) mean[c] += v[n * ld + c];
  for (int64_t c = c0; c < c1; ++c) mean[c] /= T(N);
  for (int64_t n = 0; n < N; ++n)
#pragma omp simd
    for (int64_t c = c0; c < c1; ++c) var[c] += (v[n * ld + c] - mean[c]) * (v[n * ld + c] - mean[c]);
  for (int64_t c = c0; c < c1; ++c) var[c] /= T(N);
}

// The backward of K BatchNorms whose outputs are summed into one gradient dy
// (BN_ih and BN_hh both feed a; K = 1 for BN_c), columns [c0, c1) of N rows,
// every array with leading dimension ld. BN k normalizes v_k with its mean and
// rstd and weight w_k; it writes dv_k (dv may be dy when K = 1) and adds Σ dy·xhat_k to
// dw_k, and Σ dy to db when not null. With Σdxhat = w·Σdy and Σdxhat·xhat =
// w·Σdy·xhat, training's rule dv = rstd·w/N·(N·dy − Σdy − xhat·Σdy·xhat) is,
// per column, dv = A·dy + B·(v − mean) + C with
//   A = rstd·w,  B = −A·rstd·Σ(dy·xhat)/N,  C = −A·Σdy/N
// (eval: dv = A·dy), so the second pass is two FMAs per value, no division.
// scratch: column_bn_scratch(K)·(c1 − c0) values.
constexpr int64_t column_bn_scratch(int K) { return 1 + 3 * int64_t(K); }  // Σdy, then A, B, C per BN
template <typename T>
struct ColumnBN {
  const T* v;  // the BN's input
  T* dv;       // its input gradient
  const T *mean, *rstd, *w;
  T* dw;
};
template <typename T, int K>
__attribute__((always_inline)) inline void column_bn_backward(const T* dy, const ColumnBN<T> (&bns)[K], int64_t ld,
                                                              int64_t N, int64_t c0, int64_t c1, bool training, T* db,
                                                              T* scratch) {
  const int64_t width = c1 - c0;
  T* sum_dy = scratch;  // column c at index c − c0; then A, B, C of BN k at scratch + (1 + 3k + {0,1,2})·width
  T* coef = scratch + width;
  for (int64_t i = 0; i < column_bn_scratch(K) * width; ++i) scratch[i] = 0;
  for (int64_t n = 0; n < N; ++n) {  // Σdy and each Σdy·xhat (in the A slots)
    const T* g = dy + n * ld;
#pragma omp simd
    for (int64_t c = c0; c < c1; ++c) sum_dy[c - c0] += g[c];
    for (int k = 0; k < K; ++k) {
      const T *v = bns[k].v + n * ld, *mean = bns[k].mean, *rstd = bns[k].rstd;
      T* sum_dy_xhat = coef + 3 * k * width;
#pragma omp simd
      for (int64_t c = c0; c < c1; ++c) sum_dy_xhat[c - c0] += g[c] * (v[c] - mean[c]) * rstd[c];
    }
  }
  if (db)
    for (int64_t c = c0; c < c1; ++c) db[c] += sum_dy[c - c0];  // dβ = Σ dy
  const T inv_n = T(1) / T(N);
  for (int k = 0; k < K; ++k) {
    const ColumnBN<T>& bn = bns[k];
    T *A = coef + 3 * k * width, *B = A + width, *C = B + width;
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t i = c - c0;
      const T sum_dy_xhat = A[i], a = bn.rstd[c] * bn.w[c];
      bn.dw[c] += sum_dy_xhat;  // dγ = Σ dy·xhat
      A[i] = a;
      B[i] = training ? -a * bn.rstd[c] * sum_dy_xhat * inv_n : T(0);
      C[i] = training ? -a * sum_dy[i] * inv_n : T(0);
    }
  }
  for (int64_t n = 0; n < N; ++n) {
    const T* g = dy + n * ld;
    for (int k = 0; k < K; ++k) {
      const T *v = bns[k].v + n * ld, *mean = bns[k].mean, *A = coef + 3 * k * width, *B = A + width, *C = B + width;
      T* dv = bns[k].dv + n * ld;
#pragma omp simd
      for (int64_t c = c0; c < c1; ++c) dv[c] = A[c - c0] * g[c] + (B[c - c0] * (v[c] - mean[c]) + C[c - c0]);
    }
  }
}

// One BN's statistics for columns [c0, c1) of v (N rows, leading dimension
// ld): mean and variance from the batch in training, else the running
// statistics' row of this step's slot; then rstd = 1/√(var + eps).
template <typename T>
__attribute__((always_inline)) inline void bn_statistics(const T* v, int64_t ld, int64_t N, int64_t c0, int64_t c1,
                                                         const T* running_mean, const T* running_var, bool training,
                                                         T eps, T* mean, T* var, T* rstd) {
  if (training) {
    column_moments(v, ld, N, c0, c1, mean, var);
  } else {
    std::copy(running_mean + c0, running_mean + c1, mean + c0);
    std::copy(running_var + c0, running_var + c1, var + c0);
  }
  for (int64_t c = c0; c < c1; ++c) rstd[c] = T(1) / std::sqrt(var[c] + eps);
}

// Forward of one step, units [lo, hi), every row.
template <typename T>
NL_SIMD_CLONES void step_forward(const T* packed, const T* xp, const T* h_prev, const T* c_prev, T* p, T* acts, T* c,
                                 T* h, StepStats<T> st, T* const* running, int64_t slot, BNParams<T> bn, int64_t N,
                                 int64_t H, int64_t lo, int64_t hi) {
  const int64_t G = 4 * H;
  ops::gate_products(packed, h_prev, p, N, H, lo, hi);  // p = h_{t−1}·W_hhᵀ, these units' four gates
  for (int64_t gate = 0; gate < 4; ++gate) {  // BN_ih's and BN_hh's statistics, these units' columns
    const int64_t c0 = gate * H + lo, c1 = gate * H + hi;
    bn_statistics(xp, G, N, c0, c1, running[0] + slot * G, running[1] + slot * G, bn.training, bn.eps, st.mean_ih,
                  st.var_ih, st.rstd_ih);
    bn_statistics(p, G, N, c0, c1, running[2] + slot * G, running[3] + slot * G, bn.training, bn.eps, st.mean_hh,
                  st.var_hh, st.rstd_hh);
  }
  for (int64_t n = 0; n < N; ++n) {
    const T *x = xp + n * G, *pn = p + n * G, *cp = c_prev + n * H;
    T* a = acts + n * G;
#pragma omp simd
    for (int64_t u = lo; u < hi; ++u) {
      T pre[4];
      for (int64_t gate = 0; gate < 4; ++gate) {  // a = BN_ih(x) + BN_hh(p) + b
        const int64_t j = gate * H + u;
        pre[gate] = bn.ih_weight[j] * (x[j] - st.mean_ih[j]) * st.rstd_ih[j] +
                    bn.hh_weight[j] * (pn[j] - st.mean_hh[j]) * st.rstd_hh[j] + bn.bias[j];
      }
      c[n * H + u] = kernels::lstm_unit_forward_store(pre[0], pre[1], pre[2], pre[3], cp[u], u, H, a);
    }
  }
  bn_statistics(c, H, N, lo, hi, running[4] + slot * H, running[5] + slot * H, bn.training, bn.eps, st.mean_c,
                st.var_c, st.rstd_c);
  for (int64_t n = 0; n < N; ++n)
#pragma omp simd
    for (int64_t u = lo; u < hi; ++u) {  // h = o·tanh(BN_c(c))
      T z = bn.c_weight[u] * (c[n * H + u] - st.mean_c[u]) * st.rstd_c[u] + bn.c_bias[u];
      h[n * H + u] = acts[n * G + 3 * H + u] * tanh(z);
    }
}

// The parameter gradients' sums, one slot per channel (owned by one thread): dγ_ih, dγ_hh, db (4H), dγ_c, dβ_c (H).
template <typename T>
struct BNParamGrads {
  T *ih_weight, *hh_weight, *bias, *c_weight, *c_bias;
};

// Backward of one step, units [lo, hi), every row. dh (N, H) holds dp_{t+1}·W_hh
// (for t = T: the gradient reaching h_n); dc the gradient reaching c_t, replaced
// by the one reaching c_{t−1}. da (N, 4H) and dz (N, H) are scratch shared
// by the threads (each writes its own columns); dx and dp (N, 4H) the step's outputs.
template <typename T>
NL_SIMD_CLONES void step_backward(const T* xp, const T* p, const T* acts, const T* c_prev, const T* c,
                                  StepStats<T> st, const T* dy, const T* dh, T* dc, T* da, T* dz, T* dx, T* dp,
                                  BNParamGrads<T> grads, T* scratch, BNParams<T> bn, int64_t N, int64_t H, int64_t lo,
                                  int64_t hi) {
  const int64_t G = 4 * H;
  for (int64_t n = 0; n < N; ++n)
#pragma omp simd
    for (int64_t u = lo; u < hi; ++u) {  // through h = o·tanh(z): da_o and dz
      T z = bn.c_weight[u] * (c[n * H + u] - st.mean_c[u]) * st.rstd_c[u] + bn.c_bias[u];
      T th = tanh(z), o = acts[n * G + 3 * H + u], dh_u = dy[n * H + u] + dh[n * H + u];
      da[n * G + 3 * H + u] = dh_u * th * o * (1 - o);
      dz[n * H + u] = dh_u * o * (1 - th * th);
    }
  // dz becomes BN_c's input gradient, in place
  column_bn_backward<T, 1>(dz, {{c, dz, st.mean_c, st.rstd_c, bn.c_weight, grads.c_weight}}, H, N, lo, hi, bn.training,
                           grads.c_bias, scratch);
  for (int64_t n = 0; n < N; ++n) {
    const T* a = acts + n * G;
    T* d = da + n * G;
#pragma omp simd
    for (int64_t u = lo; u < hi; ++u) {  // the cell rule with dc = dc_next + BN_c's dc (its output gate done above)
      kernels::LstmUnitGrads<T> g = kernels::lstm_unit_backward(a[u], a[H + u], a[2 * H + u], a[3 * H + u],
                                                                c_prev[n * H + u], T(0), T(0),
                                                                dc[n * H + u] + dz[n * H + u]);
      d[u] = g.da_i;
      d[H + u] = g.da_f;
      d[2 * H + u] = g.da_g;
      dc[n * H + u] = g.dc_prev;
    }
  }
  // BN_ih and BN_hh backward per gate's columns (one pass over da), and db = Σ da
  for (int64_t gate = 0; gate < 4; ++gate) {
    const int64_t c0 = gate * H + lo, c1 = gate * H + hi;
    column_bn_backward<T, 2>(da,
                             {{xp, dx, st.mean_ih, st.rstd_ih, bn.ih_weight, grads.ih_weight},
                              {p, dp, st.mean_hh, st.rstd_hh, bn.hh_weight, grads.hh_weight}},
                             G, N, c0, c1, bn.training, grads.bias, scratch);
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
  dispatch_floating(op, dtype, [&]<typename U>() {
    const int64_t step = N * H;
    Tensor packed = ops::pack_gates_interleaved(w.data<U>(), H, op);
    const BNParams<U> bn = bn_params<U>(params, H, eps, training);
    U* run[6];
    for (int k = 0; k < 6; ++k) run[k] = stats_in[k]->data<U>();
    U *c = cells.data<U>(), *h = out.data<U>();
    ops::on_split_threads(ops::split_units(N, H), [&](int64_t lo, int64_t hi) {
      for (int64_t t = 0; t < T; ++t) {
        step_forward<U>(packed.data<U>(), x_proj.data<U>() + t * 4 * step, t == 0 ? h0.data<U>() : h + (t - 1) * step,
                        c + t * step, products.data<U>() + t * 4 * step, acts.data<U>() + t * 4 * step,
                        c + (t + 1) * step, h + t * step, step_stats(stats.data<U>(), t, H), run, slot(t), bn, N, H,
                        lo, hi);
        ops::step_barrier();
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
           dispatch_floating(backward_op, dtype, [&]<typename U>() {
             const int64_t step = N * H;
             Tensor packed = ops::pack_for_hidden_gradient(w.data<U>(), H, backward_op);
             const BNParams<U> bn = bn_params<U>(params, H, eps, training);
             U* g = dparams.data<U>();
             const BNParamGrads<U> grads{g, g + 4 * H, g + 8 * H, g + 12 * H, g + 13 * H};
             const U* c = cells.data<U>();
             ops::on_split_threads(ops::split_units(N, H), [&](int64_t lo, int64_t hi) {
               std::vector<U> scratch(size_t(column_bn_scratch(2) * std::max<int64_t>(hi - lo, 1)));
               for (int64_t t = T - 1; t >= 0; --t) {
                 U* dp_t = dp.data<U>() + t * 4 * step;
                 step_backward<U>(x_proj.data<U>() + t * 4 * step, products.data<U>() + t * 4 * step,
                                  acts.data<U>() + t * 4 * step, c + t * step, c + (t + 1) * step,
                                  step_stats(stats.data<U>(), t, H), dy.data<U>() + t * step, dh.data<U>(),
                                  dc.data<U>(), da.data<U>(), dz.data<U>(), dx.data<U>() + t * 4 * step, dp_t, grads,
                                  scratch.data(), bn, N, H, lo, hi);
                 ops::step_barrier();    // dp_t complete: every unit's dh needs all of it
                 if (t > 0 || want_dh0)  // dh = dp_t·W_hh, this thread's units (the ones it reads next step)
                   ops::hidden_gradient<U>(packed.data<U>(), dp_t, dh.data<U>(), N, H, lo, hi);
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
