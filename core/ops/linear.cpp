// linear: y = x·Wᵀ + b, as torch.nn.functional.linear, in one GEMM whose
// starting value is the bias (BLAS computes C = A·Bᵀ + 1·C), forward and
// backward side by side. With x viewed as (rows, in) and dy as (rows, out):
//
//   dx = dy·W          (rows, in)
//   dW = dyᵀ·x         (out, in): W's own layout, straight from BLAS
//   db = Σ_rows dy     (out)
//
// One node instead of matmul + transpose + add (and no pass over y for the
// bias, no strided copy for the weight's gradient).
#include "core/kernels/blas.h"
#include "core/kernels/row_blocks.h"
#include "core/ops/helpers.h"

namespace nl {

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias) {
  const char* op = "linear";
  ops::check_floating(op, input);
  ops::check_same_dtype(op, input, weight);
  if (bias.defined()) ops::check_same_dtype(op, input, bias);
  if (weight.dim() != 2 || input.dim() < 1 || input.size(-1) != weight.size(1))
    fail("{}: expected input (..., {}) for weight {}, got {}", op, weight.dim() == 2 ? weight.size(1) : -1,
         weight.shape(), input.shape());
  const int64_t out_features = weight.size(0), in_features = weight.size(1);
  if (bias.defined() && !(bias.shape() == Shape{out_features}))
    fail("{}: bias must have shape [{}] for weight {}, got {}", op, out_features, weight.shape(), bias.shape());
  int64_t rows = 1;
  for (int d = 0; d + 1 < input.dim(); ++d) rows *= input.shape()[d];
  Shape out_shape = input.shape();
  out_shape[input.dim() - 1] = out_features;
  Tensor x = input.contiguous(), w = weight.contiguous(), b = bias.defined() ? bias.contiguous() : bias;
  Tensor y = Tensor::make(out_shape, x.dtype(), op);
  dispatch_floating(op, x.dtype(), [&]<typename T>() {
    T* yp = y.data<T>();
    const bool product = rows > 0 && out_features > 0 && in_features > 0;  // else x·Wᵀ is all zeros
    if (b.defined()) {  // every row starts as the bias
      const T* bp = b.data<T>();
      parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(out_features, 1)),
                   [&](int64_t lo, int64_t hi) {
                     for (int64_t r = lo; r < hi; ++r) std::copy(bp, bp + out_features, yp + r * out_features);
                   });
    } else if (!product) {
      std::fill(yp, yp + rows * out_features, T(0));
    }
    // No bias: β = 0, and kernels::gemm zeroes each thread's block of y on that thread.
    if (product)
      kernels::gemm<T>(CblasNoTrans, CblasTrans, rows, out_features, in_features, T(1), x.data<T>(), in_features,
                       w.data<T>(), in_features, b.defined() ? T(1) : T(0), yp, out_features);
  });
  if (!needs_grad(input, weight, bias)) return y;

  bool want_dx = needs_grad(input), want_dw = needs_grad(weight), want_db = needs_grad(bias);
  attach(
      y, op, {input, weight, bias}, save(x, w),
      [rows, in_features, out_features, want_dx, want_dw, want_db](const Tensor& grad, const Tensor& x,
                                                                   const Tensor& w) -> Grads {
        const char* backward_op = "linear_backward";
        Tensor g = grad.contiguous();
        bool nonempty = rows > 0 && out_features > 0 && in_features > 0;  // else the products are all zeros
        auto make = [&](bool wanted, const Shape& shape) {
          return !wanted ? Tensor() : nonempty ? Tensor::make(shape, x.dtype(), backward_op) : zeros(shape, x.dtype());
        };
        Tensor dx = make(want_dx, x.shape()), dw = make(want_dw, w.shape());
        Tensor db = want_db ? Tensor::make({out_features}, x.dtype(), backward_op) : Tensor();
        dispatch_floating(backward_op, x.dtype(), [&]<typename T>() {
          if (want_dx && nonempty)  // dx = dy·W
            kernels::gemm<T>(CblasNoTrans, CblasNoTrans, rows, in_features, out_features, T(1), g.data<T>(),
                             out_features, w.data<T>(), in_features, T(0), dx.data<T>(), in_features);
          if (want_dw && nonempty)  // dW = dyᵀ·x
            kernels::gemm<T>(CblasTrans, CblasNoTrans, out_features, in_features, rows, T(1), g.data<T>(), out_features,
                             x.data<T>(), in_features, T(0), dw.data<T>(), in_features);
          if (want_db) kernels::sum_rows(g.data<T>(), db.data<T>(), rows, out_features);  // db = Σ_rows dy
        });
        return {dx, dw, db};
      });
  return y;
}

}  // namespace nl
