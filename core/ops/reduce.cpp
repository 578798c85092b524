// Reductions: sum, mean, var, max, argmax, logsumexp, and sum_to (the
// backward of broadcasting). The gradient of a reduction is the output
// gradient broadcast back over the reduced dims, shaped by the rule.
#include "core/kernels/reduce.h"

#include <cmath>
#include <limits>
#include <type_traits>

#include "core/ops/helpers.h"

namespace nl {

using kernels::plan_reduce;
using kernels::ReducePlan;

namespace {
// float32 sums accumulate in double: a float accumulator loses digits after
// ~10^7 additions, and means over big activations must be right.
template <typename T>
using SumAcc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

// The output gradient broadcast back to the input's shape, as a stride-0 view.
Tensor spread(const Tensor& g, const Shape& keep_shape, const Shape& in_shape) {
  return g.reshape(keep_shape).expand(in_shape);
}

Tensor raw_sum(const char* op, const Tensor& x, const ReducePlan& p, double scale) {
  return dispatch_all(x.dtype(), [&]<typename T>() {
    using A = SumAcc<T>;
    return kernels::reduce<T, T>(
        op, x, p, A(0), [](auto a, auto v) { return a + A(v); },
        [scale](A a) { return scale == 1.0 ? T(a) : T(double(a) * scale); });
  });
}
}  // namespace

Tensor sum(const Tensor& x, const Shape& dims, bool keepdim) {
  ReducePlan p = plan_reduce("sum", x, dims, keepdim);
  Tensor y = raw_sum("sum", x, p, 1.0);
  // y = Σ x;  dx = dy (broadcast)
  if (needs_grad(x))
    attach(y, "sum", {x}, [keep = p.keep_shape, in_shape = x.shape()](const Tensor& g) -> Grads {
      return {spread(g, keep, in_shape)};
    });
  return y;
}
Tensor sum(const Tensor& x) { return sum(x, Shape{}, false); }

Tensor mean(const Tensor& x, const Shape& dims, bool keepdim) {
  ops::check_floating("mean", x);
  ReducePlan p = plan_reduce("mean", x, dims, keepdim);
  double n = double(p.reduced_count);
  Tensor y = raw_sum("mean", x, p, 1.0 / n);
  // y = Σ x / n;  dx = dy / n
  if (needs_grad(x))
    attach(y, "mean", {x}, [keep = p.keep_shape, in_shape = x.shape(), n](const Tensor& g) -> Grads {
      return {spread(g / n, keep, in_shape)};
    });
  return y;
}
Tensor mean(const Tensor& x) { return mean(x, Shape{}, false); }

Tensor var(const Tensor& x, const Shape& dims, bool unbiased, bool keepdim) {
  ops::check_floating("var", x);
  ReducePlan p = plan_reduce("var", x, dims, keepdim);
  double denom = double(p.reduced_count) - (unbiased ? 1.0 : 0.0);
  Tensor y, centered;
  {
    // two passes (mean, then squared deviations) for accuracy
    NoGradGuard no_grad;
    centered = x - mean(x, dims, true);
    y = sum(centered * centered, dims, keepdim) / denom;
  }
  // y = Σ (x - μ)² / (n - δ);  dx = dy · 2(x - μ) / (n - δ)   (the μ terms cancel: Σ(x - μ) = 0)
  if (needs_grad(x))
    attach(y, "var", {x}, save(centered),
           [keep = p.keep_shape, denom](const Tensor& g, const Tensor& centered) -> Grads {
             return {g.reshape(keep) * centered * (2.0 / denom)};
           });
  return y;
}

Tensor max(const Tensor& x, const Shape& dims, bool keepdim) {
  ReducePlan p = plan_reduce("max", x, dims, keepdim);
  if (p.reduced_count == 0) fail("max: cannot reduce over a zero-size dim (shape {})", x.shape());
  Tensor y = dispatch_all(x.dtype(), [&]<typename T>() {
    // NaN wins, as in PyTorch: once acc is NaN, no comparison replaces it
    return kernels::reduce<T, T>(
        "max", x, p,
        std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest(),
        [](auto a, auto v) { return (v > a || v != v) ? T(v) : T(a); }, [](T a) { return a; });
  });
  // dy flows to the elements equal to the max, split evenly among ties
  if (needs_grad(x))
    attach(y, "max", {x}, save(x, y),
           [keep = p.keep_shape, dims](const Tensor& g, const Tensor& x, const Tensor& y) -> Grads {
             Tensor is_max = eq(x, y.reshape(keep));
             return {g.reshape(keep) * is_max / sum(is_max, dims, true)};
           });
  return y;
}
Tensor max(const Tensor& x) { return max(x, Shape{}, false); }

Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  if (x.numel() == 0) fail("argmax: cannot take argmax of an empty tensor (shape {})", x.shape());
  Tensor c = x.contiguous();
  int64_t outer = 1, n = c.numel(), inner = 1;
  Shape out_shape;
  if (dim) {
    int d = normalize_dim("argmax", *dim, x.dim());
    n = x.dim() == 0 ? 1 : x.shape()[d];
    for (int k = 0; k < x.dim(); ++k) {
      if (k < d) outer *= x.shape()[k];
      if (k > d) inner *= x.shape()[k];
      if (k != d || keepdim) out_shape.push_back(k == d ? 1 : x.shape()[k]);
    }
  } else if (keepdim) {
    out_shape = Shape::filled(x.dim(), 1);
  }
  Tensor out = Tensor::make(out_shape, DType::int64, "argmax");
  int64_t* y = out.data<int64_t>();
  dispatch_all(c.dtype(), [&]<typename T>() {
    const T* p = c.data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const T* row = p + o * n * inner + i;
        int64_t best = 0;
        for (int64_t k = 1; k < n; ++k) {
          T v = row[k * inner], b = row[best * inner];
          if (b != b) break;  // first NaN wins
          if (v > b || v != v) best = k;
        }
        y[o * inner + i] = best;
      }
  });
  return out;
}

Tensor logsumexp(const Tensor& x, const Shape& dims, bool keepdim) {
  ops::check_floating("logsumexp", x);
  ReducePlan p = plan_reduce("logsumexp", x, dims, keepdim);
  Tensor lse_keep;
  {
    // lse = m + log Σ exp(x - m), m = max (0 where the max is ±inf, so -inf rows stay -inf)
    NoGradGuard no_grad;
    Tensor m = p.reduced_count ? max(x, dims, true) : zeros(p.keep_shape, x.dtype());
    m = ops::map_float("logsumexp", m, [](auto v) { return std::isfinite(v) ? v : decltype(v)(0); });
    lse_keep = log(sum(exp(x - m), dims, true)) + m;
  }
  // a fresh handle, so the node below does not end up owning itself through lse_keep
  Tensor y = keepdim ? lse_keep.detach() : lse_keep.reshape(p.out_shape);
  // dx = dy · exp(x - lse) = dy · softmax(x)
  if (needs_grad(x))
    attach(y, "logsumexp", {x}, save(x, lse_keep),
           [keep = p.keep_shape](const Tensor& g, const Tensor& x, const Tensor& lse_keep) -> Grads {
             return {g.reshape(keep) * exp(x - lse_keep)};
           });
  return y;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  if (!(broadcast_shapes("sum_to", shape, x.shape()) == x.shape()))
    fail("sum_to: shape {} cannot be reached from {} by summing broadcast dims", shape, x.shape());
  int leading = x.dim() - shape.size();
  Shape dims;
  for (int d = 0; d < x.dim(); ++d)
    if (d < leading || (shape[d - leading] == 1 && x.shape()[d] != 1)) dims.push_back(d);
  Tensor s = dims.empty() ? x : sum(x, dims, true);
  return s.reshape(shape);
}

}  // namespace nl
