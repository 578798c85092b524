// LSTM in its three cells: PyTorch parity (plain), the normalized cells'
// forward against their papers' equations written from primitive ops, initial
// gains and biases, gradients against finite differences, causality, what
// LayerNorm and BatchNorm do across time and batch, and errors. The fused step
// is tested in tests/core/ops/test_lstm_cell.cpp.
#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <tuple>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"
#include "tests/layers/module_gradcheck.h"

using namespace normlab_test;
namespace layers = nl::layers;
using layers::LSTMCell;

namespace {
layers::LSTMOptions options_for(LSTMCell cell, int64_t num_layers = 1, bool batch_first = false) {
  layers::LSTMOptions o;
  o.cell = cell;
  o.num_layers = num_layers;
  o.batch_first = batch_first;
  o.dtype = nl::f64;
  return o;
}
const LSTMCell kCells[] = {LSTMCell::plain, LSTMCell::layer_norm, LSTMCell::batch_norm};
const char* cell_label(LSTMCell c) {
  return c == LSTMCell::plain ? "plain" : c == LSTMCell::layer_norm ? "layer_norm" : "batch_norm";
}

// ---- the normalized cells written out from primitive ops (an independent reference) ----

std::map<std::string, nl::Tensor> tensors_of(const layers::Module& m) {
  std::map<std::string, nl::Tensor> out;
  for (auto& [name, t] : m.named_parameters()) out[name] = t;
  for (auto& [name, t] : m.named_buffers()) out[name] = t;
  return out;
}

bool all_equal(const nl::Tensor& t, double value) {
  for (double v : t.to_vector<double>())
    if (v != value) return false;
  return true;
}

// Moves every parameter off its initial value, so a gain or bias used wrongly shows.
void perturb_parameters(layers::Module& m) {
  nl::NoGradGuard no_grad;
  for (auto& [name, p] : m.named_parameters()) p.add_(nl::randn(p.shape(), nl::f64) * 0.3);
}

// LayerNorm over the features of each row: (v − mean) / √(var + eps) · gain + bias, var biased.
nl::Tensor layer_norm_rows(const nl::Tensor& v, const nl::Tensor& gain, const nl::Tensor& bias, double eps) {
  return (v - v.mean({1}, true)) / (v.var({1}, false, true) + eps).sqrt() * gain + bias;
}

// BatchNorm of each column with the given statistics; bias may be undefined.
nl::Tensor batch_norm_with(const nl::Tensor& v, const nl::Tensor& mean, const nl::Tensor& var, const nl::Tensor& gain,
                           const nl::Tensor& bias, double eps) {
  nl::Tensor y = (v - mean) / (var + eps).sqrt() * gain;
  return bias.defined() ? y + bias : y;
}

// BatchNorm in training mode: each column over the batch (the rows), var biased.
nl::Tensor batch_norm_of_batch(const nl::Tensor& v, const nl::Tensor& gain, const nl::Tensor& bias, double eps) {
  return batch_norm_with(v, v.mean({0}, true), v.var({0}, false, true), gain, bias, eps);
}

// One step after the gate pre-activations a = [i | f | g | o]:
// c = σ(f)·c_prev + σ(i)·tanh(g), h = σ(o)·tanh(norm_c(c)).
std::pair<nl::Tensor, nl::Tensor> cell_step(const nl::Tensor& a, const nl::Tensor& c_prev,
                                            const std::function<nl::Tensor(const nl::Tensor&)>& norm_c) {
  int64_t H = c_prev.size(1);
  nl::Tensor c =
      nl::sigmoid(a.slice(1, H, 2 * H)) * c_prev + nl::sigmoid(a.slice(1, 0, H)) * nl::tanh(a.slice(1, 2 * H, 3 * H));
  nl::Tensor h = nl::sigmoid(a.slice(1, 3 * H, 4 * H)) * nl::tanh(norm_c(c));
  return {h, c};
}

// One batch_norm-cell step in eval mode with the running statistics of `slot`.
std::pair<nl::Tensor, nl::Tensor> bn_eval_step(std::map<std::string, nl::Tensor>& p, const nl::Tensor& x,
                                               const nl::Tensor& h, const nl::Tensor& c, int64_t slot, double eps) {
  auto bn = [&](const nl::Tensor& v, const std::string& which, const nl::Tensor& bias) {
    return batch_norm_with(v, p["bn_" + which + "_running_mean_l0"].select(0, slot),
                           p["bn_" + which + "_running_var_l0"].select(0, slot), p["bn_" + which + "_weight_l0"], bias,
                           eps);
  };
  nl::Tensor a = bn(nl::matmul(x, p["weight_ih_l0"].t()), "ih", {}) +
                 bn(nl::matmul(h, p["weight_hh_l0"].t()), "hh", {}) + p["bias_ih_l0"];
  return cell_step(a, c, [&](const nl::Tensor& v) { return bn(v, "c", p["bn_c_bias_l0"]); });
}
}  // namespace

TEST_CASE("LSTM layer_norm cell: initial gains 1 and biases 0, forward as Ba et al. 2016 from primitive ops",
          "[layers][lstm]") {
  nl::manual_seed(20);
  const int64_t I = 2, H = 3, N = 4, T = 3;
  layers::LSTM lstm(I, H, options_for(LSTMCell::layer_norm));
  auto p = tensors_of(lstm);
  for (const char* which : {"ih", "hh", "c"}) {
    INFO(which);
    CHECK(all_equal(p[fmt::format("ln_{}_weight_l0", which)], 1.0));
    CHECK(all_equal(p[fmt::format("ln_{}_bias_l0", which)], 0.0));
  }
  perturb_parameters(lstm);
  auto x = nl::randn({T, N, I}, nl::f64), h0 = nl::randn({1, N, H}, nl::f64), c0 = nl::randn({1, N, H}, nl::f64);
  auto out = lstm(x, h0, c0);

  // a_t = LN(W_ih·x_t; g_ih, b_ih) + LN(W_hh·h_{t−1}; g_hh, b_hh), h_t = σ(o)·tanh(LN(c_t; g_c, b_c))
  const double eps = lstm.options.eps;
  nl::Tensor h = h0.select(0, 0), c = c0.select(0, 0);
  for (int64_t t = 0; t < T; ++t) {
    INFO("step " << t);
    nl::Tensor a = layer_norm_rows(nl::matmul(x.select(0, t), p["weight_ih_l0"].t()), p["ln_ih_weight_l0"],
                                   p["ln_ih_bias_l0"], eps) +
                   layer_norm_rows(nl::matmul(h, p["weight_hh_l0"].t()), p["ln_hh_weight_l0"], p["ln_hh_bias_l0"], eps);
    std::tie(h, c) = cell_step(
        a, c, [&](const nl::Tensor& v) { return layer_norm_rows(v, p["ln_c_weight_l0"], p["ln_c_bias_l0"], eps); });
    CHECK(max_abs_diff(out.output.select(0, t), h) < 1e-12);
  }
  CHECK(max_abs_diff(out.h_n.select(0, 0), h) < 1e-12);
  CHECK(max_abs_diff(out.c_n.select(0, 0), c) < 1e-12);  // c_n is c_T before its LayerNorm
}

TEST_CASE("LSTM batch_norm cell: initial gains 0.1, forward as Cooijmans et al. 2016 with each step's batch statistics",
          "[layers][lstm]") {
  nl::manual_seed(21);
  const int64_t I = 2, H = 3, N = 5, T = 3;
  auto o = options_for(LSTMCell::batch_norm);
  o.max_steps = T;
  layers::LSTM lstm(I, H, o);
  auto p = tensors_of(lstm);
  for (const char* which : {"ih", "hh", "c"}) {
    INFO(which);
    CHECK(all_equal(p[fmt::format("bn_{}_weight_l0", which)], 0.1));  // the paper's advice: tanh not saturated
    CHECK(all_equal(p[fmt::format("bn_{}_running_mean_l0", which)], 0.0));
    CHECK(all_equal(p[fmt::format("bn_{}_running_var_l0", which)], 1.0));
  }
  CHECK(all_equal(p["bn_c_bias_l0"], 0.0));
  CHECK(all_equal(p["bias_ih_l0"], 0.0));
  perturb_parameters(lstm);
  auto x = nl::randn({T, N, I}, nl::f64), h0 = nl::randn({1, N, H}, nl::f64), c0 = nl::randn({1, N, H}, nl::f64);
  x.select(0, 1).mul_(4.0);    // step 1's statistics far from step 0's
  auto out = lstm(x, h0, c0);  // training mode

  // a_t = BN(W_ih·x_t; γ_ih) + BN(W_hh·h_{t−1}; γ_hh) + b, h_t = σ(o)·tanh(BN(c_t; γ_c, β_c)),
  // each BN over the batch at step t; step t's running statistics move from (0, 1) by momentum 0.1
  const double eps = o.eps, m = o.momentum;
  nl::Tensor h = h0.select(0, 0), c = c0.select(0, 0);
  for (int64_t t = 0; t < T; ++t) {
    INFO("step " << t);
    nl::Tensor x_proj = nl::matmul(x.select(0, t), p["weight_ih_l0"].t());
    nl::Tensor a = batch_norm_of_batch(x_proj, p["bn_ih_weight_l0"], {}, eps) +
                   batch_norm_of_batch(nl::matmul(h, p["weight_hh_l0"].t()), p["bn_hh_weight_l0"], {}, eps) +
                   p["bias_ih_l0"];
    std::tie(h, c) = cell_step(
        a, c, [&](const nl::Tensor& v) { return batch_norm_of_batch(v, p["bn_c_weight_l0"], p["bn_c_bias_l0"], eps); });
    CHECK(max_abs_diff(out.output.select(0, t), h) < 1e-12);
    CHECK(max_abs_diff(p["bn_ih_running_mean_l0"].select(0, t), x_proj.mean({0}) * m) < 1e-12);
    CHECK(max_abs_diff(p["bn_c_running_mean_l0"].select(0, t), c.mean({0}) * m) < 1e-12);
    nl::Tensor unbiased = x_proj.var({0}, /*unbiased=*/true);
    CHECK(max_abs_diff(p["bn_ih_running_var_l0"].select(0, t), unbiased * m + (1 - m)) < 1e-12);
  }
  CHECK(max_abs_diff(out.h_n.select(0, 0), h) < 1e-12);
  CHECK(max_abs_diff(out.c_n.select(0, 0), c) < 1e-12);
}

TEST_CASE("LSTM: PyTorch parity (2 layers, batch_first, initial states, all gradients)", "[layers][lstm][pytorch]") {
  auto f = nl::io::load_safetensors(NORMLAB_FIXTURES_DIR "/lstm.safetensors");
  layers::LSTMOptions o;
  o.num_layers = 2;
  o.batch_first = true;
  layers::LSTM lstm(3, 4, o);
  nl::StateDict state;
  for (auto& [k, v] : f)
    if (k.rfind("lstm.", 0) == 0) state[k.substr(5)] = v;
  lstm.load_state_dict(state);  // strict: PyTorch's names and shapes
  auto x = f.at("x").clone().requires_grad_(true), h0 = f.at("h0").clone().requires_grad_(true),
       c0 = f.at("c0").clone().requires_grad_(true);
  auto out = lstm(x, h0, c0);
  CHECK(max_abs_diff(out.output, f.at("output")) < 1e-5);
  CHECK(max_abs_diff(out.h_n, f.at("h_n")) < 1e-5);
  CHECK(max_abs_diff(out.c_n, f.at("c_n")) < 1e-5);
  ((out.output * f.at("g_output")).sum() + (out.h_n * f.at("g_h_n")).sum() + (out.c_n * f.at("g_c_n")).sum())
      .backward();
  CHECK(max_abs_diff(x.grad(), f.at("grad.x")) < 1e-5);
  CHECK(max_abs_diff(h0.grad(), f.at("grad.h0")) < 1e-5);
  CHECK(max_abs_diff(c0.grad(), f.at("grad.c0")) < 1e-5);
  for (auto& [name, p] : lstm.named_parameters()) {
    INFO(name);
    CHECK(max_abs_diff(p.grad(), f.at("grad." + name)) < 1e-5);
  }
}

TEST_CASE("LSTM: gradcheck of inputs and initial states for every cell", "[layers][lstm][gradcheck]") {
  for (LSTMCell cell : kCells) {
    INFO(cell_label(cell));
    nl::manual_seed(3);
    layers::LSTM lstm(2, 3, options_for(cell, 2));
    require_gradcheck(
        [&](const std::vector<nl::Tensor>& in) {
          auto out = lstm(in[0], in[1], in[2]);
          return out.output.sum({2}) + out.c_n.sum();
        },
        {nl::randn({3, 2, 2}, nl::f64), nl::randn({2, 2, 3}, nl::f64) * 0.5, nl::randn({2, 2, 3}, nl::f64) * 0.5});
  }
}

TEST_CASE("LSTM: parameter gradients match finite differences for every cell", "[layers][lstm][gradcheck]") {
  for (LSTMCell cell : kCells) {
    INFO(cell_label(cell));
    nl::manual_seed(4);
    layers::LSTM lstm(2, 3, options_for(cell));
    auto x = nl::randn({4, 3, 2}, nl::f64), weights = nl::randn({4, 3, 3}, nl::f64);
    require_parameter_gradients(lstm, [&] { return (lstm(x).tanh() * weights).sum(); });
  }
}

TEST_CASE("LSTM: causal — changing step t changes no output before t", "[layers][lstm]") {
  for (LSTMCell cell : kCells) {
    INFO(cell_label(cell));
    nl::manual_seed(5);
    layers::LSTM lstm(3, 4, options_for(cell));
    lstm.eval();  // BN: fixed statistics, so only the recurrence links steps
    auto x = nl::randn({6, 2, 3}, nl::f64);
    auto y = lstm(x);
    auto x2 = x.clone();
    x2.select(0, 4).fill_(7.0);
    auto y2 = lstm(x2);
    CHECK(max_abs_diff(y.slice(0, 0, 4), y2.slice(0, 0, 4)) == 0.0);
    CHECK(max_abs_diff(y.slice(0, 4, 6), y2.slice(0, 4, 6)) > 1e-3);
  }
}

TEST_CASE("LSTM: batch_first gives the same numbers transposed", "[layers][lstm]") {
  nl::manual_seed(6);
  layers::LSTM a(3, 4, options_for(LSTMCell::plain, 2)), b(3, 4, options_for(LSTMCell::plain, 2, true));
  b.load_state_dict(a.state_dict());
  auto x = nl::randn({5, 2, 3}, nl::f64);
  auto ya = a(x, nl::Tensor(), nl::Tensor()), yb = b(x.transpose(0, 1), nl::Tensor(), nl::Tensor());
  CHECK(yb.output.shape() == nl::Shape{2, 5, 4});
  CHECK(max_abs_diff(ya.output.transpose(0, 1), yb.output) == 0.0);
  CHECK(max_abs_diff(ya.h_n, yb.h_n) == 0.0);
  CHECK(ya.h_n.shape() == nl::Shape{2, 2, 4});
  // the last output of the last layer is h_n[-1]
  CHECK(max_abs_diff(ya.output.select(0, 4), ya.h_n.select(0, 1)) == 0.0);
}

TEST_CASE("LSTM layer_norm cell: each sequence's output does not depend on the batch", "[layers][lstm]") {
  nl::manual_seed(7);
  layers::LSTM lstm(3, 4, options_for(LSTMCell::layer_norm));
  auto x = nl::randn({5, 4, 3}, nl::f64);
  auto together = lstm(x);
  auto alone = lstm(x.slice(1, 1, 2));
  CHECK(max_abs_diff(together.slice(1, 1, 2), alone) < 1e-12);
  lstm.eval();
  CHECK(max_abs_diff(lstm(x), together) == 0.0);  // the same in eval
}

TEST_CASE("LSTM batch_norm cell: statistics per time step, the last step's beyond max_steps", "[layers][lstm]") {
  nl::manual_seed(8);
  auto o = options_for(LSTMCell::batch_norm);
  o.max_steps = 3;
  layers::LSTM lstm(2, 3, o);
  auto x = nl::randn({3, 8, 2}, nl::f64);
  x.select(0, 2).mul_(5.0);                       // step 2's inputs on another scale
  for (int pass = 0; pass < 20; ++pass) lstm(x);  // running statistics close to each step's own
  auto p = tensors_of(lstm);
  REQUIRE(p["bn_ih_running_var_l0"].shape() == nl::Shape{3, 12});
  // each step has its own statistics: slot 2 saw the 5× inputs (25× the variance), slot 0 did not
  CHECK(p["bn_ih_running_var_l0"].select(0, 2).mean().item<double>() >
        p["bn_ih_running_var_l0"].select(0, 0).mean().item<double>() * 4);

  // eval: one step at any start_step >= max_steps uses slot max_steps − 1 — exactly
  // what a step at start_step = max_steps − 1 does, and not slot 0
  lstm.eval();
  auto x1 = nl::randn({1, 2, 2}, nl::f64), h0 = nl::randn({1, 2, 3}, nl::f64), c0 = nl::randn({1, 2, 3}, nl::f64);
  auto last_slot = lstm(x1, h0, c0, /*start_step=*/2);
  for (int64_t start : {3, 4, 100}) {
    INFO("start_step " << start);
    auto beyond = lstm(x1, h0, c0, start);
    CHECK(max_abs_diff(beyond.output, last_slot.output) == 0.0);
    CHECK(max_abs_diff(beyond.c_n, last_slot.c_n) == 0.0);
  }
  CHECK(max_abs_diff(lstm(x1, h0, c0, 0).output, last_slot.output) > 1e-3);
  // and both against the step written out from the running statistics of slot 2 (resp. 0)
  const double eps = o.eps;
  auto [h_ref, c_ref] = bn_eval_step(p, x1.select(0, 0), h0.select(0, 0), c0.select(0, 0), /*slot=*/2, eps);
  CHECK(max_abs_diff(lstm(x1, h0, c0, 7).output.select(0, 0), h_ref) < 1e-12);
  CHECK(max_abs_diff(lstm(x1, h0, c0, 7).c_n.select(0, 0), c_ref) < 1e-12);
  auto [h_slot0, c_slot0] = bn_eval_step(p, x1.select(0, 0), h0.select(0, 0), c0.select(0, 0), /*slot=*/0, eps);
  CHECK(max_abs_diff(lstm(x1, h0, c0, 0).output.select(0, 0), h_slot0) < 1e-12);

  // a whole sequence longer than max_steps runs, steps 3..6 on slot 2's statistics
  auto long_x = nl::randn({7, 2, 2}, nl::f64);
  nl::Tensor y;
  REQUIRE_NOTHROW(y = lstm(long_x));
  CHECK(y.shape() == nl::Shape{7, 2, 3});
  auto piece = lstm(long_x.slice(0, 0, 5), nl::Tensor(), nl::Tensor());
  auto step5 = lstm(long_x.slice(0, 5, 6), piece.h_n, piece.c_n, /*start_step=*/2);  // slot 2, as step 5 uses
  CHECK(max_abs_diff(y.slice(0, 5, 6), step5.output) < 1e-12);
}

TEST_CASE("LSTM: parameter names per cell", "[layers][lstm]") {
  auto names = [](const layers::LSTM& m) {
    std::vector<std::string> out;
    for (auto& [n, p] : m.named_parameters()) out.push_back(n);
    return out;
  };
  CHECK(names(layers::LSTM(2, 3)) ==
        std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"});
  CHECK(names(layers::LSTM(2, 3, options_for(LSTMCell::layer_norm))) ==
        std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "ln_ih_weight_l0", "ln_ih_bias_l0", "ln_hh_weight_l0",
                                 "ln_hh_bias_l0", "ln_c_weight_l0", "ln_c_bias_l0"});
  layers::LSTM bn(2, 3, options_for(LSTMCell::batch_norm));
  CHECK(names(bn) == std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bn_ih_weight_l0",
                                              "bn_hh_weight_l0", "bn_c_weight_l0", "bn_c_bias_l0"});
  CHECK(bn.named_buffers().size() == 6);
  CHECK(layers::LSTM(2, 3).to_string() == "LSTM(2, 3, num_layers=1, batch_first=false, cell=plain)");
}

TEST_CASE("LSTM: errors name the layer and the shapes", "[layers][lstm][errors]") {
  layers::LSTM lstm(3, 4);
  REQUIRE_THROWS_WITH(lstm(nl::randn({5, 2, 2})),
                      Catch::Contains("LSTM: expected input (T, N, 3)") && Catch::Contains("[5,2,2]"));
  REQUIRE_THROWS_WITH(lstm(nl::randn({5, 2, 3}), nl::zeros({1, 3, 4}), nl::Tensor()),
                      Catch::Contains("initial states must be (1, 2, 4)"));
  REQUIRE_THROWS_WITH(layers::LSTM(0, 4), Catch::Contains("sizes must be > 0"));
}

TEST_CASE("LSTM: a sequence fed in pieces with start_step equals it fed whole, for every cell", "[layers][lstm]") {
  for (LSTMCell cell : kCells) {
    INFO(cell_label(cell));
    nl::manual_seed(9);
    auto o = options_for(cell, 2);
    o.max_steps = 4;
    layers::LSTM lstm(3, 4, o);
    lstm(nl::randn({6, 5, 3}, nl::f64));  // BN: give each step its own running statistics
    lstm.eval();
    auto x = nl::randn({6, 2, 3}, nl::f64);
    auto whole = lstm(x, nl::Tensor(), nl::Tensor());
    auto first = lstm(x.slice(0, 0, 2), nl::Tensor(), nl::Tensor());
    auto second = lstm(x.slice(0, 2, 6), first.h_n, first.c_n, /*start_step=*/2);
    CHECK(max_abs_diff(nl::cat({first.output, second.output}, 0), whole.output) < 1e-12);
    CHECK(max_abs_diff(second.h_n, whole.h_n) < 1e-12);
    if (cell == LSTMCell::batch_norm) {  // without start_step the second piece would reuse steps 0.. statistics
      auto restarted = lstm(x.slice(0, 2, 6), first.h_n, first.c_n);
      CHECK(max_abs_diff(restarted.output, second.output) > 1e-6);
    }
  }
  layers::LSTM lstm(3, 4, options_for(LSTMCell::plain));
  REQUIRE_THROWS_WITH(lstm(nl::randn({2, 1, 3}, nl::f64), nl::Tensor(), nl::Tensor(), -1),
                      Catch::Contains("start_step must be >= 0"));
}
