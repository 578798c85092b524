// layer_norm_lstm_sequence: the layer-normalized LSTM (Ba, Kiros & Hinton
// 2016) over a whole sequence as one op, the counterpart of lstm_sequence
// (the plain cell) for layers::LSTM's layer_norm cell. x_proj (T, N, 4H)
// holds LN_ih(W_ih·x_t) of every step (one GEMM and one LayerNorm over all
// T·N rows before this op); gates in PyTorch's order [i | f | g | o].
//
//   forward, t = 1..T:  p_t = h_{t−1}·W_hhᵀ                  (the recurrent product)
//                       a_t = x_proj[t] + LN_hh(p_t)          (LN over the 4H values of a row)
//                       i, f, g, o = σ(a_i), σ(a_f), tanh(a_g), σ(a_o)
//                       c_t = f·c_{t−1} + i·g
//                       z_t = LN_c(c_t),  h_t = o·tanh(z_t)   (LN over the H values)
//   backward, t = T..1: dh = dy_t + dp_{t+1}·W_hh
//                       da_o = dh·tanh(z)·o(1 − o),  dz = dh·o·(1 − tanh²z)
//                       dc = dc_next + LN_c backward(dz)
//                       da_i, da_f, da_g, dc_{t−1} by the cell rule (core/kernels/lstm_unit.h)
//                       dp_t = LN_hh backward(da_t)
//   then:               dW_hh = Σ_t dp_tᵀ·h_{t−1}  (one GEMM over K = T·N rows)
//                       dx_proj = [da_1 .. da_T],  dh_0 = dp_1·W_hh,  dc_0
//                       dγ_hh = Σ da·p̂,  dβ_hh = Σ da,  dγ_c = Σ dz·ĉ,  dβ_c = Σ dz
//
// The LayerNorm rows are core/kernels/layer_norm_rows.h, the ones layer_norm
// runs. The forward saves p_t, the activations, c_t and each row's two means
// and rstds; LN(c) and tanh are recomputed in the backward.
//
// Threads: both LayerNorms need a whole row, and the rows of a batch never
// meet until the weight gradients. So each thread owns a block of rows for
// the whole sequence and runs every step of them without waiting for the
// others: no barrier at all (the plain op, split by hidden units, meets once
// per step). At each step a thread takes h_{t−1}·W_hhᵀ for all its rows from
// W_hh packed once per call (core/kernels/packed_panels.h, panel by panel, so
// W_hh streams once per step), then runs the norms and the cell row by row.
// The rows are split evenly. The parameter gradients are summed per
// row over the steps, then over the rows in order, so results do not depend
// on the thread count.
#include <vector>

#include "core/kernels/layer_norm_rows.h"
#include "core/kernels/lstm_unit.h"
#include "core/kernels/simd.h"
#include "core/kernels/vec_math.h"
#include "core/ops/lstm_helpers.h"

namespace nl {

namespace {
using kernels::panel_count;
using kernels::vec::tanh;

// Per-row statistics saved by the forward: mean and rstd of LN_hh, then of LN_c.
constexpr int64_t kStats = 4;

// The norms' parameters (γ, β of LN_hh over 4H and of LN_c over H) and eps.
template <typename T>
struct LNParams {
  const T *hh_weight, *hh_bias, *c_weight, *c_bias;
  T eps;
};

// γ_hh, β_hh, γ_c, β_c side by side in params (10H values: 4H, 4H, H, H).
template <typename T>
LNParams<T> ln_params(const Tensor& params, int64_t H, double eps) {
  const T* v = params.data<T>();
  return {v, v + 4 * H, v + 8 * H, v + 9 * H, T(eps)};
}

// Forward of one step for rows [n0, n0 + rows). Pointers
// are the step's: xp and acts (N, 4H), h_prev, c_prev, c, h (N, H), p (N, 4H)
// the recurrent products, stats (N, kStats).
template <typename T>
NL_SIMD_CLONES void step_forward(const T* packed, const T* xp, const T* h_prev, const T* c_prev, T* p, T* acts, T* c,
                                 T* h, T* stats, LNParams<T> ln, int64_t H, int64_t n0, int64_t rows) {
  const int64_t G = 4 * H;
  kernels::panel_products(h_prev + n0 * H, H, rows, packed, H, G, 0, panel_count(G), p + n0 * G, G);  // p = h·W_hhᵀ
  for (int64_t n = n0; n < n0 + rows; ++n) {
    T* a = acts + n * G;
    const T* x = xp + n * G;
    T* cn = c + n * H;
    T* hn = h + n * H;
    const T* cp = c_prev + n * H;
    auto [m_hh, s_hh] = kernels::layer_norm_row_forward<T>(p + n * G, ln.hh_weight, ln.hh_bias, a, G, ln.eps);
#pragma omp simd
    for (int64_t u = 0; u < H; ++u)  // a = x_proj + LN_hh(p), the gates (in place), c = f·c_prev + i·g
      cn[u] = kernels::lstm_unit_forward_store(x[u] + a[u], x[H + u] + a[H + u], x[2 * H + u] + a[2 * H + u],
                                               x[3 * H + u] + a[3 * H + u], cp[u], u, H, a);
    auto [m_c, s_c] = kernels::layer_norm_row_forward<T>(cn, ln.c_weight, ln.c_bias, hn, H, ln.eps);  // h = z
#pragma omp simd
    for (int64_t u = 0; u < H; ++u) hn[u] = a[3 * H + u] * tanh(hn[u]);  // h = o·tanh(z)
    T* st = stats + n * kStats;
    st[0] = m_hh;
    st[1] = s_hh;
    st[2] = m_c;
    st[3] = s_c;
  }
}

// Backward of one step for rows [n0, n0 + rows). In: dy (N, H), dh (N, H) =
// dp_{t+1}·W_hh (for t = T: the gradient reaching h_n), dc (N, H) the
// gradient reaching c_t. Out: da and dp (N, 4H) of this step, dc overwritten
// with the gradient reaching c_{t−1}, dh with dp_t·W_hh (when next_dh). Row
// n's parameter-gradient sums (row_sums + n·10H: dγ_hh, dβ_hh, dγ_c, dβ_c)
// grow by this step's terms. scratch: 2H values.
template <typename T>
NL_SIMD_CLONES void step_backward(const T* packed, const T* acts, const T* p, const T* c_prev, const T* c,
                                  const T* stats, const T* dy, T* dh, T* dc, T* da, T* dp, T* row_sums, T* scratch,
                                  LNParams<T> ln, int64_t H, int64_t n0, int64_t rows, bool next_dh) {
  const int64_t G = 4 * H;
  T *dz = scratch, *dc_norm = scratch + H;
  for (int64_t n = n0; n < n0 + rows; ++n) {
    const T *a = acts + n * G, *cn = c + n * H, *cp = c_prev + n * H, *st = stats + n * kStats;
    const T *dyn = dy + n * H, *dhn = dh + n * H;
    T* d = da + n * G;
    T* dcn = dc + n * H;
    T* sums = row_sums + n * 10 * H;
#pragma omp simd
    for (int64_t u = 0; u < H; ++u) {  // through h = o·tanh(z): da_o and dz
      T z = (cn[u] - st[2]) * st[3] * ln.c_weight[u] + ln.c_bias[u];
      T th = tanh(z), o = a[3 * H + u], dh_u = dyn[u] + dhn[u];
      d[3 * H + u] = dh_u * th * o * (1 - o);
      dz[u] = dh_u * o * (1 - th * th);
    }
    kernels::layer_norm_row_backward<T>(dz, cn, ln.c_weight, st[2], st[3], dc_norm, sums + 8 * H, sums + 9 * H,
                                        H);
#pragma omp simd
    for (int64_t u = 0; u < H; ++u) {  // the cell rule with dc = dc_next + LN_c's dc (its output gate done above)
      kernels::LstmUnitGrads<T> g =
          kernels::lstm_unit_backward(a[u], a[H + u], a[2 * H + u], a[3 * H + u], cp[u], T(0), T(0), dcn[u] + dc_norm[u]);
      d[u] = g.da_i;
      d[H + u] = g.da_f;
      d[2 * H + u] = g.da_g;
      dcn[u] = g.dc_prev;
    }
    kernels::layer_norm_row_backward<T>(d, p + n * G, ln.hh_weight, st[0], st[1], dp + n * G, sums, sums + G, G);
  }
  if (next_dh)  // dh = dp_t·W_hh for these rows, what h_{t−1} receives
    kernels::panel_products(dp + n0 * G, G, rows, packed, G, H, 0, panel_count(H), dh + n0 * H, H);
}

// out[j] = Σ_n partial[n][j], rows added in order (in double).
template <typename T>
void sum_rows(const T* partial, int64_t rows, int64_t width, T* out) {
  for (int64_t j = 0; j < width; ++j) {
    double total = 0;
    for (int64_t n = 0; n < rows; ++n) total += double(partial[n * width + j]);
    out[j] = T(total);
  }
}

}  // namespace

LSTMSequenceResult layer_norm_lstm_sequence(const Tensor& x_proj_in, const Tensor& h0_in, const Tensor& c0_in,
                                            const Tensor& weight_hh_in, const Tensor& hh_weight, const Tensor& hh_bias,
                                            const Tensor& c_weight, const Tensor& c_bias, double eps) {
  const char* op = "layer_norm_lstm_sequence";
  const ops::LSTMSizes sizes = ops::check_lstm_sequence(op, x_proj_in, h0_in, c0_in, weight_hh_in);
  const int64_t T = sizes.T, N = sizes.N, H = sizes.H;  // (not a structured binding: the rule captures them)
  ops::check_lstm_norm_params(op, x_proj_in, {{"hh_weight", &hh_weight, 4 * H, true},
                                              {"hh_bias", &hh_bias, 4 * H, true},
                                              {"c_weight", &c_weight, H, true},
                                              {"c_bias", &c_bias, H, true}});
  if (!(eps > 0)) fail("{}: eps must be > 0, got {}", op, eps);
  Tensor x_proj = x_proj_in.contiguous(), h0 = h0_in.contiguous(), w = weight_hh_in.contiguous();
  Tensor params = cat({hh_weight.detach(), hh_bias.detach(), c_weight.detach(), c_bias.detach()}, 0);  // 10H values
  const DType dtype = x_proj.dtype();
  Tensor out = Tensor::make({T, N, H}, dtype, op);  // h_1 .. h_T
  Tensor acts = Tensor::make({T, N, 4 * H}, dtype, op);
  Tensor products = Tensor::make({T, N, 4 * H}, dtype, op);  // p_t = h_{t−1}·W_hhᵀ
  Tensor cells = Tensor::make({T + 1, N, H}, dtype, op);     // c_0 .. c_T
  Tensor stats = Tensor::make({T, N, kStats}, dtype, op);
  cells.select(0, 0).copy_(c0_in.detach());
  const ops::SequenceSplit split = ops::split_rows(N, H);
  dispatch_floating(op, dtype, [&]<typename S>() {
    const int64_t step = N * H;
    Tensor packed = Tensor::make({panel_count(4 * H), H, kernels::kPanelWidth}, dtype, op);
    kernels::pack_transposed(packed.data<S>(), w.data<S>(), 4 * H, H);
    const LNParams<S> ln = ln_params<S>(params, H, eps);
    S *c = cells.data<S>(), *h = out.data<S>();
    ops::on_split_threads(split, [&](int64_t lo, int64_t hi) {
      for (int64_t t = 0; t < T; ++t)  // h_{t−1}: h0, then row t−1 of out
        step_forward<S>(packed.data<S>(), x_proj.data<S>() + t * 4 * step, t == 0 ? h0.data<S>() : h + (t - 1) * step,
                        c + t * step, products.data<S>() + t * 4 * step, acts.data<S>() + t * 4 * step,
                        c + (t + 1) * step, h + t * step, stats.data<S>() + t * N * kStats, ln, H, lo, hi - lo);
    });
  });
  LSTMSequenceResult result{out, out.select(0, T - 1), cells.select(0, T).clone()};
  if (!needs_grad(x_proj_in, h0_in, c0_in, weight_hh_in, hh_weight, hh_bias, c_weight, c_bias)) return result;

  bool want_dh0 = needs_grad(h0_in), want_dc0 = needs_grad(c0_in), want_dw = needs_grad(weight_hh_in);
  attach({result.output, result.h_n, result.c_n}, op,
         {x_proj_in, h0_in, c0_in, weight_hh_in, hh_weight, hh_bias, c_weight, c_bias},
         save(h0, w, params, out, acts, products, cells, stats),
         [T, N, H, eps, want_dh0, want_dc0, want_dw](
             const Tensor& d_output, const Tensor& dh_n, const Tensor& dc_n, const Tensor& h0, const Tensor& w,
             const Tensor& params, const Tensor& out, const Tensor& acts, const Tensor& products, const Tensor& cells,
             const Tensor& stats) -> Grads {
           const char* backward_op = "layer_norm_lstm_sequence_backward";
           Tensor dy = d_output.contiguous();
           const DType dtype = dy.dtype();
           Tensor da = Tensor::make({T, N, 4 * H}, dtype, backward_op);  // the gradient of x_proj
           Tensor dp = Tensor::make({T, N, 4 * H}, dtype, backward_op);  // of the recurrent products
           Tensor dh = dh_n.clone();  // dp_{t+1}·W_hh (for h_T: the gradient reaching h_n)
           Tensor dc = dc_n.clone();  // the gradient reaching c_t (c_T: the one reaching c_n)
           // per row n: Σ_t of its terms of dγ_hh, dβ_hh (4H each), dγ_c, dβ_c (H each)
           Tensor row_sums = zeros({N, 10 * H}, dtype);
           Tensor dparams = Tensor::make({10 * H}, dtype, backward_op);
           Tensor dw = want_dw ? Tensor::make({4 * H, H}, dtype, backward_op) : Tensor();
           const ops::SequenceSplit split = ops::split_rows(N, H);
           dispatch_floating(backward_op, dtype, [&]<typename S>() {
             const int64_t step = N * H;
             Tensor packed = ops::pack_for_hidden_gradient(w.data<S>(), H, backward_op);
             const LNParams<S> ln = ln_params<S>(params, H, eps);
             const S* c = cells.data<S>();
             ops::on_split_threads(split, [&](int64_t lo, int64_t hi) {
               std::vector<S> scratch(size_t(2 * H));
               for (int64_t t = T - 1; t >= 0; --t)
                 step_backward<S>(packed.data<S>(), acts.data<S>() + t * 4 * step, products.data<S>() + t * 4 * step,
                                  c + t * step, c + (t + 1) * step, stats.data<S>() + t * N * kStats,
                                  dy.data<S>() + t * step, dh.data<S>(), dc.data<S>(), da.data<S>() + t * 4 * step,
                                  dp.data<S>() + t * 4 * step, row_sums.data<S>(), scratch.data(), ln, H, lo, hi - lo,
                                  t > 0 || want_dh0);
             });
             sum_rows(row_sums.data<S>(), N, 10 * H, dparams.data<S>());
             if (want_dw)
               ops::recurrent_weight_gradient<S>(dp.data<S>(), h0.data<S>(), out.data<S>(), T, N, H, dw.data<S>());
           });
           return {da,
                   want_dh0 ? dh : Tensor(),
                   want_dc0 ? dc : Tensor(),
                   dw,
                   dparams.slice(0, 0, 4 * H),
                   dparams.slice(0, 4 * H, 8 * H),
                   dparams.slice(0, 8 * H, 9 * H),
                   dparams.slice(0, 9 * H, 10 * H)};
         });
  return result;
}

// ---- the composed reference, step by step (what layers::LSTM ran before this op):
// a = x_proj[t] + LN_hh(h·W_hhᵀ), c = lstm_cell_state(a, c), h = σ(a_o)·tanh(LN_c(c))
LSTMSequenceResult reference::layer_norm_lstm_sequence(const Tensor& x_proj, const Tensor& h0, const Tensor& c0,
                                                       const Tensor& weight_hh, const Tensor& hh_weight,
                                                       const Tensor& hh_bias, const Tensor& c_weight,
                                                       const Tensor& c_bias, double eps) {
  const int64_t H = h0.size(1);
  Tensor h = h0, c = c0;
  std::vector<Tensor> outputs;
  for (int64_t t = 0; t < x_proj.size(0); ++t) {
    Tensor a = x_proj.select(0, t) + nl::layer_norm(matmul(h, weight_hh.t()), {4 * H}, hh_weight, hh_bias, eps);
    c = lstm_cell_state(a, c);
    h = sigmoid(a.slice(1, 3 * H, 4 * H)) * tanh(nl::layer_norm(c, {H}, c_weight, c_bias, eps));
    outputs.push_back(h);
  }
  return {stack(outputs, 0), h, c};
}

}  // namespace nl
