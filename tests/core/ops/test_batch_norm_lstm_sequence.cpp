// batch_norm_lstm_sequence: the fused whole-sequence BN-LSTM against finite
// differences and against the same steps composed from matmul, batch_norm and
// lstm_cell_state (what layers::LSTM ran before the fused op), in training
// (batch statistics, running statistics updated per slot) and eval; errors.
#include "core/kernels/batch_norm_columns.h"
#include "core/ops/lstm_helpers.h"
#include "tests/core/core_test_helpers.h"

using nl::Tensor;

namespace {
constexpr double kEps = 1e-5, kMomentum = 0.1;

// The differentiable inputs: x_proj, h0, c0, W_hh, γ_ih, γ_hh, b, γ_c, β_c.
using Inputs = std::vector<Tensor>;

// The six running statistics, (S, 4H) for ih and hh and (S, H) for c, means
// near 0 and variances near 1 (drawn: eval must use them, not fresh ones).
nl::BNLSTMRunningStats running_stats(uint64_t seed, int64_t S, int64_t H) {
  nl::manual_seed(seed);
  auto mean = [&](int64_t width) { return nl::randn({S, width}, nl::f64) * 0.2; };
  auto var = [&](int64_t width) { return nl::rand({S, width}, nl::f64) + 0.5; };
  return {mean(4 * H), var(4 * H), mean(4 * H), var(4 * H), mean(H), var(H)};
}

nl::BNLSTMRunningStats clone(const nl::BNLSTMRunningStats& r, nl::DType dtype = nl::f64) {
  return {r.mean_ih.to(dtype).clone(), r.var_ih.to(dtype).clone(), r.mean_hh.to(dtype).clone(),
          r.var_hh.to(dtype).clone(),  r.mean_c.to(dtype).clone(), r.var_c.to(dtype).clone()};
}

std::vector<Tensor> as_list(const nl::BNLSTMRunningStats& r) {
  return {r.mean_ih, r.var_ih, r.mean_hh, r.var_hh, r.mean_c, r.var_c};
}

struct Setup {
  nl::BNLSTMRunningStats running;
  int64_t start_step = 0;
  bool training = true;
};

// The op's output and c_n packed as (T + 1, N, H).
Tensor fused(const Inputs& in, const Setup& s) {
  nl::LSTMSequenceResult r = nl::batch_norm_lstm_sequence(in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7],
                                                          in[8], s.running, s.start_step, s.training, kMomentum, kEps);
  return nl::cat({r.output, r.c_n.unsqueeze(0)}, 0);
}

// The reference (nl::reference::batch_norm_lstm_sequence, step by step as
// layers::LSTM ran it), packed as fused() packs.
Tensor composed(const Inputs& in, const Setup& s) {
  nl::LSTMSequenceResult r = nl::reference::batch_norm_lstm_sequence(
      in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], in[8], s.running, s.start_step, s.training, kMomentum, kEps);
  return nl::cat({r.output, r.c_n.unsqueeze(0)}, 0);
}

// x_proj, h0, c0 standard normal (x_proj with a per-channel offset, so the
// statistics matter), W_hh scaled by weight_scale, the gains 0.5 + 0.3·N(0, 1)
// and the biases 0.3·N(0, 1); float64, all requiring grad.
Inputs inputs(uint64_t seed, int64_t T, int64_t N, int64_t H, double weight_scale) {
  nl::manual_seed(seed);
  Inputs in = {nl::randn({T, N, 4 * H}, nl::f64) + nl::randn({4 * H}, nl::f64),
               nl::randn({N, H}, nl::f64),
               nl::randn({N, H}, nl::f64),
               nl::randn({4 * H, H}, nl::f64) * weight_scale,
               nl::randn({4 * H}, nl::f64) * 0.3 + 0.5,
               nl::randn({4 * H}, nl::f64) * 0.3 + 0.5,
               nl::randn({4 * H}, nl::f64) * 0.3,
               nl::randn({H}, nl::f64) * 0.3 + 0.5,
               nl::randn({H}, nl::f64) * 0.3};
  for (Tensor& t : in) t.requires_grad_(true);
  return in;
}

Inputs to_dtype(const Inputs& in, nl::DType dtype) {
  Inputs out;
  for (const Tensor& t : in) out.push_back(t.defined() ? t.detach().to(dtype).requires_grad_(true) : Tensor());
  return out;
}

double max_diff(const Tensor& a, const Tensor& b) {
  return nl::max(nl::abs(a.to(nl::f64) - b.to(nl::f64))).item<double>();
}

// The output, every input's gradient after backward of Σ packed·seed, and the running statistics after.
std::vector<Tensor> run(const Inputs& in, const Setup& s, const Tensor& seed, bool use_fused) {
  Tensor y = use_fused ? fused(in, s) : composed(in, s);
  (y * seed.to(y.dtype())).sum().backward();
  std::vector<Tensor> out{y.detach()};
  for (const Tensor& t : in) out.push_back(t.defined() ? t.grad() : Tensor());
  for (const Tensor& r : as_list(s.running)) out.push_back(r);
  return out;
}

std::string what(size_t i) {
  return i == 0 ? std::string("output") : i <= 9 ? "gradient of input " + std::to_string(i - 1)
                                                 : "running statistic " + std::to_string(i - 10);
}

void check_same(const std::vector<Tensor>& a, const std::vector<Tensor>& b, double tolerance, bool relative = false) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO(what(i));
    REQUIRE(a[i].defined() == b[i].defined());
    if (!a[i].defined()) continue;
    double scale = relative ? std::max(1.0, nl::max(nl::abs(b[i])).item<double>()) : 1.0;
    CHECK(max_diff(a[i], b[i]) < tolerance * scale);
  }
}
}  // namespace

TEST_CASE("batch_norm_lstm_sequence: gradients of all inputs match finite differences", "[ops][lstm]") {
  int64_t T = 3, N = 3, H = 2;
  Inputs in = inputs(7, T, N, H, 0.5);
  nl::manual_seed(8);
  Tensor weights = nl::randn({T + 1, N, H}, nl::f64);
  for (bool training : {true, false}) {
    INFO("training " << training);
    Setup s{running_stats(9, 2, H), 0, training};
    auto fn = [&](const std::vector<Tensor>& x) { return (fused(x, s) * weights).sum(); };
    nl::GradcheckResult r = nl::gradcheck(fn, in);
    INFO(r.message);
    CHECK(r.ok);
  }
}

TEST_CASE("batch_norm_lstm_sequence: equals the steps composed from matmul, batch_norm and lstm_cell_state",
          "[ops][lstm]") {
  // max_steps 3 from start_step 1: steps 0..4 use slots 1, 2, 2, 2, 2 (the last one shared, updated four times)
  int64_t T = 5, N = 4, H = 6, S = 3;
  nl::manual_seed(10);
  Tensor seed = nl::randn({T + 1, N, H}, nl::f64);
  for (bool training : {true, false}) {
    INFO("training " << training);
    nl::BNLSTMRunningStats running = running_stats(11, S, H);
    SECTION("float64, to 1e-10, with and without the gate bias") {
      for (bool bias : {true, false}) {
        INFO("bias " << bias);
        Inputs a = inputs(12, T, N, H, 0.3), b = inputs(12, T, N, H, 0.3);
        if (!bias) a[6] = b[6] = Tensor();
        auto fused_run = run(a, {clone(running), 1, training}, seed, true);
        auto reference = run(b, {clone(running), 1, training}, seed, false);
        check_same(fused_run, reference, 1e-10);
      }
    }
    SECTION("float32, to 1e-5 of the float64 composition") {
      auto fused_run = run(to_dtype(inputs(12, T, N, H, 0.3), nl::f32), {clone(running, nl::f32), 1, training}, seed,
                           true);
      auto reference = run(inputs(12, T, N, H, 0.3), {clone(running), 1, training}, seed, false);
      check_same(fused_run, reference, 1e-5, /*relative=*/true);
    }
  }
}

TEST_CASE("batch_norm_lstm_sequence: rows or units split over threads, partial blocks and panels", "[ops][lstm]") {
  // Two threads split N = 22 by rows, in whole blocks of kStatRows = 8 (8 and
  // 14 rows, the last block 6), and N = 10 by units (fewer than two row tiles
  // each), at H = 40: a 32-unit block and an 8-unit one, forward panels of 8
  // units, the last hidden-gradient panel a quarter. Statistics are merged
  // per block of rows, so both must equal one thread bit for bit.
  for (int64_t N : {22, 10}) {
    INFO("N " << N);
    const int64_t T = 3, H = 40;
    {
      nl_test::ThreadCount scope(2);
      REQUIRE(nl::ops::split_plain_lstm(N, H, nl::f64, nl::kernels::kStatRows).by_rows == (N == 22));
    }
    nl::manual_seed(21);
    Tensor seed = nl::randn({T + 1, N, H}, nl::f64);
    nl::BNLSTMRunningStats running = running_stats(22, 4, H);
    for (bool training : {true, false}) {
      INFO("training " << training);
      auto go = [&](int threads, bool use_fused) {
        nl_test::ThreadCount scope(threads);
        return run(inputs(23, T, N, H, 0.2), {clone(running), 0, training}, seed, use_fused);
      };
      auto one = go(1, true), two = go(2, true), reference = go(1, false);
      for (size_t i = 0; i < one.size(); ++i) {
        INFO(what(i));
        CHECK(nl_test::bitwise_equal(one[i], two[i]));  // the thread split changes no sum
      }
      check_same(two, reference, 1e-10);
    }
  }
}

TEST_CASE("batch_norm_lstm_sequence: h_n and c_n are outputs of the same node, and no graph without grad",
          "[ops][lstm]") {
  int64_t T = 3, N = 2, H = 4;
  Inputs a = inputs(31, T, N, H, 0.4);
  Setup s{running_stats(32, 8, H), 0, true};
  nl::LSTMSequenceResult r = nl::batch_norm_lstm_sequence(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8],
                                                          s.running, 0, true);
  CHECK(r.h_n.grad_fn() == r.output.grad_fn());
  CHECK(r.c_n.grad_fn() == r.output.grad_fn());
  CHECK(nl_test::bitwise_equal(r.h_n, r.output.select(0, T - 1)));
  Inputs detached;
  for (const Tensor& t : a) detached.push_back(t.detach());  // (every input defined here)
  CHECK_FALSE(fused(detached, s).requires_grad());
}

TEST_CASE("batch_norm_lstm_sequence: bad shapes, statistics and batches are clear errors", "[ops][lstm]") {
  int64_t H = 2;
  Tensor x = nl::zeros({2, 3, 8}), h = nl::zeros({3, 2}), w = nl::zeros({8, 2});
  Tensor g4 = nl::ones({8}), b4 = nl::zeros({8}), g = nl::ones({2}), b = nl::zeros({2});
  nl::BNLSTMRunningStats running = clone(running_stats(40, 3, H), nl::f32);
  auto error = [&](const Tensor& x_proj, const Tensor& h0, const Tensor& bias, const nl::BNLSTMRunningStats& r,
                   bool training = true) {
    return nl_test::error_of(
        [&] { nl::batch_norm_lstm_sequence(x_proj, h0, h0, w, g4, g4, bias, g, b, r, 0, training); });
  };
  CHECK_THAT(error(nl::zeros({2, 3, 7}), h, b4, running),
             Catch::Contains("batch_norm_lstm_sequence: expected x_proj (T, N, 4H)"));
  CHECK_THAT(error(x, h, nl::zeros({4}), running), Catch::Contains("bias must be undefined or with shape [8]"));
  nl::BNLSTMRunningStats short_c = running;
  short_c.var_c = nl::ones({2, H});
  CHECK_THAT(error(x, h, b4, short_c), Catch::Contains("running.var_c must be a contiguous float32 tensor of shape "
                                                       "(max_steps, 2)"));
  CHECK_THAT(error(nl::zeros({2, 1, 8}), nl::zeros({1, 2}), b4, running),
             Catch::Contains("expected more than 1 value per channel when training"));
  CHECK(error(nl::zeros({2, 1, 8}), nl::zeros({1, 2}), Tensor(), running, /*training=*/false).empty());
}
