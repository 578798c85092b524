// The lnlstm exercise's checks: lnlstm_cell_backward (one step of the
// layer-normalized LSTM cell) against normlab's own cell — nl::linear and
// nl::layer_norm for the input side, nl::layer_norm_lstm_sequence over one
// step for the rest — with autograd, and against central differences of it in
// float64; with one row, one hidden unit (LN_c over one value: z = β_c, so no
// gradient reaches c through h), odd sizes and x, h_prev with a mean of 50.
#include <fmt/core.h>

#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/tensor.h"
#include "grade/api/lnlstm.h"
#include "grade/exercises.h"
#include "grade/norm_math.h"

namespace nl::grade {

namespace {

struct Dims {
  int N, I, H;
  int G() const { return 4 * H; }
};

// Everything one step reads, including the gradients of its outputs h and c.
struct Inputs {
  Vec x, h_prev, c_prev, w_ih, w_hh, gamma_ih, beta_ih, gamma_hh, beta_hh, gamma_c, beta_c, dh, dc;
  double eps;
};

// Everything the exercise writes; kOutputs names them with their shapes.
struct Grads {
  Vec dx, dh_prev, dc_prev, dw_ih, dw_hh, dgamma_ih, dbeta_ih, dgamma_hh, dbeta_hh, dgamma_c, dbeta_c;
};
struct Output {
  const char* name;
  Vec Grads::*member;
  int rows_of;  // 0: N, 1: 4H, 2: 1 (a vector)
  int cols_of;  // 0: I, 1: H, 2: 4H
};
const Output kOutputs[] = {
    {"dx", &Grads::dx, 0, 0},
    {"dh_prev", &Grads::dh_prev, 0, 1},
    {"dc_prev", &Grads::dc_prev, 0, 1},
    {"dw_ih", &Grads::dw_ih, 1, 0},
    {"dw_hh", &Grads::dw_hh, 1, 1},
    {"dgamma_ih", &Grads::dgamma_ih, 2, 2},
    {"dbeta_ih", &Grads::dbeta_ih, 2, 2},
    {"dgamma_hh", &Grads::dgamma_hh, 2, 2},
    {"dbeta_hh", &Grads::dbeta_hh, 2, 2},
    {"dgamma_c", &Grads::dgamma_c, 2, 1},
    {"dbeta_c", &Grads::dbeta_c, 2, 1},
};
std::vector<int64_t> shape_of(const Output& o, const Dims& d) {
  const int cols = o.cols_of == 0 ? d.I : o.cols_of == 1 ? d.H : d.G();
  if (o.rows_of == 2) return {cols};
  return {o.rows_of == 0 ? d.N : d.G(), cols};
}
size_t size_of(const Output& o, const Dims& d) {
  size_t n = 1;
  for (int64_t s : shape_of(o, d)) n *= size_t(s);
  return n;
}

Tensor t(const Vec& v, Shape s, bool grad = false) {
  Tensor r = from_vector<double>(v, std::move(s));
  if (grad) r.requires_grad_();
  return r;
}

// L = Σ dh·h + Σ dc·c of one step of normlab's LN-LSTM cell (layers::LSTM's
// layer_norm cell) on the given tensors.
Tensor cell_loss(const Dims& d, const Inputs& in, const Tensor& x, const Tensor& h_prev, const Tensor& c_prev,
                 const Tensor& w_ih, const Tensor& w_hh, const Tensor& gamma_ih, const Tensor& beta_ih,
                 const Tensor& gamma_hh, const Tensor& beta_hh, const Tensor& gamma_c, const Tensor& beta_c) {
  Tensor ax = layer_norm(linear(x, w_ih), {d.G()}, gamma_ih, beta_ih, in.eps).reshape({1, d.N, d.G()});
  LSTMSequenceResult s = layer_norm_lstm_sequence(ax, h_prev, c_prev, w_hh, gamma_hh, beta_hh, gamma_c, beta_c, in.eps);
  return (s.output.reshape({d.N, d.H}) * t(in.dh, {d.N, d.H})).sum() + (s.c_n * t(in.dc, {d.N, d.H})).sum();
}

// The gradients of cell_loss, by autograd.
Grads library(const Dims& d, const Inputs& in) {
  const int N = d.N, I = d.I, H = d.H, G = d.G();
  Tensor x = t(in.x, {N, I}, true), h = t(in.h_prev, {N, H}, true), c = t(in.c_prev, {N, H}, true);
  Tensor w_ih = t(in.w_ih, {G, I}, true), w_hh = t(in.w_hh, {G, H}, true);
  Tensor g_ih = t(in.gamma_ih, {G}, true), b_ih = t(in.beta_ih, {G}, true);
  Tensor g_hh = t(in.gamma_hh, {G}, true), b_hh = t(in.beta_hh, {G}, true);
  Tensor g_c = t(in.gamma_c, {H}, true), b_c = t(in.beta_c, {H}, true);
  cell_loss(d, in, x, h, c, w_ih, w_hh, g_ih, b_ih, g_hh, b_hh, g_c, b_c).backward();
  auto grad = [](const Tensor& p) { return p.grad().to_vector<double>(); };
  return {grad(x),    grad(h),    grad(c),    grad(w_ih), grad(w_hh), grad(g_ih),
          grad(b_ih), grad(g_hh), grad(b_hh), grad(g_c),  grad(b_c)};
}

// cell_loss with one input replaced (`which` = 0: x, 1: h_prev, 2: c_prev, 3: W_hh, 4: γ_ih), for central differences.
double loss_at(const Dims& d, const Inputs& in, int which, const Vec& value) {
  NoGradGuard no_grad;
  const int N = d.N, I = d.I, H = d.H, G = d.G();
  auto pick = [&](int k, const Vec& own) { return which == k ? value : own; };
  return cell_loss(d, in, t(pick(0, in.x), {N, I}), t(pick(1, in.h_prev), {N, H}), t(pick(2, in.c_prev), {N, H}),
                   t(in.w_ih, {G, I}), t(pick(3, in.w_hh), {G, H}), t(pick(4, in.gamma_ih), {G}), t(in.beta_ih, {G}),
                   t(in.gamma_hh, {G}), t(in.beta_hh, {G}), t(in.gamma_c, {H}), t(in.beta_c, {H}))
      .item<double>();
}

// Typical mistakes, computed by plain_lnlstm to name the one a student's result matches.
struct Mistakes {
  bool no_dc_next = false;                // c's gradient only through h: the dc from the next step left out
  bool ln_c_as_scale = false;             // LN_c's backward as dz·γ·rstd, without its Σ terms
  bool dc_prev_without_f = false;         // dc_prev = dc_total (the ·f missing)
  bool sigmoid_prime_is_sigmoid = false;  // σ' = σ instead of σ(1 − σ)
};

// The cell's backward in plain loops (norm_math's LayerNorm), with mistakes.
Grads plain_lnlstm(const Dims& d, const Inputs& in, Mistakes m) {
  const int N = d.N, I = d.I, H = d.H, G = d.G();
  auto matmul_t = [N](const Vec& a, const Vec& w, int cols, int rows) {  // a (N×cols) · wᵀ (cols×rows)
    Vec y(size_t(N) * rows, 0.0);
    for (int n = 0; n < N; ++n)
      for (int r = 0; r < rows; ++r)
        for (int k = 0; k < cols; ++k) y[size_t(n) * rows + r] += a[size_t(n) * cols + k] * w[size_t(r) * cols + k];
    return y;
  };
  const Layout gates_layout{N, G, true}, cell_layout{N, H, true};
  const Vec px = matmul_t(in.x, in.w_ih, I, G), ph = matmul_t(in.h_prev, in.w_hh, H, G);
  const Forward ax = norm_forward(gates_layout, px, in.gamma_ih, in.beta_ih, in.eps);
  const Forward ah = norm_forward(gates_layout, ph, in.gamma_hh, in.beta_hh, in.eps);
  Vec gate(size_t(N) * G), c(size_t(N) * H);
  for (size_t n = 0; n < size_t(N); ++n)
    for (size_t j = 0; j < size_t(H); ++j) {
      for (size_t q = 0; q < 4; ++q) {
        const size_t at = n * G + q * H + j;
        const double a = ax.y[at] + ah.y[at];
        gate[at] = q == 2 ? std::tanh(a) : 1 / (1 + std::exp(-a));
      }
      c[n * H + j] = gate[n * G + H + j] * in.c_prev[n * H + j] + gate[n * G + j] * gate[n * G + 2 * H + j];
    }
  const Forward z = norm_forward(cell_layout, c, in.gamma_c, in.beta_c, in.eps);
  auto dsigma = [&](double s) { return m.sigmoid_prime_is_sigmoid ? s : s * (1 - s); };
  Vec dz(size_t(N) * H), da(size_t(N) * G);
  for (size_t n = 0; n < size_t(N); ++n)
    for (size_t j = 0; j < size_t(H); ++j) {
      const double tz = std::tanh(z.y[n * H + j]), o = gate[n * G + 3 * H + j], dh = in.dh[n * H + j];
      dz[n * H + j] = dh * o * (1 - tz * tz);
      da[n * G + 3 * H + j] = dh * tz * dsigma(o);
    }
  Grads g;
  const Backward lc = norm_backward(cell_layout, dz, c, in.gamma_c, z.mean, z.rstd,
                                    {.sum_term = !m.ln_c_as_scale, .xhat_term = !m.ln_c_as_scale});
  g.dgamma_c = lc.dgamma;
  g.dbeta_c = lc.dbeta;
  g.dc_prev.resize(size_t(N) * H);
  for (size_t n = 0; n < size_t(N); ++n)
    for (size_t j = 0; j < size_t(H); ++j) {
      const size_t at = n * H + j, row = n * G;
      const double dct = lc.dx[at] + (m.no_dc_next ? 0.0 : in.dc[at]);
      const double i = gate[row + j], f = gate[row + H + j], gg = gate[row + 2 * H + j];
      da[row + j] = dct * gg * dsigma(i);
      da[row + H + j] = dct * in.c_prev[at] * dsigma(f);
      da[row + 2 * H + j] = dct * i * (1 - gg * gg);
      g.dc_prev[at] = m.dc_prev_without_f ? dct : dct * f;
    }
  const Backward lx = norm_backward(gates_layout, da, px, in.gamma_ih, ax.mean, ax.rstd);
  const Backward lh = norm_backward(gates_layout, da, ph, in.gamma_hh, ah.mean, ah.rstd);
  g.dgamma_ih = lx.dgamma, g.dbeta_ih = lx.dbeta, g.dgamma_hh = lh.dgamma, g.dbeta_hh = lh.dbeta;
  auto backward_matmul = [&](const Vec& dp, const Vec& input, const Vec& weight, int cols, Vec& din, Vec& dweight) {
    din.assign(size_t(N) * cols, 0.0);
    dweight.assign(size_t(G) * cols, 0.0);
    for (size_t n = 0; n < size_t(N); ++n)
      for (size_t q = 0; q < size_t(G); ++q)
        for (size_t k = 0; k < size_t(cols); ++k) {
          din[n * cols + k] += dp[n * G + q] * weight[q * cols + k];
          dweight[q * cols + k] += dp[n * G + q] * input[n * cols + k];
        }
  };
  backward_matmul(lx.dx, in.x, in.w_ih, I, g.dx, g.dw_ih);
  backward_matmul(lh.dx, in.h_prev, in.w_hh, H, g.dh_prev, g.dw_hh);
  return g;
}

struct LNLSTMCase {
  Dims d;
  double offset;  // added to every x and h_prev
  const char* note;
};

}  // namespace

void run_lnlstm(void* library_handle, Grader& grader) {
  auto* student = load<decltype(lnlstm_cell_backward)>(library_handle, "lnlstm_cell_backward", grader);
  if (!student) return;
  const LNLSTMCase cases[] = {
      {{3, 4, 5}, 0.0, "small"},
      {{1, 3, 4}, 0.0, "one row"},
      {{4, 2, 1}, 0.0, "one hidden unit"},
      {{5, 7, 6}, 0.0, "odd"},
      {{3, 5, 8}, 50.0, "x, h_prev mean 50"},
      {{8, 16, 16}, 0.0, "wide"},
  };
  const char* const kNoDcNext =
      "the dc from the next step is left out: c feeds h AND the next step (as its c_prev), so c's gradient is "
      "LN_c's backward of dz plus dc";
  const char* const kLnCAsScale =
      "LN_c's backward is dz·γ_c·rstd alone: the Σ terms are missing (c moves its row's mean and variance, as in the "
      "layernorm exercise)";
  const char* const kDcPrevWithoutF = "dc_prev = dc_total·f: c = f·c_prev + i·g, so the forget gate scales it";
  const char* const kSigmoidPrime = "σ'(a) = σ(a)·(1 − σ(a)), not σ(a): the i, f and o gates' derivative";
  std::mt19937_64 rng(2016);
  for (const LNLSTMCase& c : cases) {
    const Dims& d = c.d;
    const size_t N = size_t(d.N), I = size_t(d.I), H = size_t(d.H), G = size_t(d.G());
    const std::string text = fmt::format("N={} I={} H={}, {}", d.N, d.I, d.H, c.note);
    const Inputs in{normal(rng, N * I, c.offset, 1.0),
                    normal(rng, N * H, c.offset, 0.5),
                    normal(rng, N * H),
                    normal(rng, G * I, 0.0, 0.5),
                    normal(rng, G * H, 0.0, 0.5),
                    normal(rng, G, 1.0, 0.3),
                    normal(rng, G, 0.0, 0.3),
                    normal(rng, G, 1.0, 0.3),
                    normal(rng, G, 0.0, 0.3),
                    normal(rng, H, 1.0, 0.3),
                    normal(rng, H, 0.0, 0.3),
                    normal(rng, N * H),
                    normal(rng, N * H),
                    1e-5};
    const Grads lib = library(d, in);

    Grads got;
    for (const Output& o : kOutputs) got.*o.member = unwritten(size_of(o, d));
    const LNLSTMWeights weights{in.w_ih.data(),     in.w_hh.data(),    in.gamma_ih.data(), in.beta_ih.data(),
                                in.gamma_hh.data(), in.beta_hh.data(), in.gamma_c.data(),  in.beta_c.data()};
    LNLSTMGrads grads{got.dw_ih.data(),     got.dw_hh.data(),    got.dgamma_ih.data(), got.dbeta_ih.data(),
                      got.dgamma_hh.data(), got.dbeta_hh.data(), got.dgamma_c.data(),  got.dbeta_c.data()};
    student(in.x.data(), in.h_prev.data(), in.c_prev.data(), &weights, d.N, d.I, d.H, in.eps, in.dh.data(),
            in.dc.data(), got.dx.data(), got.dh_prev.data(), got.dc_prev.data(), &grads);

    const std::pair<const char*, Grads> mistakes[] = {
        {kNoDcNext, plain_lnlstm(d, in, {.no_dc_next = true})},
        {kLnCAsScale, plain_lnlstm(d, in, {.ln_c_as_scale = true})},
        {kDcPrevWithoutF, plain_lnlstm(d, in, {.dc_prev_without_f = true})},
        {kSigmoidPrime, plain_lnlstm(d, in, {.sigmoid_prime_is_sigmoid = true})},
    };
    auto variants = [&](const Output& o) {
      std::vector<Variant> v;
      for (const auto& [message, wrong] : mistakes) v.push_back({message, wrong.*o.member});
      return v;
    };
    for (const Output& o : kOutputs)
      grader.run({"lnlstm_cell_backward", o.name, "nl::layer_norm_lstm_sequence", text, shape_of(o, d), 1e-7,
                  lib.*o.member, got.*o.member, variants(o)});
    if (N * G * 2 <= 200) {  // central differences of the same loss for the inputs and two weights
      const std::pair<int, const Output*> numeric[] = {
          {0, &kOutputs[0]}, {1, &kOutputs[1]}, {2, &kOutputs[2]}, {3, &kOutputs[4]}, {4, &kOutputs[5]}};
      const Vec* at[] = {&in.x, &in.h_prev, &in.c_prev, &in.w_hh, &in.gamma_ih};
      for (const auto& [which, o] : numeric)
        grader.run({"lnlstm_cell_backward", o->name, "central differences", text, shape_of(*o, d), 1e-5,
                    numeric_gradient([&](const Vec& v) { return loss_at(d, in, which, v); }, *at[which]),
                    got.*o->member, variants(*o)});
    }
  }
}

}  // namespace nl::grade
