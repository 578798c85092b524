// softmax and log_softmax along one dim, as fused row kernels: one pass for
// the max, one for the sum of exponentials, one to write — stable for any
// input scale because every exponent is x - max <= 0.
#include <cmath>

#include "core/kernels/simd.h"
#include "core/kernels/softmax_rows.h"
#include "core/kernels/vec_math.h"
#include "core/ops/helpers.h"

namespace nl {

namespace {
// Views a contiguous tensor as (outer, n, inner) around dim, and calls
// fn(row_pointer_offset, stride) for each of the outer*inner rows of length n.
template <typename Fn>
void for_each_row(const Tensor& x, int d, Fn fn) {
  int64_t outer = 1, inner = 1, n = x.dim() ? x.shape()[d] : 1;
  for (int k = 0; k < x.dim(); ++k) {
    if (k < d) outer *= x.shape()[k];
    if (k > d) inner *= x.shape()[k];
  }
  int64_t rows = outer * inner;
  parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) fn((r / inner) * n * inner + r % inner, inner, n);
  });
}

// One row of n values at `stride`, forward: softmax or log_softmax. The row
// functions are compiled for AVX2 as well (NL_SIMD_CLONES): for_each_row's
// parallel region is not cloned.
template <typename T>
NL_SIMD_CLONES void softmax_row(const T* row, T* out, int64_t stride, int64_t n, bool log_output) {
  if (log_output) {
    const auto [m, s] = kernels::shifted_exp_sum(row, stride, n);
    T log_s = T(std::log(s));  // log_softmax = x - m - log Σ exp(x - m)
    for (int64_t k = 0; k < n; ++k) out[k * stride] = row[k * stride] - m - log_s;
  } else {
    const T m = kernels::softmax_shift(row, stride, n);
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t k = 0; k < n; ++k) s += out[k * stride] = kernels::vec::exp(row[k * stride] - m);
    T inv = T(1 / s);  // softmax = exp(x - m) / Σ exp(x - m)
    for (int64_t k = 0; k < n; ++k) out[k * stride] *= inv;
  }
}

// The backward of both along a row, with y the saved output and g the gradient:
//   softmax:      dx = y ⊙ (g - Σ g·y)
//   log_softmax:  dx = g - exp(y) · Σ g
template <typename T>
NL_SIMD_CLONES void softmax_row_backward(const T* g, const T* y, T* dx, int64_t stride, int64_t n, bool log_output) {
  double s = 0;
  for (int64_t k = 0; k < n; ++k)
    s += log_output ? double(g[k * stride]) : double(g[k * stride]) * double(y[k * stride]);
  for (int64_t k = 0; k < n; ++k) {
    int64_t i = k * stride;
    dx[i] = log_output ? g[i] - kernels::vec::exp(y[i]) * T(s) : y[i] * (g[i] - T(s));
  }
}

Tensor softmax_forward(const char* op, const Tensor& input, int d, bool log_output) {
  Tensor x = input.contiguous();
  Tensor y = Tensor::make(x.shape(), x.dtype(), op);
  dispatch_floating(op, x.dtype(), [&]<typename T>() {
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    for_each_row(x, d, [&](int64_t base, int64_t stride, int64_t n) {
      softmax_row(xp + base, yp + base, stride, n, log_output);
    });
  });
  return y;
}

Tensor softmax_backward(const Tensor& grad, const Tensor& y, int d, bool log_output) {
  Tensor g = grad.contiguous();
  Tensor dx = Tensor::make(y.shape(), y.dtype(), "softmax_backward");
  dispatch_floating("softmax_backward", y.dtype(), [&]<typename T>() {
    const T* gp = g.data<T>();
    const T* yp = y.data<T>();
    T* out = dx.data<T>();
    for_each_row(y, d, [&](int64_t base, int64_t stride, int64_t n) {
      softmax_row_backward(gp + base, yp + base, out + base, stride, n, log_output);
    });
  });
  return dx;
}

Tensor softmax_op(const char* op, const Tensor& x, int64_t dim, bool log_output) {
  ops::check_floating(op, x);
  int d = normalize_dim(op, dim, x.dim());
  Tensor y = softmax_forward(op, x, d, log_output);
  if (needs_grad(x))
    attach(y, op, {x}, save(y), [d, log_output](const Tensor& g, const Tensor& y) -> Grads {
      return {softmax_backward(g, y, d, log_output)};
    });
  return y;
}
}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_op("softmax", x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_op("log_softmax", x, dim, true); }

}  // namespace nl
