// layer_norm and rms_norm: the fused LayerNorm (Ba, Kiros & Hinton 2016) and
// RMSNorm (Zhang & Sennrich 2019) over the trailing dims, forward and backward
// side by side. Each row x of n values:
//
//   LayerNorm: mean = Σx / n,  var = Σ(x − mean)² / n,  rstd = 1 / √(var + eps)
//              xhat = (x − mean) · rstd,  y = xhat · w + b
//   RMSNorm:   rstd = 1 / √(Σx² / n + eps),  xhat = x · rstd,  y = xhat · w
//
// RMSNorm is LayerNorm without the centering (mean fixed at 0, no bias), so
// one kernel does both, switched by the template flag kCenter.
//
// The forward saves mean and rstd per row; the backward reads x and dy once
// and rebuilds xhat from them. With dxhat = dy · w, differentiating through
// mean and rstd gives the compact form (derivation in docs/normalization.md):
//
//   LayerNorm: dx = rstd / n · (n · dxhat − Σdxhat − xhat · Σ(dxhat · xhat))
//   RMSNorm:   dx = rstd / n · (n · dxhat − xhat · Σ(dxhat · xhat))
//   both:      dw = Σ_rows dy · xhat,   db = Σ_rows dy
//
// The op is two public calls: layer_norm_forward (y, and the saved mean and
// rstd) and, in its gradient rule, layer_norm_backward (dx, dw, db, and on
// request the two row sums) — the same functions examples/backprop_tour
// prints and group_norm (core/ops/group_norm.cpp) reuses. Likewise rms_norm_forward/backward.
//
// Rows run in parallel; dw and db are summed per block of rows and the blocks
// added in order (kernels/row_blocks.h), so results do not depend on threads.
// The row sums run in 32 independent lanes (4 under 128 values; kernels/lane_sum.h): a single
// running sum is a chain of dependent adds that, with the row in L1, costs
// more than reading the row from memory. The row loops are compiled for AVX2
// as well (NL_SIMD_CLONES).
#include <tuple>
#include <vector>

#include "core/kernels/layer_norm_rows.h"
#include "core/kernels/row_blocks.h"
#include "core/kernels/simd.h"
#include "core/ops/norm_helpers.h"

namespace nl {

namespace {
using kernels::for_each_row_block;

// Rows [lo, hi): three passes over each row while it sits in L1 (mean, then
// squared deviations, then the output); the sums in lanes (kernels/lane_sum.h).
template <typename T, bool kCenter>
NL_SIMD_CLONES void forward_rows(const T* x, const T* weight, const T* bias, T* y, T* mean, T* rstd, int64_t lo,
                                 int64_t hi, int64_t n, T eps) {
  for (int64_t r = lo; r < hi; ++r)
    std::tie(mean[r], rstd[r]) = kernels::layer_norm_row_forward<T, kCenter>(x + r * n, weight, bias, y + r * n, n, eps);
}

template <typename T, bool kCenter>
void layer_norm_forward(const T* x, const T* weight, const T* bias, T* y, T* mean, T* rstd, int64_t rows, int64_t n,
                        double eps) {
  std::vector<T> ones(weight ? 0 : size_t(n), T(1));  // no weight: scale by 1
  const T* w = weight ? weight : ones.data();
  for_each_row_block(rows, n, [&](int64_t lo, int64_t hi, int64_t) {
    forward_rows<T, kCenter>(x, w, bias, y, mean, rstd, lo, hi, n, T(eps));
  });
}

// Rows [lo, hi) of one block: one pass forms the row sums; a second adds into
// the block's dweight and dbias partial rows and writes dx. The row sums
// Σdxhat and Σdxhat·xhat are also stored when sum_dxhat_out is not null (the
// tour and the tests read them). Row r's dx goes to dx + r·dx_row_stride
// (stride 0: every row into one scratch row, when dx is not wanted).
template <typename T, bool kCenter>
NL_SIMD_CLONES void backward_rows(const T* dy, const T* x, const T* weight, const T* mean, const T* rstd, T* dx,
                                  int64_t dx_row_stride, T* __restrict dw, T* __restrict db, int64_t lo, int64_t hi,
                                  int64_t n, T* sum_dxhat_out, T* sum_dxhat_xhat_out) {
  for (int64_t r = lo; r < hi; ++r) {
    auto [sum_dxhat, sum_dxhat_xhat] = kernels::layer_norm_row_backward<T, kCenter>(
        dy + r * n, x + r * n, weight, mean[r], rstd[r], dx + r * dx_row_stride, dw, db, n);
    if (sum_dxhat_out) {
      sum_dxhat_out[r] = sum_dxhat;
      sum_dxhat_xhat_out[r] = sum_dxhat_xhat;
    }
  }
}

// dx, dweight, dbias may each be null when that gradient is not wanted (the
// partial rows and dx are formed anyway: one branch-free loop serves every case);
// sum_dxhat and sum_dxhat_xhat (one per row) are filled when not null.
template <typename T, bool kCenter>
void layer_norm_backward(const T* dy, const T* x, const T* weight, const T* mean, const T* rstd, T* dx, T* dweight,
                         T* dbias, int64_t rows, int64_t n, T* sum_dxhat_out = nullptr,
                         T* sum_dxhat_xhat_out = nullptr) {
  std::vector<T> ones(weight ? 0 : size_t(n), T(1));
  const T* w = weight ? weight : ones.data();
  kernels::BlockPartials<T> dweight_partials(rows, n), dbias_partials(rows, n);
  for_each_row_block(rows, n, [&](int64_t lo, int64_t hi, int64_t block) {
    std::vector<T> scratch_row(dx ? 0 : size_t(n));
    backward_rows<T, kCenter>(dy, x, w, mean, rstd, dx ? dx : scratch_row.data(), dx ? n : 0,
                              dweight_partials.start_row(block), dbias_partials.start_row(block), lo, hi, n,
                              sum_dxhat_out, sum_dxhat_xhat_out);
  });
  if (dweight) dweight_partials.reduce(dweight);
  if (dbias) dbias_partials.reduce(dbias);
}

// The forward with its saved statistics (mean is all zeros for RMSNorm).
template <bool kCenter>
NormForward row_norm_forward(const char* op, const Tensor& input, const Shape& normalized_shape, const Tensor& weight,
                             const Tensor& bias, double eps) {
  // (plain variables, not a structured binding: clang before 16 cannot capture one in a lambda)
  const auto trailing = ops::check_trailing_shape(op, input, normalized_shape);
  const int64_t rows = trailing.first, n = trailing.second;
  ops::check_affine(op, "weight", weight, input, normalized_shape);
  ops::check_affine(op, "bias", bias, input, normalized_shape);
  if (!(eps >= 0)) fail("{}: eps must be >= 0, got {}", op, eps);

  Tensor x = input.contiguous();
  Tensor w = weight.defined() ? weight.contiguous() : weight;
  Tensor b = bias.defined() ? bias.contiguous() : bias;
  NormForward out{Tensor::make(x.shape(), x.dtype(), op), Tensor::make({rows}, x.dtype(), op),
                  Tensor::make({rows}, x.dtype(), op)};
  dispatch_floating(op, x.dtype(), [&]<typename T>() {
    layer_norm_forward<T, kCenter>(x.data<T>(), ops::data_or_null<T>(w), ops::data_or_null<T>(b), out.y.data<T>(),
                                   out.mean.data<T>(), out.rstd.data<T>(), rows, n, eps);
  });
  return out;
}

template <bool kCenter>
NormBackward row_norm_backward(const char* op, const Tensor& grad_output, const Tensor& input,
                               const Shape& normalized_shape, const Tensor& weight, const Tensor& mean,
                               const Tensor& rstd, NormGradsWanted wanted) {
  // (plain variables, not a structured binding: clang before 16 cannot capture one in a lambda)
  const auto trailing = ops::check_trailing_shape(op, input, normalized_shape);
  const int64_t rows = trailing.first, n = trailing.second;
  ops::check_affine(op, "weight", weight, input, normalized_shape);
  ops::check_same_shape(op, "grad_output", grad_output, input, input.shape());
  ops::check_same_shape(op, "mean", mean, input, {rows});
  ops::check_same_shape(op, "rstd", rstd, input, {rows});

  Tensor dy = grad_output.contiguous(), x = input.contiguous(), m = mean.contiguous(), s = rstd.contiguous();
  Tensor w = weight.defined() ? weight.contiguous() : weight;
  NormBackward out = ops::allocate_norm_grads(op, wanted, x, normalized_shape, rows, /*has_bias=*/kCenter);
  dispatch_floating(op, x.dtype(), [&]<typename T>() {
    using ops::data_or_null;
    layer_norm_backward<T, kCenter>(dy.data<T>(), x.data<T>(), data_or_null<T>(w), m.data<T>(), s.data<T>(),
                                    data_or_null<T>(out.dx), data_or_null<T>(out.dweight), data_or_null<T>(out.dbias),
                                    rows, n, data_or_null<T>(out.sum_dxhat), data_or_null<T>(out.sum_dxhat_xhat));
  });
  return out;
}

// The op: the forward above, and a gradient rule calling the backward above.
template <bool kCenter>
Tensor row_norm(const char* op, const char* backward_op, const Tensor& input, const Shape& normalized_shape,
                const Tensor& weight, const Tensor& bias, double eps) {
  Tensor x = input.contiguous();
  NormForward f = row_norm_forward<kCenter>(op, x, normalized_shape, weight, bias, eps);
  if (!needs_grad(input, weight, bias)) return f.y;

  NormGradsWanted wanted{needs_grad(input), needs_grad(weight), needs_grad(bias), false};
  attach(f.y, op, {input, weight, bias}, save(x, weight, f.mean, f.rstd),
         [normalized_shape, wanted, backward_op](const Tensor& grad, const Tensor& x, const Tensor& w,
                                                 const Tensor& mean, const Tensor& rstd) -> Grads {
           NormBackward b = row_norm_backward<kCenter>(backward_op, grad, x, normalized_shape, w, mean, rstd, wanted);
           return {b.dx, b.dweight, b.dbias};
         });
  return f.y;
}
}  // namespace

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  return row_norm<true>("layer_norm", "layer_norm_backward", x, normalized_shape, weight, bias, eps);
}

Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, double eps) {
  return row_norm<false>("rms_norm", "rms_norm_backward", x, normalized_shape, weight, Tensor(), eps);
}

NormForward layer_norm_forward(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                               double eps) {
  NoGradGuard no_grad;
  return row_norm_forward<true>("layer_norm_forward", x, normalized_shape, weight, bias, eps);
}

NormBackward layer_norm_backward(const Tensor& grad_output, const Tensor& x, const Shape& normalized_shape,
                                 const Tensor& weight, const Tensor& mean, const Tensor& rstd, NormGradsWanted wanted) {
  NoGradGuard no_grad;
  return row_norm_backward<true>("layer_norm_backward", grad_output, x, normalized_shape, weight, mean, rstd, wanted);
}

NormForward rms_norm_forward(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, double eps) {
  NoGradGuard no_grad;
  return row_norm_forward<false>("rms_norm_forward", x, normalized_shape, weight, Tensor(), eps);
}

NormBackward rms_norm_backward(const Tensor& grad_output, const Tensor& x, const Shape& normalized_shape,
                               const Tensor& weight, const Tensor& rstd, NormGradsWanted wanted) {
  NoGradGuard no_grad;
  const char* op = "rms_norm_backward";
  auto [rows, n] = ops::check_trailing_shape(op, x, normalized_shape);
  ops::check_same_shape(op, "rstd", rstd, x, {rows});
  Tensor zero_mean = zeros({rows}, x.dtype());  // RMSNorm does not center
  return row_norm_backward<false>(op, grad_output, x, normalized_shape, weight, zero_mean, rstd, wanted);
}

// ---- the composed references: the same math from primitive ops; autograd derives their backward

// mean and biased var over the trailing dims; y = (x − mean)/√(var + eps)·w + b
Tensor reference::layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                             double eps) {
  Shape dims = ops::trailing_dims(x, normalized_shape);
  Tensor mean = x.mean(dims, /*keepdim=*/true);
  Tensor var = x.var(dims, /*unbiased=*/false, /*keepdim=*/true);
  Tensor xhat = (x - mean) * rsqrt(var + eps);
  return ops::affine(xhat, weight, bias);
}

// y = x / √(mean(x²) + eps)·w
Tensor reference::rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, double eps) {
  Tensor mean_square = (x * x).mean(ops::trailing_dims(x, normalized_shape), /*keepdim=*/true);
  return ops::affine(x * rsqrt(mean_square + eps), weight, Tensor());
}

}  // namespace nl
