// max_pool2d, avg_pool2d and adaptive_avg_pool2d, with ceil_mode, dilation
// and the divisors: against plain loops over their definitions (outputs and
// input gradients, float64), finite
// differences, PyTorch's F.max_pool2d / avg_pool2d / adaptive_avg_pool2d
// (fixtures written by tests/fixtures/make_conv_fixtures.py), unbatched
// inputs, thread-count invariance and errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"

using namespace normlab_test;

namespace {

enum class Pool { max, avg, adaptive };

struct PoolCase {
  int64_t N, C, H, W;
  nl::Size2 kernel, stride = 1, padding = 0;  // adaptive: kernel is the output size
  nl::Size2 dilation = 1;                     // max only
  bool ceil_mode = false, count_include_pad = true;
  int64_t divisor_override = 0;  // avg only
};

std::string describe(const PoolCase& c) {
  return fmt::format(
      "({}, {}, {}, {}) kernel/output ({}, {}) stride ({}, {}) padding ({}, {}) dilation ({}, {}) ceil_mode {} "
      "count_include_pad {} divisor_override {}",
      c.N, c.C, c.H, c.W, c.kernel.h, c.kernel.w, c.stride.h, c.stride.w, c.padding.h, c.padding.w, c.dilation.h,
      c.dilation.w, c.ceil_mode, c.count_include_pad, c.divisor_override);
}

nl::Tensor run(Pool pool, const nl::Tensor& x, const PoolCase& c) {
  switch (pool) {
    case Pool::max: return nl::max_pool2d(x, c.kernel, c.stride, c.padding, c.dilation, c.ceil_mode);
    case Pool::avg:
      return nl::avg_pool2d(x, c.kernel, c.stride, c.padding, c.ceil_mode, c.count_include_pad, c.divisor_override);
    case Pool::adaptive: return nl::adaptive_avg_pool2d(x, c.kernel);
  }
  return {};
}

// The definitions as plain loops in double: y, and dx for the upstream dy.
struct Naive {
  std::vector<double> y, dx;
  int64_t Ho = 0, Wo = 0;
};
Naive naive_pool(Pool pool, const PoolCase& c, const std::vector<double>& x, const std::vector<double>& dy) {
  Naive r;
  if (pool == Pool::adaptive) {
    r.Ho = c.kernel.h, r.Wo = c.kernel.w;
  } else {  // PyTorch's pooling_output_shape
    auto out = [&](int64_t size, int64_t k, int64_t s, int64_t p, int64_t d) {
      double span = double(size + 2 * p - d * (k - 1) - 1) / double(s);
      int64_t o = int64_t(c.ceil_mode ? std::ceil(span) : std::floor(span)) + 1;
      if (c.ceil_mode && (o - 1) * s >= size + p) --o;
      return o;
    };
    r.Ho = out(c.H, c.kernel.h, c.stride.h, c.padding.h, c.dilation.h);
    r.Wo = out(c.W, c.kernel.w, c.stride.w, c.padding.w, c.dilation.w);
  }
  r.y.assign(size_t(c.N * c.C * r.Ho * r.Wo), 0.0);
  r.dx.assign(x.size(), 0.0);
  bool backward = !dy.empty();
  for (int64_t plane = 0; plane < c.N * c.C; ++plane)
    for (int64_t i = 0; i < r.Ho; ++i)
      for (int64_t j = 0; j < r.Wo; ++j) {
        // the window: rows h0 + m·dh for m < kh, possibly reaching into the padding
        int64_t h0, w0, kh, kw, dh = c.dilation.h, dw = c.dilation.w;
        if (pool == Pool::adaptive) {
          h0 = int64_t(std::floor(double(i * c.H) / double(r.Ho)));
          kh = int64_t(std::ceil(double((i + 1) * c.H) / double(r.Ho))) - h0;
          w0 = int64_t(std::floor(double(j * c.W) / double(r.Wo)));
          kw = int64_t(std::ceil(double((j + 1) * c.W) / double(r.Wo))) - w0;
          dh = dw = 1;
        } else {
          h0 = i * c.stride.h - c.padding.h, kh = c.kernel.h;
          w0 = j * c.stride.w - c.padding.w, kw = c.kernel.w;
        }
        size_t o = size_t((plane * r.Ho + i) * r.Wo + j);
        double g = backward ? dy[o] : 0.0;
        double best = -std::numeric_limits<double>::infinity(), sum = 0;
        size_t arg = 0;
        int64_t inside = 0;
        std::vector<size_t> members;  // the window's elements inside the input
        for (int64_t m = 0; m < kh; ++m)
          for (int64_t n = 0; n < kw; ++n) {
            int64_t h = h0 + m * dh, w = w0 + n * dw;
            if (h < 0 || h >= c.H || w < 0 || w >= c.W) continue;  // padding: −inf for max, 0 for avg
            size_t k = size_t((plane * c.H + h) * c.W + w);
            if (x[k] > best) best = x[k], arg = k;
            sum += x[k];
            ++inside;
            members.push_back(k);
          }
        // avg's divisor: the override; with count_include_pad the window cut at the padded border; else inside
        double divisor = double(inside);
        if (pool == Pool::avg && c.divisor_override > 0)
          divisor = double(c.divisor_override);
        else if (pool == Pool::avg && c.count_include_pad)
          divisor = double((std::min(h0 + kh, c.H + c.padding.h) - h0) * (std::min(w0 + kw, c.W + c.padding.w) - w0));
        if (pool == Pool::max) {
          r.y[o] = best;
          r.dx[arg] += g;
        } else {
          r.y[o] = sum / divisor;
          for (size_t k : members) r.dx[k] += g / divisor;
        }
      }
  return r;
}

void require_equals_naive(Pool pool, const PoolCase& c) {
  INFO(describe(c));
  nl::Tensor x = nl::randn({c.N, c.C, c.H, c.W}, nl::f64).requires_grad_(true);
  nl::Tensor y = run(pool, x, c);
  nl::Tensor dy = nl::randn(y.shape(), nl::f64);
  y.backward(dy);
  Naive ref = naive_pool(pool, c, x.to_vector<double>(), dy.to_vector<double>());
  REQUIRE(y.shape() == nl::Shape{c.N, c.C, ref.Ho, ref.Wo});
  auto yv = y.to_vector<double>(), dx = x.grad().to_vector<double>();
  double worst_y = 0, worst_dx = 0;
  for (size_t i = 0; i < yv.size(); ++i) worst_y = std::max(worst_y, std::abs(yv[i] - ref.y[i]));
  for (size_t i = 0; i < dx.size(); ++i) worst_dx = std::max(worst_dx, std::abs(dx[i] - ref.dx[i]));
  CHECK(worst_y <= 1e-12);
  CHECK(worst_dx <= 1e-12);
}

const std::vector<PoolCase> sliding_cases = {
    {2, 3, 6, 7, 2, 2},                    // the usual 2x2, odd width
    {1, 2, 9, 8, 3, 2, 1},                 // overlapping windows with padding
    {2, 1, 7, 5, {3, 2}, {2, 1}, {1, 0}},  // everything per dim
    {1, 3, 5, 5, 5, 1},                    // kernel = input
    {3, 2, 4, 6, {1, 3}, {1, 3}, {0, 1}},  // 1-row kernel
    {1, 1, 10, 9, 2, 3},                   // stride larger than the kernel
    {2, 2, 6, 6, 4, {1, 2}, 2},            // padding = kernel/2
};

// the options: ceil_mode (windows cut by the padded border), dilation (max), the divisors (avg)
const std::vector<PoolCase> max_option_cases = {
    {1, 2, 8, 7, 3, 2, 0, 1, true},            // ceil_mode: a last, partial window
    {1, 3, 9, 10, 3, 2, 1, 2},                 // dilation 2 with padding
    {1, 2, 9, 8, 2, {2, 3}, 1, {3, 2}, true},  // dilation per dim, ceil_mode
    {2, 1, 7, 7, 2, 2, 1, 1, true},            // ceil_mode with padding
};
const std::vector<PoolCase> avg_option_cases = {
    {2, 2, 8, 7, 3, 2, 1, 1, true},            // ceil_mode: count_include_pad cut at the padded border
    {1, 3, 9, 8, 3, 2, 1, 1, false, false},    // count_include_pad = false
    {2, 2, 8, 7, 3, 2, 1, 1, true, false},     // both
    {1, 2, 6, 7, 2, 2, 0, 1, false, true, 5},  // divisor_override
    {1, 1, 5, 5, 3, 2, 1, 1, true, true, 7},   // divisor_override with ceil_mode
};

nl::Tensor fixture(const std::string& name) { return fixture_tensor("conv.safetensors", name); }

}  // namespace

TEST_CASE("max_pool2d: equals the plain loop, output and input gradient", "[ops][pool2d][max_pool2d]") {
  nl::manual_seed(1);
  for (const PoolCase& c : sliding_cases) require_equals_naive(Pool::max, c);
  for (const PoolCase& c : max_option_cases) require_equals_naive(Pool::max, c);
}

TEST_CASE("avg_pool2d: equals the plain loop, padding counted in the divisor", "[ops][pool2d][avg_pool2d]") {
  nl::manual_seed(2);
  for (const PoolCase& c : sliding_cases) require_equals_naive(Pool::avg, c);
  for (const PoolCase& c : avg_option_cases) require_equals_naive(Pool::avg, c);
}

TEST_CASE("adaptive_avg_pool2d: equals the plain loop, shrinking, overlapping and growing",
          "[ops][pool2d][adaptive_avg_pool2d]") {
  nl::manual_seed(3);
  for (PoolCase c : {PoolCase{2, 3, 7, 8, {3, 3}}, PoolCase{2, 2, 5, 6, 1}, PoolCase{1, 2, 5, 7, {4, 5}},
                     PoolCase{1, 2, 3, 4, {5, 6}}, PoolCase{2, 1, 6, 6, 6}, PoolCase{1, 1, 10, 1, {3, 1}}})
    require_equals_naive(Pool::adaptive, c);
  // output 1x1 is the mean over the plane
  auto x = nl::randn({2, 3, 5, 4}, nl::f64);
  CHECK(max_abs_diff(nl::adaptive_avg_pool2d(x, 1), x.mean({2, 3}, true)) < 1e-14);
}

TEST_CASE("pools: gradcheck in float64", "[ops][pool2d][gradcheck]") {
  nl::manual_seed(4);
  auto x = nl::randn({2, 2, 5, 6}, nl::f64);
  require_gradcheck([](const std::vector<nl::Tensor>& t) { return nl::max_pool2d(t[0], 3, 2, 1); }, {x});
  require_gradcheck([](const std::vector<nl::Tensor>& t) { return nl::max_pool2d(t[0], {2, 3}, {1, 2}); }, {x});
  require_gradcheck([](const std::vector<nl::Tensor>& t) { return nl::avg_pool2d(t[0], 3, 2, 1); }, {x});
  require_gradcheck([](const std::vector<nl::Tensor>& t) { return nl::avg_pool2d(t[0], {2, 3}, 1, {1, 0}); }, {x});
  require_gradcheck([](const std::vector<nl::Tensor>& t) { return nl::adaptive_avg_pool2d(t[0], {3, 4}); }, {x});
  require_gradcheck([](const std::vector<nl::Tensor>& t) { return nl::adaptive_avg_pool2d(t[0], {7, 4}); }, {x});
  // a non-contiguous input
  require_gradcheck([](const std::vector<nl::Tensor>& t) { return nl::max_pool2d(t[0].transpose(2, 3), 2); }, {x});
  // the options
  require_gradcheck([](const std::vector<nl::Tensor>& t) { return nl::max_pool2d(t[0], 2, {2, 1}, 1, 2, true); }, {x});
  require_gradcheck([](const std::vector<nl::Tensor>& t) { return nl::avg_pool2d(t[0], 3, 2, 1, true, false); }, {x});
  require_gradcheck([](const std::vector<nl::Tensor>& t) { return nl::avg_pool2d(t[0], 2, 2, 1, true, true, 3); }, {x});
}

TEST_CASE("pools: default stride is the kernel, (C, H, W) inputs, float32, max ties and NaN", "[ops][pool2d]") {
  nl::manual_seed(5);
  auto x = nl::randn({2, 3, 8, 6});
  CHECK(max_abs_diff(nl::max_pool2d(x, {2, 3}), nl::max_pool2d(x, {2, 3}, {2, 3}, 0)) == 0.0);
  CHECK(max_abs_diff(nl::avg_pool2d(x, 2), nl::avg_pool2d(x, 2, 2, 0)) == 0.0);
  auto plane = x.select(0, 1);  // (3, 8, 6)
  CHECK(nl::max_pool2d(plane, 2).shape() == nl::Shape{3, 4, 3});
  CHECK(max_abs_diff(nl::max_pool2d(plane, 3, 2, 1), nl::max_pool2d(x, 3, 2, 1).select(0, 1)) == 0.0);
  CHECK(max_abs_diff(nl::avg_pool2d(plane, 3, 1, 1), nl::avg_pool2d(x, 3, 1, 1).select(0, 1)) == 0.0);
  CHECK(max_abs_diff(nl::adaptive_avg_pool2d(plane, 3), nl::adaptive_avg_pool2d(x, 3).select(0, 1)) == 0.0);
  CHECK(nl::avg_pool2d(x, 2).dtype() == nl::f32);

  // a tie sends the whole gradient to the first maximum, scanning rows then columns
  auto t = nl::from_vector<double>({1, 3, 3, 2}, {1, 1, 2, 2}).requires_grad_(true);
  nl::max_pool2d(t, 2).backward(nl::ones({1, 1, 1, 1}, nl::f64));
  CHECK(t.grad().to_vector<double>() == std::vector<double>{0, 1, 0, 0});
  double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(std::isnan(nl::max_pool2d(nl::from_vector<double>({1, nan, 3, 2}, {1, 1, 2, 2}), 2).item<double>()));
  // the 2x2 path (branch-free selects): a NaN anywhere in the window wins and takes the gradient, in both dtypes
  for (nl::DType dtype : {nl::f64, nl::f32})
    for (int at = 0; at < 4; ++at) {
      std::vector<double> window{4, 1, 3, 2};
      window[size_t(at)] = nan;
      auto w = nl::from_vector<double>(window, {1, 1, 2, 2}).to(dtype).requires_grad_(true);
      auto m = nl::max_pool2d(w, 2);
      CHECK(std::isnan(m.to(nl::f64).item<double>()));
      m.backward(nl::ones({1, 1, 1, 1}, dtype));
      std::vector<double> expected(4, 0.0);
      expected[size_t(at)] = 1;
      CHECK(w.grad().to(nl::f64).to_vector<double>() == expected);
    }
}

// The 2×2 windows at stride 2 take their own kernel (vectors of 8 floats or
// 4 doubles, half that for narrow rows, one lane below, the last vector of a
// row overlapping the one before). Held to PyTorch's scan over a, b, c, d
// (take v if v > best or v is NaN) at every output width from 1 to 20, odd
// sizes, with many ties (values in {0, 1, 2}) and NaNs (about 1 in 12).
TEST_CASE("max_pool2d: the 2x2 kernel equals the scan at every width, ties and NaN included",
          "[ops][pool2d][max_pool2d]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  uint64_t state = 12345;
  auto next = [&] { return (state = state * 6364136223846793005ULL + 1442695040888963407ULL) >> 33; };
  for (nl::DType dtype : {nl::f32, nl::f64})
    for (int64_t W = 2; W <= 41; ++W)
      for (int64_t H : {2, 5}) {
        INFO(fmt::format("dtype {} H {} W {}", nl::dtype_name(dtype), H, W));
        const int64_t planes = 3, Ho = H / 2, Wo = W / 2;
        std::vector<double> xv(size_t(planes * H * W)), dyv(size_t(planes * Ho * Wo));
        for (double& v : xv) v = next() % 12 == 0 ? nan : double(next() % 3);
        for (size_t o = 0; o < dyv.size(); ++o) dyv[o] = double(o + 1);
        std::vector<double> y_ref(dyv.size()), dx_ref(xv.size(), 0.0);
        for (int64_t p = 0; p < planes; ++p)
          for (int64_t i = 0; i < Ho; ++i)
            for (int64_t j = 0; j < Wo; ++j) {
              size_t best = size_t((p * H + 2 * i) * W + 2 * j);
              for (size_t at : {best + 1, best + size_t(W), best + size_t(W) + 1})
                if (xv[at] > xv[best] || std::isnan(xv[at])) best = at;
              size_t o = size_t((p * Ho + i) * Wo + j);
              y_ref[o] = xv[best];
              dx_ref[best] = dyv[o];
            }
        auto x = nl::from_vector<double>(xv, {1, planes, H, W}).to(dtype).requires_grad_(true);
        auto y = nl::max_pool2d(x, 2);
        y.backward(nl::from_vector<double>(dyv, y.shape()).to(dtype));
        auto yv = y.to(nl::f64).to_vector<double>(), dx = x.grad().to(nl::f64).to_vector<double>();
        size_t wrong_y = 0;
        for (size_t o = 0; o < yv.size(); ++o) wrong_y += std::isnan(y_ref[o]) ? !std::isnan(yv[o]) : yv[o] != y_ref[o];
        CHECK(wrong_y == 0);
        CHECK(dx == dx_ref);
      }
}

TEST_CASE("pools: results identical with 1 and 2 threads", "[ops][pool2d]") {
  nl::manual_seed(6);
  auto x = nl::randn({16, 32, 28, 28}).requires_grad_(true);
  int before = nl::get_num_threads();
  std::vector<std::vector<float>> results[2];
  for (int threads : {1, 2}) {
    nl::set_num_threads(threads);
    x.set_grad({});
    auto y1 = nl::max_pool2d(x, 3, 2, 1), y2 = nl::avg_pool2d(x, 3, 2, 1), y3 = nl::adaptive_avg_pool2d(x, {5, 6});
    (y1.sum() + (y2 * y2).sum() + (y3 * y3).sum()).backward();
    results[threads - 1] = {y1.to_vector<float>(), y2.to_vector<float>(), y3.to_vector<float>(),
                            x.grad().to_vector<float>()};
  }
  nl::set_num_threads(before);
  for (int i = 0; i < 4; ++i) CHECK(results[0][i] == results[1][i]);
}

TEST_CASE("pools: PyTorch parity (F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d)", "[ops][pool2d][pytorch]") {
  struct Case {
    const char* name;
    Pool pool;
    PoolCase args;  // only kernel, stride and padding are used
  };
  for (Case c : {Case{"max_pool2d_k2", Pool::max, {0, 0, 0, 0, 2, 2}},
                 Case{"max_pool2d_k3_s2_p1", Pool::max, {0, 0, 0, 0, 3, 2, 1}},
                 Case{"max_pool2d_k32_s21_p10", Pool::max, {0, 0, 0, 0, {3, 2}, {2, 1}, {1, 0}}},
                 Case{"avg_pool2d_k2", Pool::avg, {0, 0, 0, 0, 2, 2}},
                 Case{"avg_pool2d_k3_s2_p1", Pool::avg, {0, 0, 0, 0, 3, 2, 1}},
                 Case{"avg_pool2d_k32_s12_p10", Pool::avg, {0, 0, 0, 0, {3, 2}, {1, 2}, {1, 0}}},
                 Case{"adaptive_avg_pool2d_3x3", Pool::adaptive, {0, 0, 0, 0, 3}},
                 Case{"adaptive_avg_pool2d_1x1", Pool::adaptive, {0, 0, 0, 0, 1}},
                 Case{"adaptive_avg_pool2d_4x5", Pool::adaptive, {0, 0, 0, 0, {4, 5}}},
                 Case{"adaptive_avg_pool2d_up", Pool::adaptive, {0, 0, 0, 0, {5, 6}}},
                 Case{"max_pool2d_k3_s2_ceil", Pool::max, {0, 0, 0, 0, 3, 2, 0, 1, true}},
                 Case{"max_pool2d_k3_s2_p1_d2", Pool::max, {0, 0, 0, 0, 3, 2, 1, 2}},
                 Case{"max_pool2d_k2_s23_p1_d32_ceil", Pool::max, {0, 0, 0, 0, 2, {2, 3}, 1, {3, 2}, true}},
                 Case{"avg_pool2d_k3_s2_p1_ceil", Pool::avg, {0, 0, 0, 0, 3, 2, 1, 1, true}},
                 Case{"avg_pool2d_k3_s2_p1_exclude_pad", Pool::avg, {0, 0, 0, 0, 3, 2, 1, 1, false, false}},
                 Case{"avg_pool2d_k3_s2_p1_ceil_exclude_pad", Pool::avg, {0, 0, 0, 0, 3, 2, 1, 1, true, false}},
                 Case{"avg_pool2d_k2_divisor5", Pool::avg, {0, 0, 0, 0, 2, 2, 0, 1, false, true, 5}}}) {
    INFO(c.name);
    std::string p = c.name;
    auto x = fixture(p + ".x").clone().requires_grad_(true);
    REQUIRE(x.dtype() == nl::f32);
    auto y = run(c.pool, x, c.args);
    y.backward(fixture(p + ".upstream"));
    CHECK(max_abs_diff(y, fixture(p + ".out")) <= 1e-6);
    CHECK(max_abs_diff(x.grad(), fixture(p + ".grad_x")) <= 1e-6);
  }
}

TEST_CASE("pools: errors name the op, the shapes and what was expected", "[ops][pool2d][errors]") {
  using Catch::Contains;
  auto x = nl::randn({2, 3, 6, 6});
  REQUIRE_THROWS_WITH(nl::max_pool2d(nl::randn({6, 6}), 2), Contains("max_pool2d") && Contains("[6,6]"));
  REQUIRE_THROWS_WITH(nl::avg_pool2d(nl::randn({1, 2, 3, 6, 6}), 2), Contains("avg_pool2d") && Contains("[1,2,3,6,6]"));
  REQUIRE_THROWS_WITH(nl::max_pool2d(x, 0), Contains("kernel_size must be positive"));
  REQUIRE_THROWS_WITH(nl::max_pool2d(x, 2, {0, 1}), Contains("stride must be positive"));
  REQUIRE_THROWS_WITH(nl::avg_pool2d(x, 3, 1, 2), Contains("at most half the kernel") && Contains("padding (2, 2)"));
  REQUIRE_THROWS_WITH(nl::avg_pool2d(x, 3, 1, -1), Contains("non-negative"));
  REQUIRE_THROWS_WITH(
      nl::max_pool2d(x, {7, 2}),
      Contains("kernel (7, 2) with dilation (1, 1) spans (7, 2), larger than the padded input (6, 6)") &&
          Contains("[2,3,6,6]"));
  REQUIRE_THROWS_WITH(nl::max_pool2d(x, 3, 1, 0, 3), Contains("spans (7, 7)"));  // dilation 3: 3·2 + 1
  REQUIRE_THROWS_WITH(nl::max_pool2d(x, 2, 2, 0, {1, 0}), Contains("dilation must be positive"));
  REQUIRE_THROWS_WITH(nl::avg_pool2d(x, 2, 2, 0, false, true, -1),
                      Contains("avg_pool2d") && Contains("divisor_override must be positive"));
  REQUIRE_THROWS_WITH(nl::max_pool2d(nl::randn({2, 3, 0, 6}), 1), Contains("empty plane"));
  REQUIRE_THROWS_WITH(nl::max_pool2d(nl::zeros({2, 3, 6, 6}, nl::i64), 2), Contains("floating"));
  REQUIRE_THROWS_WITH(nl::adaptive_avg_pool2d(x, {0, 2}), Contains("adaptive_avg_pool2d") && Contains("output_size"));
  REQUIRE_THROWS_WITH(nl::adaptive_avg_pool2d(nl::randn({6}), 2), Contains("adaptive_avg_pool2d") && Contains("[6]"));
}
