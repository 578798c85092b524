// layer_norm_lstm_sequence: the fused whole-sequence LN-LSTM against finite
// differences and against the same steps composed from matmul, layer_norm
// and lstm_cell_state (nl::reference::layer_norm_lstm_sequence, what
// layers::LSTM ran before the fused op); errors.
#include "tests/core/core_test_helpers.h"

using nl::Tensor;

namespace {
constexpr double kEps = 1e-5;

// inputs: x_proj, h0, c0, W_hh, γ_hh, β_hh, γ_c, β_c. The op's output and
// c_n packed as (T + 1, N, H): rows 0..T−1 are h_1..h_T, row T is c_T.
Tensor fused(const std::vector<Tensor>& in) {
  nl::LSTMSequenceResult r =
      nl::layer_norm_lstm_sequence(in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], kEps);
  return nl::cat({r.output, r.c_n.unsqueeze(0)}, 0);
}

// The reference (nl::reference::layer_norm_lstm_sequence), packed as fused() packs.
Tensor composed(const std::vector<Tensor>& in) {
  nl::LSTMSequenceResult r =
      nl::reference::layer_norm_lstm_sequence(in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], kEps);
  return nl::cat({r.output, r.c_n.unsqueeze(0)}, 0);
}

// x_proj, h0, c0 standard normal, W_hh scaled by weight_scale, the gains
// 1 + 0.3·N(0, 1) and the biases 0.3·N(0, 1); float64, all requiring grad,
// drawn from `seed`.
std::vector<Tensor> inputs(uint64_t seed, int64_t T, int64_t N, int64_t H, double weight_scale) {
  nl::manual_seed(seed);
  std::vector<Tensor> in = {nl::randn({T, N, 4 * H}, nl::f64),
                            nl::randn({N, H}, nl::f64),
                            nl::randn({N, H}, nl::f64),
                            nl::randn({4 * H, H}, nl::f64) * weight_scale,
                            nl::randn({4 * H}, nl::f64) * 0.3 + 1.0,
                            nl::randn({4 * H}, nl::f64) * 0.3,
                            nl::randn({H}, nl::f64) * 0.3 + 1.0,
                            nl::randn({H}, nl::f64) * 0.3};
  for (Tensor& t : in) t.requires_grad_(true);
  return in;
}

std::vector<Tensor> to_dtype(const std::vector<Tensor>& in, nl::DType dtype) {
  std::vector<Tensor> out;
  for (const Tensor& t : in) out.push_back(t.detach().to(dtype).requires_grad_(true));
  return out;
}

double max_diff(const Tensor& a, const Tensor& b) {
  return nl::max(nl::abs(a.to(nl::f64) - b.to(nl::f64))).item<double>();
}

// The output and every input's gradient after backward of Σ packed·seed.
std::vector<Tensor> values_and_grads(const std::vector<Tensor>& in, const Tensor& seed, bool use_fused) {
  Tensor y = use_fused ? fused(in) : composed(in);
  (y * seed.to(y.dtype())).sum().backward();
  std::vector<Tensor> out{y.detach()};
  for (const Tensor& t : in) out.push_back(t.grad());
  return out;
}

std::string what(size_t i) { return i == 0 ? std::string("output") : "gradient of input " + std::to_string(i - 1); }
}  // namespace

TEST_CASE("layer_norm_lstm_sequence: gradients of all inputs match finite differences", "[ops][lstm]") {
  int64_t T = 3, N = 2, H = 3;
  std::vector<Tensor> in = inputs(7, T, N, H, 0.5);
  nl::manual_seed(8);
  Tensor weights = nl::randn({T + 1, N, H}, nl::f64);  // every output row, c_T included, gets a gradient
  auto fn = [&](const std::vector<Tensor>& x) { return (fused(x) * weights).sum(); };
  nl::GradcheckResult r = nl::gradcheck(fn, in);
  INFO(r.message);
  CHECK(r.ok);
}

TEST_CASE("layer_norm_lstm_sequence: equals the steps composed from matmul, layer_norm and lstm_cell_state",
          "[ops][lstm]") {
  int64_t T = 5, N = 4, H = 6;
  nl::manual_seed(9);
  Tensor seed = nl::randn({T + 1, N, H}, nl::f64);
  SECTION("float64, to 1e-10") {
    auto a = values_and_grads(inputs(10, T, N, H, 0.3), seed, true);
    auto b = values_and_grads(inputs(10, T, N, H, 0.3), seed, false);
    for (size_t i = 0; i < a.size(); ++i) {
      INFO(what(i));
      CHECK(max_diff(a[i], b[i]) < 1e-10);
    }
  }
  SECTION("float32, to 1e-5 of the float64 composition") {
    auto a = values_and_grads(to_dtype(inputs(10, T, N, H, 0.3), nl::f32), seed, true);
    auto b = values_and_grads(inputs(10, T, N, H, 0.3), seed, false);
    for (size_t i = 0; i < a.size(); ++i) {
      INFO(what(i));
      CHECK(a[i].dtype() == nl::f32);
      CHECK(max_diff(a[i], b[i]) < 1e-5 * std::max(1.0, nl::max(nl::abs(b[i])).item<double>()));
    }
  }
}

TEST_CASE("layer_norm_lstm_sequence: h_n and c_n are outputs of the same node, each with its own gradient",
          "[ops][lstm]") {
  int64_t T = 3, N = 2, H = 4;
  auto a = inputs(12, T, N, H, 0.4), b = inputs(12, T, N, H, 0.4);
  Tensor dy = nl::randn({T, N, H}, nl::f64), dh = nl::randn({N, H}, nl::f64), dc = nl::randn({N, H}, nl::f64);
  nl::LSTMSequenceResult r = nl::layer_norm_lstm_sequence(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], kEps);
  CHECK(r.h_n.grad_fn() == r.output.grad_fn());
  CHECK(r.c_n.grad_fn() == r.output.grad_fn());
  CHECK(nl_test::bitwise_equal(r.h_n, r.output.select(0, T - 1)));
  ((r.output * dy).sum() + (r.h_n * dh).sum() + (r.c_n * dc).sum()).backward();
  Tensor reference = composed(b);
  CHECK(max_diff(r.c_n, reference.select(0, T)) < 1e-12);
  ((reference.slice(0, 0, T) * dy).sum() + (reference.select(0, T - 1) * dh).sum() +
   (reference.select(0, T) * dc).sum())
      .backward();
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("input " << i);
    CHECK(max_diff(a[i].grad(), b[i].grad()) < 1e-10);
  }
}

TEST_CASE("layer_norm_lstm_sequence: rows split over threads, partial panels and row groups", "[ops][lstm]") {
  // H = 40: 4H = 160 is five product panels, H = 40 one full and one quarter
  // hidden-gradient panel; N = 22: row groups of 3 and a last one of 1, split
  // over 2 threads as 11 and 11 rows, so a row sits in a different place of
  // its tile (or a tile of another size) at 1 and 2 threads.
  int64_t T = 3, N = 22, H = 40;
  nl::manual_seed(21);
  Tensor seed = nl::randn({T + 1, N, H}, nl::f64);
  for (nl::DType dtype : {nl::f64, nl::f32}) {
    INFO(std::string(nl::dtype_name(dtype)));
    auto run = [&](int threads, bool use_fused) {
      nl_test::ThreadCount scope(threads);
      std::vector<Tensor> in = inputs(22, T, N, H, 0.2);
      return values_and_grads(use_fused ? to_dtype(in, dtype) : in, seed, use_fused);
    };
    auto one = run(1, true), two = run(2, true), reference = run(1, false);
    for (size_t i = 0; i < one.size(); ++i) {
      INFO(what(i));
      // The thread split changes no value and no sum of ours. dW_hh (input 3)
      // is one OpenBLAS GEMM, whose float32 sums at this shape differ between
      // its 1- and 2-thread runs (2272 of 6400 values, checked with cblas_sgemm alone).
      if (dtype == nl::f64 || i != 4) CHECK(nl_test::bitwise_equal(one[i], two[i]));
      CHECK(max_diff(two[i], reference[i]) < (dtype == nl::f64 ? 1e-10 : 1e-5));
    }
  }
}

TEST_CASE("layer_norm_lstm_sequence: a strided x_proj and inputs without grad", "[ops][lstm]") {
  int64_t T = 4, N = 3, H = 8;
  auto in = inputs(30, T, N, H, 0.3);
  std::vector<Tensor> strided = to_dtype(in, nl::f64);
  strided[0] = in[0].detach().transpose(0, 1).contiguous().transpose(0, 1);  // (T, N, 4H), not contiguous
  CHECK_FALSE(strided[0].is_contiguous());
  for (Tensor& t : strided) t = t.detach();  // no input requires grad: no graph
  nl::LSTMSequenceResult r = nl::layer_norm_lstm_sequence(strided[0], strided[1], strided[2], strided[3], strided[4],
                                                          strided[5], strided[6], strided[7], kEps);
  CHECK_FALSE(r.output.requires_grad());
  CHECK(max_diff(nl::cat({r.output, r.c_n.unsqueeze(0)}, 0), composed(in)) < 1e-12);
}

TEST_CASE("layer_norm_lstm_sequence: bad shapes and parameters are clear errors", "[ops][lstm]") {
  Tensor x = nl::zeros({2, 3, 8}), h = nl::zeros({3, 2}), c = nl::zeros({3, 2}), w = nl::zeros({8, 2});
  Tensor g4 = nl::ones({8}), b4 = nl::zeros({8}), g = nl::ones({2}), b = nl::zeros({2});
  auto error = [&](Tensor x_proj, Tensor h0, Tensor hh_weight, Tensor c_bias, double eps = kEps) {
    return nl_test::error_of([&] { nl::layer_norm_lstm_sequence(x_proj, h0, c, w, hh_weight, b4, g, c_bias, eps); });
  };
  CHECK_THAT(error(nl::zeros({2, 3, 7}), h, g4, b),
             Catch::Contains("layer_norm_lstm_sequence: expected x_proj (T, N, 4H)"));
  CHECK_THAT(error(x, nl::zeros({2, 2}), g4, b), Catch::Contains("expected h0 and c0 (3, 2) and weight_hh (8, 2)"));
  CHECK_THAT(error(x, h, nl::ones({2}), b), Catch::Contains("hh_weight must be defined with shape [8]"));
  CHECK_THAT(error(x, h, g4, Tensor()), Catch::Contains("c_bias must be defined with shape [2]"));
  CHECK_THAT(error(x, h, g4, b.to(nl::f64)), Catch::Contains("dtype"));
  CHECK_THAT(error(x, h, g4, b, 0.0), Catch::Contains("eps must be > 0"));
}
