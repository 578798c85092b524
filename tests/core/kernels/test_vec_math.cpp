// kernels::vec: the float32 exp, tanh, sigmoid and normal CDF against
// float64 libm on a dense grid, to the error each one's comment states; and
// GELU (which runs them in the AVX2 clones) in float32 against float64.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "core/kernels/vec_math.h"
#include "normlab.h"

namespace vec = nl::kernels::vec;

namespace {
constexpr float kUlp = std::numeric_limits<float>::epsilon();  // 2^-23: relative spacing at 1
}  // namespace

TEST_CASE("vec: exp, tanh and sigmoid within 1.5 ulp of float64 on [-80, 80]", "[kernels][vec_math]") {
  double worst_exp = 0, worst_tanh = 0, worst_sigmoid = 0;
  for (int i = -400000; i <= 400000; ++i) {
    float x = float(i) * 2e-4f;
    double e = std::exp(double(x)), t = std::tanh(double(x)), s = 1 / (1 + std::exp(-double(x)));
    worst_exp = std::max(worst_exp, std::abs(vec::exp(x) - e) / e);
    if (t != 0) worst_tanh = std::max(worst_tanh, std::abs(vec::tanh(x) - t) / std::abs(t));
    worst_sigmoid = std::max(worst_sigmoid, std::abs(vec::sigmoid(x) - s) / s);
  }
  CHECK(worst_exp < 1.5 * kUlp);
  CHECK(worst_tanh < 1.5 * kUlp);
  CHECK(worst_sigmoid < 1.5 * kUlp);
}

TEST_CASE("vec: the normal CDF within 3e-7 of float64, saturating and keeping NaN", "[kernels][vec_math]") {
  double worst = 0;
  for (int i = -300000; i <= 300000; ++i) {
    float x = float(i) * 5e-5f;  // [-15, 15]
    worst = std::max(worst, std::abs(vec::normal_cdf(x) - 0.5 * std::erfc(-double(x) / std::sqrt(2.0))));
  }
  CHECK(worst < 3e-7);
  CHECK(vec::normal_cdf(100.0f) == 1.0f);
  CHECK(vec::normal_cdf(-100.0f) == 0.0f);
  CHECK(std::isnan(vec::normal_cdf(std::numeric_limits<float>::quiet_NaN())));
}

TEST_CASE("gelu: float32 forward and backward within 3 ulp of max(|value|, 1) of float64 on [-10, 10]",
          "[kernels][vec_math]") {
  nl::Tensor x32 = nl::arange(-10.0, 10.0 + 2.5e-4, 5e-4, nl::f32).requires_grad_(true);
  nl::Tensor x64 = x32.detach().to(nl::f64).requires_grad_(true);  // the same values
  nl::Tensor y64 = nl::gelu(x64), y32 = nl::gelu(x32);
  y64.sum().backward();
  y32.sum().backward();
  auto a = y32.to_vector<double>(), b = y64.to_vector<double>();
  auto da = x32.grad().to_vector<double>(), db = x64.grad().to_vector<double>();
  double worst = 0, worst_grad = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::abs(a[i] - b[i]) / std::max(std::abs(b[i]), 1.0));
    worst_grad = std::max(worst_grad, std::abs(da[i] - db[i]) / std::max(std::abs(db[i]), 1.0));
  }
  CHECK(worst < 3 * kUlp);
  CHECK(worst_grad < 3 * kUlp);
}
