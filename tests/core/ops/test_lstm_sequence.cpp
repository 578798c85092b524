// lstm_sequence: the fused whole-sequence LSTM against finite differences and
// against the same steps composed from matmul and lstm_cell
// (nl::reference::lstm_sequence); errors.
#include "core/ops/lstm_helpers.h"
#include "tests/core/core_test_helpers.h"

using nl::Tensor;

namespace {
// The fused op's output and c_n packed as (T + 1, N, H): rows 0..T−1 are
// h_1..h_T, row T is c_T (h_n is output's last row).
Tensor fused(const Tensor& x_proj, const Tensor& h0, const Tensor& c0, const Tensor& w) {
  nl::LSTMSequenceResult r = nl::lstm_sequence(x_proj, h0, c0, w);
  return nl::cat({r.output, r.c_n.unsqueeze(0)}, 0);
}

// The reference (nl::reference::lstm_sequence: T steps of a = x_proj[t] + h·W_hhᵀ,
// (h, c) = lstm_cell(a, c)), packed as fused() packs.
Tensor composed(const Tensor& x_proj, const Tensor& h, const Tensor& c, const Tensor& w) {
  nl::LSTMSequenceResult r = nl::reference::lstm_sequence(x_proj, h, c, w);
  return nl::cat({r.output, r.c_n.unsqueeze(0)}, 0);
}

// x_proj (T, N, 4H), h0 and c0 (N, H) standard normal and W_hh (4H, H) scaled by
// weight_scale, in float64, all requiring grad (drawn in that order).
std::vector<Tensor> lstm_inputs(int64_t T, int64_t N, int64_t H, double weight_scale) {
  std::vector<Tensor> in = {nl::randn({T, N, 4 * H}, nl::f64), nl::randn({N, H}, nl::f64), nl::randn({N, H}, nl::f64),
                            nl::randn({4 * H, H}, nl::f64) * weight_scale};
  for (Tensor& t : in) t.requires_grad_(true);
  return in;
}
}  // namespace

TEST_CASE("lstm_sequence: gradients of all inputs match finite differences", "[ops][lstm]") {
  nl::manual_seed(7);
  int64_t T = 3, N = 2, H = 3;
  std::vector<Tensor> inputs = lstm_inputs(T, N, H, 0.5);
  Tensor weights = nl::randn({T + 1, N, H}, nl::f64);  // every output row, c_T included, gets a gradient
  auto fn = [&](const std::vector<Tensor>& in) { return (fused(in[0], in[1], in[2], in[3]) * weights).sum(); };
  nl::GradcheckResult r = nl::gradcheck(fn, inputs);
  INFO(r.message);
  CHECK(r.ok);
}

TEST_CASE("lstm_sequence: equals the steps composed from matmul and lstm_cell, values and gradients", "[ops][lstm]") {
  nl::manual_seed(8);
  int64_t T = 5, N = 4, H = 6;
  auto make = [&] {
    nl::manual_seed(9);
    return lstm_inputs(T, N, H, 0.3);
  };
  auto a = make(), b = make();
  Tensor seed = nl::randn({T + 1, N, H}, nl::f64);
  Tensor fused_out = fused(a[0], a[1], a[2], a[3]);
  Tensor reference = composed(b[0], b[1], b[2], b[3]);
  CHECK(nl::max(nl::abs(fused_out - reference)).item<double>() < 1e-12);
  (fused_out * seed).sum().backward();
  (reference * seed).sum().backward();
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("input " << i);
    CHECK(nl::max(nl::abs(a[i].grad() - b[i].grad())).item<double>() < 1e-12);
  }
}

TEST_CASE("lstm_sequence: h_n and c_n are outputs of the same node, each with its own gradient", "[ops][lstm]") {
  int64_t T = 3, N = 2, H = 4;
  auto make = [&] {
    nl::manual_seed(12);
    return lstm_inputs(T, N, H, 0.4);
  };
  auto a = make(), b = make();
  Tensor dy = nl::randn({T, N, H}, nl::f64), dh = nl::randn({N, H}, nl::f64), dc = nl::randn({N, H}, nl::f64);
  nl::LSTMSequenceResult r = nl::lstm_sequence(a[0], a[1], a[2], a[3]);
  CHECK(r.h_n.grad_fn() == r.output.grad_fn());
  CHECK(r.c_n.grad_fn() == r.output.grad_fn());
  CHECK(nl_test::bitwise_equal(r.h_n, r.output.select(0, T - 1)));
  ((r.output * dy).sum() + (r.h_n * dh).sum() + (r.c_n * dc).sum()).backward();
  Tensor reference = composed(b[0], b[1], b[2], b[3]);
  CHECK(nl::max(nl::abs(r.c_n - reference.select(0, T))).item<double>() < 1e-12);
  ((reference.slice(0, 0, T) * dy).sum() + (reference.select(0, T - 1) * dh).sum() +
   (reference.select(0, T) * dc).sum())
      .backward();
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("input " << i);
    CHECK(nl::max(nl::abs(a[i].grad() - b[i].grad())).item<double>() < 1e-12);
  }
}

TEST_CASE("lstm_sequence: split over threads by rows or by units, with partial panels and row blocks", "[ops][lstm]") {
  // By rows (W_hh fits in L2, N >= 12 on 2 threads): N = 22, rows 11 and 11,
  // tiles of 3 and a last one of 2. By units (N = 10 too few rows for whole
  // tiles): H = 72, unit blocks of 32, 32 and 8, the last forward panel full
  // and the last backward panel a quarter; row tiles of 3 and a last one of 1.
  struct Case {
    int64_t N, H;
    bool by_rows;
  };
  for (Case k : {Case{22, 40, true}, Case{10, 72, false}}) {
    const int64_t T = 3, N = k.N, H = k.H;
    {
      nl_test::ThreadCount scope(2);
      const nl::ops::SequenceSplit split = nl::ops::split_plain_lstm(N, H, nl::f64);
      REQUIRE(split.threads == 2);
      REQUIRE(split.by_rows == k.by_rows);
    }
    auto make = [&] {
      nl::manual_seed(21);
      return lstm_inputs(T, N, H, 0.2);
    };
    Tensor seed = nl::randn({T + 1, N, H}, nl::f64);
    auto run = [&](int threads, bool use_fused) {
      nl_test::ThreadCount scope(threads);
      auto in = make();
      Tensor y = use_fused ? fused(in[0], in[1], in[2], in[3]) : composed(in[0], in[1], in[2], in[3]);
      (y * seed).sum().backward();
      std::vector<Tensor> out{y.detach()};
      for (Tensor& t : in) out.push_back(t.grad());
      return out;
    };
    auto one = run(1, true), two = run(2, true), reference = run(1, false);
    for (size_t i = 0; i < one.size(); ++i) {
      INFO((k.by_rows ? "by rows, " : "by units, ")
           << (i == 0 ? std::string("output") : "gradient of input " + std::to_string(i - 1)));
      CHECK(nl_test::bitwise_equal(one[i], two[i]));  // the thread split changes no sum
      CHECK(nl::max(nl::abs(two[i] - reference[i])).item<double>() < 1e-11);
    }
  }
}

TEST_CASE("lstm_sequence: float32 and a strided x_proj give the float64 result", "[ops][lstm]") {
  nl::manual_seed(10);
  int64_t T = 4, N = 3, H = 8;
  Tensor x = nl::randn({N, T, 4 * H}, nl::f64).transpose(0, 1);  // (T, N, 4H), not contiguous
  Tensor h = nl::randn({N, H}, nl::f64), c = nl::randn({N, H}, nl::f64), w = nl::randn({4 * H, H}, nl::f64) * 0.3;
  Tensor y64 = fused(x, h, c, w);
  Tensor y32 = fused(x.to(nl::f32), h.to(nl::f32), c.to(nl::f32), w.to(nl::f32));
  CHECK(nl::max(nl::abs(y32.to(nl::f64) - y64)).item<double>() < 1e-5);
}

TEST_CASE("lstm_sequence: bad shapes are clear errors", "[ops][lstm]") {
  Tensor x = nl::zeros({2, 3, 8}), h = nl::zeros({3, 2}), c = nl::zeros({3, 2}), w = nl::zeros({8, 2});
  CHECK_THAT(nl_test::error_of([&] {
               nl::lstm_sequence(nl::zeros({2, 3, 7}), h, c, w);
             }),
             Catch::Contains("lstm_sequence: expected x_proj (T, N, 4H)"));
  CHECK_THAT(nl_test::error_of([&] { nl::lstm_sequence(nl::zeros({0, 3, 8}), h, c, w); }), Catch::Contains("T >= 1"));
  CHECK_THAT(nl_test::error_of([&] {
               nl::lstm_sequence(x, nl::zeros({2, 2}), c, w);
             }),
             Catch::Contains("expected h0 and c0 (3, 2) and weight_hh (8, 2)"));
  CHECK_THAT(nl_test::error_of([&] { nl::lstm_sequence(x, h, c, nl::zeros({8, 3})); }), Catch::Contains("weight_hh"));
  CHECK_THAT(nl_test::error_of([&] { nl::lstm_sequence(x, h.to(nl::f64), c, w); }), Catch::Contains("dtype"));
}
