#include "normlab.h"

int main() {
  nl::manual_seed(0);
  nl::Tensor x = nl::randn({4, 3});  // float32 by default
  nl::Tensor w = nl::randn({2, 3}, nl::f64).requires_grad_(true);
  nl::Tensor b = nl::zeros({2}, nl::f64).requires_grad_(true);
  nl::Tensor y = nl::relu(nl::matmul(x.to(nl::f64), w.t()) + b);  // broadcasting
  fmt::print("{}\n", y);
  y.sum().backward();
  fmt::print("{}\n", w.grad());  // same shape as w

  // Views share storage: no copy, writes show through.
  nl::Tensor m = nl::arange(6).reshape({2, 3});
  fmt::print("{} {}\n", m.t().shape(), m.t().is_contiguous());

  // LayerNorm from primitives, checked against finite differences in float64.
  auto layer_norm = [](const std::vector<nl::Tensor>& in) {
    const nl::Tensor& v = in[0];
    return (v - v.mean({-1}, true)) * nl::rsqrt(v.var({-1}, false, true) + 1e-5);
  };
  nl::GradcheckResult check = nl::gradcheck(layer_norm, {nl::randn({2, 5}, nl::f64).requires_grad_(true)});
  fmt::print("gradcheck: {}\n", check.ok ? "ok" : check.message);

  // Bad calls throw nl::Error naming the op and the shapes.
  try {
    nl::matmul(nl::randn({32, 784}), nl::randn({10, 784}));
  } catch (const nl::Error& e) {
    fmt::print("{}\n", e.what());
  }
  {
    nl::NoGradGuard no_grad;  // no graph recorded here
    fmt::print("{}\n", (w * 2).requires_grad());
  }
}
