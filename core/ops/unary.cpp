// Elementwise math: each op's forward formula and its derivative side by side.
#include <cmath>
#include <numbers>

#include "core/kernels/vec_math.h"
#include "core/ops/helpers.h"

namespace nl {

namespace vec = kernels::vec;  // exp, tanh, sigmoid, Φ that vectorize in float32

using ops::map_any;
using ops::map_float;
using ops::zip;

Tensor neg(const Tensor& x) {
  Tensor y = map_any("neg", x, [](auto v) { return -v; });
  // y = -x;  dx = -dy
  if (needs_grad(x)) attach(y, "neg", {x}, [](const Tensor& g) -> Grads { return {neg(g)}; });
  return y;
}
Tensor operator-(const Tensor& x) { return neg(x); }

Tensor exp(const Tensor& x) {
  Tensor y = map_float("exp", x, [](auto v) { return std::exp(v); });
  // y = e^x;  dx = dy * y
  if (needs_grad(x)) attach(y, "exp", {x}, save(y), [](const Tensor& g, const Tensor& y) -> Grads { return {g * y}; });
  return y;
}

Tensor log(const Tensor& x) {
  Tensor y = map_float("log", x, [](auto v) { return std::log(v); });
  // y = ln x;  dx = dy / x
  if (needs_grad(x)) attach(y, "log", {x}, save(x), [](const Tensor& g, const Tensor& x) -> Grads { return {g / x}; });
  return y;
}

Tensor sqrt(const Tensor& x) {
  Tensor y = map_float("sqrt", x, [](auto v) { return std::sqrt(v); });
  // y = √x;  dx = dy / (2y)
  if (needs_grad(x))
    attach(y, "sqrt", {x}, save(y), [](const Tensor& g, const Tensor& y) -> Grads {
      return {zip("sqrt_backward", g, y, [](auto dy, auto yv) { return dy / (2 * yv); })};
    });
  return y;
}

Tensor rsqrt(const Tensor& x) {
  Tensor y = map_float("rsqrt", x, [](auto v) { return 1 / std::sqrt(v); });
  // y = x^(-1/2);  dx = dy * (-1/2) * y³
  if (needs_grad(x))
    attach(y, "rsqrt", {x}, save(y), [](const Tensor& g, const Tensor& y) -> Grads {
      return {zip("rsqrt_backward", g, y, [](auto dy, auto yv) { return dy * (-0.5) * yv * yv * yv; })};
    });
  return y;
}

Tensor abs(const Tensor& x) {
  Tensor y = map_any("abs", x, [](auto v) { return v < 0 ? -v : v; });
  // y = |x|;  dx = dy * sign(x)  (0 at x = 0, as PyTorch)
  if (needs_grad(x))
    attach(y, "abs", {x}, save(x), [](const Tensor& g, const Tensor& x) -> Grads {
      return {zip("abs_backward", g, x, [](auto dy, auto xv) { return xv > 0 ? dy : xv < 0 ? -dy : 0 * dy; })};
    });
  return y;
}

Tensor tanh(const Tensor& x) {
  Tensor y = map_float("tanh", x, [](auto v) { return vec::tanh(v); });
  // y = tanh x;  dx = dy * (1 - y²)
  if (needs_grad(x))
    attach(y, "tanh", {x}, save(y), [](const Tensor& g, const Tensor& y) -> Grads {
      return {zip("tanh_backward", g, y, [](auto dy, auto yv) { return dy * (1 - yv * yv); })};
    });
  return y;
}

Tensor sigmoid(const Tensor& x) {
  // σ(x) = 1 / (1 + e^-x)  (e^-x = inf for very negative x gives 0, as it should)
  Tensor y = map_float("sigmoid", x, [](auto v) { return vec::sigmoid(v); });
  // dx = dy * y * (1 - y)
  if (needs_grad(x))
    attach(y, "sigmoid", {x}, save(y), [](const Tensor& g, const Tensor& y) -> Grads {
      return {zip("sigmoid_backward", g, y, [](auto dy, auto yv) { return dy * yv * (1 - yv); })};
    });
  return y;
}

Tensor relu(const Tensor& x) {
  Tensor y = map_any("relu", x, [](auto v) { return v > 0 ? v : decltype(v)(0); });
  // y = max(x, 0);  dx = dy where y > 0
  if (needs_grad(x))
    attach(y, "relu", {x}, save(y), [](const Tensor& g, const Tensor& y) -> Grads {
      return {zip("relu_backward", g, y, [](auto dy, auto yv) { return yv > 0 ? dy : 0 * dy; })};
    });
  return y;
}

namespace gelu_constants {
constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // φ(0) = 1/√(2π)
constexpr double kSqrt2OverPi = 0.79788456080286535588;
constexpr double kCubic = 0.044715;
}  // namespace gelu_constants

Tensor gelu(const Tensor& x, std::string_view approximate) {
  using namespace gelu_constants;
  Tensor y;
  if (approximate == "none") {
    // y = x·Φ(x),  Φ(x) = (1 + erf(x/√2)) / 2
    y = map_float("gelu", x, [](auto v) { return v * vec::normal_cdf(v); });
    // dx = dy · (Φ(x) + x·φ(x)),  φ(x) = e^(-x²/2) / √(2π)
    if (needs_grad(x))
      attach(y, "gelu", {x}, save(x), [](const Tensor& g, const Tensor& x) -> Grads {
        return {zip("gelu_backward", g, x, [](auto dy, auto v) {
          using T = decltype(v);
          T e = vec::exp(T(-0.5) * v * v);  // φ(x) = e/√(2π); Φ(x) from the same e
          return dy * (vec::normal_cdf(v, e) + v * T(kInvSqrt2Pi) * e);
        })};
      });
  } else if (approximate == "tanh") {
    // y = x/2 · (1 + tanh(u)),  u = √(2/π)·(x + 0.044715·x³)
    y = map_float("gelu", x, [](auto v) {
      using T = decltype(v);
      return T(0.5) * v * (1 + vec::tanh(T(kSqrt2OverPi) * (v + T(kCubic) * v * v * v)));
    });
    // dx = dy · [(1 + tanh u)/2 + x/2 · (1 - tanh²u) · √(2/π)·(1 + 3·0.044715·x²)]
    if (needs_grad(x))
      attach(y, "gelu_tanh", {x}, save(x), [](const Tensor& g, const Tensor& x) -> Grads {
        return {zip("gelu_backward", g, x, [](auto dy, auto v) {
          using T = decltype(v);
          T t = vec::tanh(T(kSqrt2OverPi) * (v + T(kCubic) * v * v * v));
          return dy * (T(0.5) * (1 + t) + T(0.5) * v * (1 - t * t) * T(kSqrt2OverPi) * (1 + 3 * T(kCubic) * v * v));
        })};
      });
  } else {
    fail("gelu: approximate must be \"none\" or \"tanh\", got \"{}\"", approximate);
  }
  return y;
}

Tensor pow(const Tensor& x, double exponent) {
  Tensor y = exponent == 2.0 ? map_float("pow", x, [](auto v) { return v * v; })
                             : map_float("pow", x, [exponent](auto v) { return std::pow(v, exponent); });
  // y = x^p;  dx = dy · p · x^(p-1)
  if (needs_grad(x))
    attach(y, "pow", {x}, save(x), [exponent](const Tensor& g, const Tensor& x) -> Grads {
      if (exponent == 0.0) return {zeros_like(g)};
      return {zip("pow_backward", g, x, [exponent](auto dy, auto v) {
        return dy * exponent * (exponent == 2.0 ? v : std::pow(v, exponent - 1));
      })};
    });
  return y;
}

Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max) {
  if (!min && !max) fail("clamp: at least one of min and max must be given (shape {})", x.shape());
  if (min && max && *min > *max) fail("clamp: min {} is greater than max {}", *min, *max);
  double lo = min.value_or(-INFINITY), hi = max.value_or(INFINITY);
  Tensor y = map_float("clamp", x, [lo, hi](auto v) {
    using T = decltype(v);
    return std::isnan(v) ? v : std::min(std::max(v, T(lo)), T(hi));
  });
  // dx = dy where lo <= x <= hi, else 0
  if (needs_grad(x))
    attach(y, "clamp", {x}, save(x), [lo, hi](const Tensor& g, const Tensor& x) -> Grads {
      return {zip("clamp_backward", g, x, [lo, hi](auto dy, auto v) { return (v >= lo && v <= hi) ? dy : 0 * dy; })};
    });
  return y;
}

}  // namespace nl
