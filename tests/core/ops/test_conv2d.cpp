// conv2d and conv1d: the im2col + GEMM op against a plain loop over the
// definition (output and all three gradients, float64, many shapes), finite
// differences, PyTorch's F.conv2d / F.conv1d (fixtures written by
// tests/fixtures/make_conv_fixtures.py), thread-count invariance and errors.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"

using namespace normlab_test;

namespace {

struct ConvCase {
  int64_t N, C_in, H, W, C_out, kH, kW;
  nl::Size2 stride = 1, padding = 0, dilation = 1;
  int64_t groups = 1;
  bool bias = true;
};

std::string describe(const ConvCase& c) {
  return fmt::format(
      "N={} C_in={} {}x{} C_out={} kernel {}x{} stride ({},{}) padding ({},{}) dilation ({},{}) groups={}{}", c.N,
      c.C_in, c.H, c.W, c.C_out, c.kH, c.kW, c.stride.h, c.stride.w, c.padding.h, c.padding.w, c.dilation.h,
      c.dilation.w, c.groups, c.bias ? "" : " no bias");
}

// The definition, as plain loops in double: y and, for the upstream gradient
// dy, the gradients of x, w and b (each product x·w read once more in reverse).
struct NaiveConv {
  std::vector<double> y, dx, dw, db;
  int64_t Ho = 0, Wo = 0;
};
NaiveConv naive_conv2d(const ConvCase& c, const std::vector<double>& x, const std::vector<double>& w,
                       const std::vector<double>& b, const std::vector<double>& dy_or_empty) {
  NaiveConv r;
  r.Ho = (c.H + 2 * c.padding.h - c.dilation.h * (c.kH - 1) - 1) / c.stride.h + 1;
  r.Wo = (c.W + 2 * c.padding.w - c.dilation.w * (c.kW - 1) - 1) / c.stride.w + 1;
  int64_t cin_g = c.C_in / c.groups, cout_g = c.C_out / c.groups;
  r.y.assign(size_t(c.N * c.C_out * r.Ho * r.Wo), 0.0);
  r.dx.assign(x.size(), 0.0);
  r.dw.assign(w.size(), 0.0);
  r.db.assign(size_t(c.C_out), 0.0);
  bool backward = !dy_or_empty.empty();
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t o = 0; o < c.C_out; ++o)
      for (int64_t i = 0; i < r.Ho; ++i)
        for (int64_t j = 0; j < r.Wo; ++j) {
          size_t yi = size_t(((n * c.C_out + o) * r.Ho + i) * r.Wo + j);
          double s = b.empty() ? 0.0 : b[size_t(o)];
          double g = backward ? dy_or_empty[yi] : 0.0;
          if (!b.empty()) r.db[size_t(o)] += g;
          for (int64_t ci = 0; ci < cin_g; ++ci)
            for (int64_t p = 0; p < c.kH; ++p)
              for (int64_t q = 0; q < c.kW; ++q) {
                int64_t h = i * c.stride.h - c.padding.h + p * c.dilation.h;
                int64_t v = j * c.stride.w - c.padding.w + q * c.dilation.w;
                if (h < 0 || h >= c.H || v < 0 || v >= c.W) continue;
                int64_t channel = (o / cout_g) * cin_g + ci;
                size_t xi = size_t(((n * c.C_in + channel) * c.H + h) * c.W + v);
                size_t wi = size_t(((o * cin_g + ci) * c.kH + p) * c.kW + q);
                s += w[wi] * x[xi];
                r.dx[xi] += g * w[wi];
                r.dw[wi] += g * x[xi];
              }
          r.y[yi] = s;
        }
  return r;
}

struct ConvInputs {
  nl::Tensor x, w, b;
};
ConvInputs make_inputs(const ConvCase& c, nl::DType dtype) {
  return {nl::randn({c.N, c.C_in, c.H, c.W}, dtype), nl::randn({c.C_out, c.C_in / c.groups, c.kH, c.kW}, dtype),
          c.bias ? nl::randn({c.C_out}, dtype) : nl::Tensor()};
}

double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

// conv2d's output and gradients equal the loops' within tol.
void require_equals_naive(const ConvCase& c, double tol) {
  INFO(describe(c));
  ConvInputs in = make_inputs(c, nl::f64);
  nl::Tensor x = in.x.clone().requires_grad_(true), w = in.w.clone().requires_grad_(true);
  nl::Tensor b = c.bias ? in.b.clone().requires_grad_(true) : nl::Tensor();
  nl::Tensor y = nl::conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups);
  nl::Tensor dy = nl::randn(y.shape(), nl::f64);
  y.backward(dy);
  NaiveConv ref = naive_conv2d(c, in.x.to_vector<double>(), in.w.to_vector<double>(),
                               c.bias ? in.b.to_vector<double>() : std::vector<double>{}, dy.to_vector<double>());
  REQUIRE(y.shape() == nl::Shape{c.N, c.C_out, ref.Ho, ref.Wo});
  CHECK(max_diff(y.to_vector<double>(), ref.y) <= tol);
  CHECK(max_diff(x.grad().to_vector<double>(), ref.dx) <= tol);
  CHECK(max_diff(w.grad().to_vector<double>(), ref.dw) <= tol);
  if (c.bias) CHECK(max_diff(b.grad().to_vector<double>(), ref.db) <= tol);
}

nl::Tensor fixture(const std::string& name) { return fixture_tensor("conv.safetensors", name); }

}  // namespace

TEST_CASE("conv2d: equals the plain loop over the definition, output and gradients, float64", "[ops][conv2d]") {
  nl::manual_seed(1);
  std::vector<ConvCase> cases = {
      {2, 3, 7, 6, 4, 3, 3},                              // plain, odd sizes
      {1, 1, 5, 5, 1, 1, 1},                              // 1x1 on one channel, N = 1
      {3, 4, 6, 5, 6, 1, 1, 1, 0, 1, 2},                  // 1x1 grouped
      {2, 3, 8, 9, 5, 3, 2, {2, 1}, {1, 0}},              // strides, padding per dim
      {2, 2, 9, 7, 3, 3, 3, 1, 2, 2},                     // dilation 2 with padding
      {1, 4, 7, 7, 4, 3, 3, 2, 1, 1, 4},                  // depthwise, stride 2
      {2, 4, 6, 6, 8, 3, 3, 1, 1, 1, 4, false},           // depthwise multiplier 2, no bias
      {2, 6, 5, 8, 4, 2, 3, {1, 2}, {1, 1}, {2, 1}, 2},   // groups 2, everything mixed
      {1, 2, 3, 3, 2, 3, 3},                              // kernel = input: 1x1 output
      {2, 2, 4, 4, 3, 6, 6, 1, 1},                        // kernel = padded input
      {1, 3, 1, 9, 2, 1, 4, {1, 3}, {0, 2}},              // H = 1 (the conv1d shape)
      {3, 5, 10, 3, 5, 4, 2, {3, 1}, {2, 1}, {2, 1}, 5},  // depthwise, uneven everything
      {2, 1, 6, 6, 3, 3, 3, 4, 0},                        // stride larger than the kernel
      {30, 16, 32, 32, 4, 3, 3, 1, 1, 1, 2},              // one sample per chunk (P 1024): GEMMs on y and dy in place
      {3, 4, 24, 24, 4, 3, 3, 1, 1, 1, 2, false},         // the same without bias (P 576), 3 parts
      {121, 16, 12, 12, 8, 3, 3, 1, 1, 1, 2},             // 7 chunks of 16 samples and one of 9 (P 144), 8 parts
      // stride 1 and as wide as the input: im2col's one shifted copy per block
      {2, 2, 6, 7, 3, 5, 5, 1, 2},       // 5x5, padding 2: two padded columns each side
      {2, 3, 7, 5, 2, 3, 1, 1, {1, 0}},  // 3x1: no padded columns, padded rows
      {1, 2, 1, 4, 2, 3, 3, 1, 1},       // H = 1 under a 3x3: kernel rows reading no input row
  };
  for (const ConvCase& c : cases) require_equals_naive(c, 1e-10);
}

TEST_CASE("conv2d: gradcheck of input, weight and bias with strides, padding, dilation, groups",
          "[ops][conv2d][gradcheck]") {
  nl::manual_seed(2);
  for (ConvCase c : {ConvCase{2, 2, 5, 4, 2, 3, 2, 1, 1}, ConvCase{1, 4, 6, 5, 4, 3, 3, 2, 1, 2, 2},
                     ConvCase{2, 3, 5, 5, 3, 2, 2, {2, 1}, {0, 1}, 1, 3}}) {
    INFO(describe(c));
    ConvInputs in = make_inputs(c, nl::f64);
    auto fn = [c](const std::vector<nl::Tensor>& t) {
      return nl::conv2d(t[0], t[1], t[2], c.stride, c.padding, c.dilation, c.groups);
    };
    require_gradcheck(fn, {in.x, in.w, in.b});
  }
  // a non-contiguous (transposed) input, no bias
  auto fn = [](const std::vector<nl::Tensor>& t) { return nl::conv2d(t[0].transpose(2, 3), t[1], {}, 1, 1); };
  require_gradcheck(fn, {nl::randn({2, 2, 4, 5}, nl::f64), nl::randn({3, 2, 3, 3}, nl::f64)});
}

TEST_CASE("conv2d: float32 agrees with float64, a strided input with its contiguous copy", "[ops][conv2d]") {
  nl::manual_seed(3);
  ConvCase c{3, 4, 9, 8, 6, 3, 3, 2, 1, 1, 2};
  ConvInputs in = make_inputs(c, nl::f64);
  auto y64 = nl::conv2d(in.x, in.w, in.b, c.stride, c.padding, c.dilation, c.groups);
  auto y32 =
      nl::conv2d(in.x.to(nl::f32), in.w.to(nl::f32), in.b.to(nl::f32), c.stride, c.padding, c.dilation, c.groups);
  CHECK(y32.dtype() == nl::f32);
  CHECK(max_abs_diff(y32.to(nl::f64), y64) < 1e-4);
  auto strided = nl::randn({2, 3, 6, 5}).transpose(2, 3);  // (2, 3, 5, 6), not contiguous
  auto w = nl::randn({2, 3, 2, 2});
  CHECK(max_abs_diff(nl::conv2d(strided, w), nl::conv2d(strided.contiguous(), w)) == 0.0);
}

TEST_CASE("conv2d: results identical with 1, 2 and 3 threads", "[ops][conv2d]") {
  nl::manual_seed(4);
  // one sample a chunk in 8 parts (whole parts per thread, one GEMM per chunk
  // and group); one sample (one part: the threads share its GEMM blocks);
  // 7 chunks of 6 samples and one of 3, in 8 parts; 3 parts (uneven over 2
  // threads)
  for (auto [x_shape, w_shape, groups] : {std::tuple{nl::Shape{8, 16, 28, 28}, nl::Shape{16, 8, 3, 3}, 2},
                                          std::tuple{nl::Shape{1, 64, 28, 28}, nl::Shape{64, 64, 3, 3}, 1},
                                          std::tuple{nl::Shape{45, 32, 14, 14}, nl::Shape{64, 32, 3, 3}, 1},
                                          std::tuple{nl::Shape{3, 16, 28, 28}, nl::Shape{32, 16, 3, 3}, 1}}) {
    INFO(fmt::format("input {}, weight {}", x_shape, w_shape));
    auto x = nl::randn(x_shape).requires_grad_(true);
    auto w = nl::randn(w_shape).requires_grad_(true), b = nl::randn({w_shape[0]}).requires_grad_(true);
    auto g = nl::randn({x_shape[0], w_shape[0], x_shape[2], x_shape[3]});
    int before = nl::get_num_threads();
    std::vector<std::vector<float>> results[3];
    for (int threads : {1, 2, 3}) {
      nl::set_num_threads(threads);
      auto y = nl::conv2d(x, w, b, 1, 1, 1, groups);
      x.set_grad({}), w.set_grad({}), b.set_grad({});
      y.backward(g);
      results[threads - 1] = {y.to_vector<float>(), x.grad().to_vector<float>(), w.grad().to_vector<float>(),
                              b.grad().to_vector<float>()};
    }
    nl::set_num_threads(before);
    for (int i = 0; i < 4; ++i) CHECK((results[0][i] == results[1][i] && results[0][i] == results[2][i]));
  }
}

TEST_CASE("conv2d: only the gradients asked for, and empty batches", "[ops][conv2d]") {
  nl::manual_seed(5);
  auto x = nl::randn({2, 3, 5, 5}, nl::f64), w = nl::randn({4, 3, 3, 3}, nl::f64).requires_grad_(true);
  auto y = nl::conv2d(x, w, {}, 1, 1);
  y.sum().backward();
  CHECK(!x.grad().defined());
  auto full_w = w.detach().clone().requires_grad_(true), full_x = x.clone().requires_grad_(true);
  nl::conv2d(full_x, full_w, {}, 1, 1).sum().backward();
  CHECK(max_abs_diff(w.grad(), full_w.grad()) == 0.0);

  auto e = nl::randn({0, 3, 5, 5}, nl::f64).requires_grad_(true);
  auto b = nl::randn({4}, nl::f64).requires_grad_(true);
  auto ye = nl::conv2d(e, w, b);
  CHECK(ye.shape() == nl::Shape{0, 4, 3, 3});
  ye.sum().backward();
  CHECK(b.grad().to_vector<double>() == std::vector<double>(4, 0.0));
}

TEST_CASE("conv1d: equals the plain loop and conv2d on (N, C, 1, L)", "[ops][conv2d][conv1d]") {
  nl::manual_seed(6);
  struct Case {
    int64_t N, C_in, L, C_out, K, stride, padding, dilation, groups;
  };
  for (Case c : {Case{2, 3, 11, 4, 3, 1, 0, 1, 1}, Case{1, 4, 9, 8, 3, 2, 1, 2, 4}, Case{3, 6, 7, 4, 2, 3, 2, 1, 2},
                 Case{2, 2, 5, 2, 5, 1, 0, 1, 2}}) {
    INFO(fmt::format("N={} C_in={} L={} C_out={} K={} stride {} padding {} dilation {} groups {}", c.N, c.C_in, c.L,
                     c.C_out, c.K, c.stride, c.padding, c.dilation, c.groups));
    auto x = nl::randn({c.N, c.C_in, c.L}, nl::f64).requires_grad_(true);
    auto w = nl::randn({c.C_out, c.C_in / c.groups, c.K}, nl::f64).requires_grad_(true);
    auto b = nl::randn({c.C_out}, nl::f64).requires_grad_(true);
    auto y = nl::conv1d(x, w, b, c.stride, c.padding, c.dilation, c.groups);
    int64_t Lo = (c.L + 2 * c.padding - c.dilation * (c.K - 1) - 1) / c.stride + 1;
    REQUIRE(y.shape() == nl::Shape{c.N, c.C_out, Lo});
    // y[n,o,l] = b[o] + Σ_{ci,k} w[o,ci,k] · x[n, g·C_in/groups + ci, l·stride − padding + k·dilation]
    auto xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = b.to_vector<double>(), yv = y.to_vector<double>();
    int64_t cin_g = c.C_in / c.groups, cout_g = c.C_out / c.groups;
    double worst = 0;
    for (int64_t n = 0; n < c.N; ++n)
      for (int64_t o = 0; o < c.C_out; ++o)
        for (int64_t l = 0; l < Lo; ++l) {
          double s = bv[size_t(o)];
          for (int64_t ci = 0; ci < cin_g; ++ci)
            for (int64_t k = 0; k < c.K; ++k) {
              int64_t t = l * c.stride - c.padding + k * c.dilation;
              if (t < 0 || t >= c.L) continue;
              s += wv[size_t((o * cin_g + ci) * c.K + k)] *
                   xv[size_t((n * c.C_in + (o / cout_g) * cin_g + ci) * c.L + t)];
            }
          worst = std::max(worst, std::abs(s - yv[size_t((n * c.C_out + o) * Lo + l)]));
        }
    CHECK(worst <= 1e-10);
    auto dy = nl::randn(y.shape(), nl::f64);
    y.backward(dy);
    auto x2 = x.detach().clone().requires_grad_(true), w2 = w.detach().clone().requires_grad_(true);
    auto b2 = b.detach().clone().requires_grad_(true);
    auto y2 =
        nl::conv2d(x2.unsqueeze(2), w2.unsqueeze(2), b2, {1, c.stride}, {0, c.padding}, {1, c.dilation}, c.groups);
    y2.backward(dy.unsqueeze(2));
    CHECK(max_abs_diff(y, y2.squeeze(2)) == 0.0);
    CHECK(max_abs_diff(x.grad(), x2.grad()) == 0.0);
    CHECK(max_abs_diff(w.grad(), w2.grad()) == 0.0);
    CHECK(max_abs_diff(b.grad(), b2.grad()) == 0.0);
  }
  auto fn = [](const std::vector<nl::Tensor>& t) { return nl::conv1d(t[0], t[1], t[2], 2, 1, 2, 2); };
  require_gradcheck(fn, {nl::randn({2, 4, 8}, nl::f64), nl::randn({2, 2, 3}, nl::f64), nl::randn({2}, nl::f64)});
}

TEST_CASE("conv2d and conv1d: PyTorch parity (F.conv2d, F.conv1d), outputs and all gradients",
          "[ops][conv2d][conv1d][pytorch]") {
  struct Case {
    const char* name;
    bool one_d;
    nl::Size2 stride, padding, dilation;
    int64_t groups;
  };
  for (Case c :
       {Case{"conv2d_plain", false, 1, 0, 1, 1}, Case{"conv2d_stride_pad", false, 2, 1, 1, 1},
        Case{"conv2d_dilation_groups", false, 1, 2, 2, 2}, Case{"conv2d_depthwise", false, {2, 1}, {1, 0}, 1, 4},
        Case{"conv2d_mixed", false, {1, 2}, {2, 1}, {1, 2}, 3}, Case{"conv1d_plain", true, 1, 0, 1, 1},
        Case{"conv1d_groups_dilation", true, 2, 2, 2, 2}}) {
    INFO(c.name);
    std::string p = c.name;
    auto x = fixture(p + ".x").clone().requires_grad_(true), w = fixture(p + ".weight").clone().requires_grad_(true);
    auto b = fixture(p + ".bias").clone().requires_grad_(true);
    REQUIRE(x.dtype() == nl::f32);
    auto y = c.one_d ? nl::conv1d(x, w, b, c.stride.w, c.padding.w, c.dilation.w, c.groups)
                     : nl::conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups);
    y.backward(fixture(p + ".upstream"));
    // float32 sums of up to a few hundred terms of order 1
    auto close = [](const nl::Tensor& a, const nl::Tensor& expected) {
      double scale = 1.0;
      for (double v : expected.to_vector<double>()) scale = std::max(scale, std::abs(v));
      return max_abs_diff(a, expected) <= 1e-5 * scale;
    };
    CHECK(close(y, fixture(p + ".out")));
    CHECK(close(x.grad(), fixture(p + ".grad_x")));
    CHECK(close(w.grad(), fixture(p + ".grad_weight")));
    CHECK(close(b.grad(), fixture(p + ".grad_bias")));
  }
}

TEST_CASE("conv2d and conv1d: errors name the op, the shapes and what was expected", "[ops][conv2d][errors]") {
  auto x = nl::randn({2, 4, 6, 6}), w = nl::randn({6, 2, 3, 3});
  using Catch::Contains;
  REQUIRE_THROWS_WITH(nl::conv2d(nl::randn({4, 6, 6}), w), Contains("conv2d") && Contains("[4,6,6]"));
  REQUIRE_THROWS_WITH(nl::conv2d(x, nl::randn({6, 4, 3})), Contains("weight") && Contains("[6,4,3]"));
  REQUIRE_THROWS_WITH(nl::conv2d(x, nl::randn({6, 1, 3, 3}), {}, 1, 0, 1, 3),
                      Contains("groups=3") && Contains("4 input channels"));
  REQUIRE_THROWS_WITH(nl::conv2d(x, nl::randn({5, 2, 3, 3}), {}, 1, 0, 1, 2),
                      Contains("groups=2") && Contains("5 output channels"));
  REQUIRE_THROWS_WITH(nl::conv2d(x, nl::randn({6, 3, 3, 3})),
                      Contains("weight [6,3,3,3]") && Contains("expects 3 input channels") && Contains("[2,4,6,6]"));
  REQUIRE_THROWS_WITH(nl::conv2d(x, w, {}, 1, 0, 1, 0), Contains("groups must be positive"));
  REQUIRE_THROWS_WITH(nl::conv2d(x, nl::randn({6, 4, 7, 3})), Contains("larger than the padded input (6, 6)"));
  REQUIRE_THROWS_WITH(nl::conv2d(x, nl::randn({6, 4, 4, 4}), {}, 1, 0, 2), Contains("dilated: (7, 7)"));
  CHECK(nl::conv2d(x, nl::randn({6, 4, 7, 3}), {}, 1, 1).shape() == nl::Shape{2, 6, 2, 6});  // padding makes room
  REQUIRE_THROWS_WITH(nl::conv2d(x, nl::randn({6, 4, 3, 3}), {}, 0), Contains("stride must be positive"));
  REQUIRE_THROWS_WITH(nl::conv2d(x, nl::randn({6, 4, 3, 3}), {}, {1, -1}), Contains("stride must be positive"));
  REQUIRE_THROWS_WITH(nl::conv2d(x, nl::randn({6, 4, 3, 3}), {}, 1, 0, {0, 1}), Contains("dilation must be positive"));
  REQUIRE_THROWS_WITH(nl::conv2d(x, nl::randn({6, 4, 3, 3}), {}, 1, -1), Contains("padding must be non-negative"));
  REQUIRE_THROWS_WITH(nl::conv2d(x, nl::randn({6, 4, 3, 3}), nl::randn({5})), Contains("bias") && Contains("[5]"));
  REQUIRE_THROWS_WITH(nl::conv2d(x, nl::randn({6, 4, 3, 3}, nl::f64)), Contains("dtype") && Contains("float64"));
  REQUIRE_THROWS_WITH(nl::conv2d(nl::zeros({2, 4, 6, 6}, nl::i64), w), Contains("floating"));
  REQUIRE_THROWS_WITH(nl::conv1d(nl::randn({2, 4, 6, 6}), nl::randn({6, 4, 3})),
                      Contains("conv1d") && Contains("(N, C_in, L)"));
  REQUIRE_THROWS_WITH(nl::conv1d(nl::randn({2, 4, 5}), nl::randn({6, 4, 7})),
                      Contains("conv1d") && Contains("kernel 7") && Contains("padded input 5"));
  REQUIRE_THROWS_WITH(nl::conv1d(nl::randn({2, 4, 5}), nl::randn({6, 4, 3}), {}, 0), Contains("conv1d: stride"));
}
