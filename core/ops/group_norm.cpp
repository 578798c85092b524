// group_norm: the fused GroupNorm (Wu & He 2018), forward and backward side
// by side, and its composed reference. The worked example of docs/extending.md.
//
// Forward, for x viewed as (N, C, L) and K = C/G·L values per group:
//   rows:    x as N·G rows of K values; mean, rstd per row    (nl::layer_norm_forward)
//   xhat   = (x − mean) · rstd                                   (the same call)
//   y      = xhat · w[c] + b[c]                                  (ops::channel_affine)
// Backward, with dy = ∂loss/∂y:
//   dw[c]  = Σ_{n,l} dy · xhat,   db[c] = Σ_{n,l} dy             (group_norm_affine_backward)
//   dxhat  = dy · w[c]
//   dx     = rstd/K · (K·dxhat − Σdxhat − xhat·Σ(dxhat·xhat)) per row  (nl::layer_norm_backward)
// The normalization is exactly LayerNorm's over each row, so both kernels are
// reused; only the per-channel affine is new.
#include <tuple>
#include <vector>

#include "core/kernels/channel_rows.h"
#include "core/kernels/simd.h"
#include "core/ops/norm_helpers.h"
#include "core/parallel.h"

namespace nl {

namespace {
struct Dims {
  int64_t N, C, L, G;
  int64_t channels_per_group() const { return C / G; }
  int64_t group_size() const { return C / G * L; }  // K
};

Dims check_arguments(const Tensor& x, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  if (!(eps >= 0)) fail("group_norm: eps must be >= 0, got {}", eps);
  if (!x.is_floating_point()) fail("group_norm: expected a floating input, got {} of shape {}", x.dtype(), x.shape());
  if (x.dim() < 2) fail("group_norm: expected an input (N, C) or (N, C, *), got {}", x.shape());
  int64_t N = x.shape()[0], C = x.shape()[1];
  if (num_groups <= 0 || C % num_groups != 0)
    fail("group_norm: num_groups must be positive and divide the {} channels of input {}, got {}", C, x.shape(),
         num_groups);
  Dims d{N, C, N * C == 0 ? 0 : x.numel() / (N * C), num_groups};
  if (N > 0 && d.group_size() == 0) fail("group_norm: input {} leaves no values to normalize per group", x.shape());
  for (auto [name, p] : {std::pair{"weight", &weight}, std::pair{"bias", &bias}}) {
    if (!p->defined()) continue;
    if (p->shape() != Shape{C} || p->dtype() != x.dtype())
      fail("group_norm: {} must be a {} tensor of shape [{}] (the channels of input {}), got {} {}", name, x.dtype(), C,
           x.shape(), p->dtype(), p->shape());
  }
  return d;
}

// Rows [lo, hi) of (N, C, L), row t = n·C + c: its Σdy and Σdy·xhat (in
// double, in lanes), and dxhat = dy · w[c] when dxhat is not null; xhat is
// rebuilt from x and the mean and rstd of the sample's group.
template <typename T>
NL_SIMD_CLONES void group_norm_rows_backward(const T* dy, const T* x, const T* mean, const T* rstd, const T* w,
                                             T* dxhat, double* row_dy, double* row_dy_xhat, Dims d, int64_t lo,
                                             int64_t hi) {
  for (int64_t t = lo; t < hi; ++t) {
    const int64_t c = t % d.C, group = t / d.C * d.G + c / d.channels_per_group();
    const T* g = dy + t * d.L;
    std::tie(row_dy[t], row_dy_xhat[t]) = ops::row_dy_sums(g, x + t * d.L, mean[group], rstd[group], d.L);
    if (!dxhat) continue;
    const T scale = w ? w[c] : T(1);
    for (int64_t l = 0; l < d.L; ++l) dxhat[t * d.L + l] = g[l] * scale;  // the row is still in L1
  }
}

// dw[c] = Σ dy·xhat, db[c] = Σ dy, dxhat = dy · w[c]: row by row in memory
// order, then each channel's rows added in sample order (kernels/channel_rows.h:
// the same bits at any thread count). Any of dxhat, dw, db may be null.
template <typename T>
void group_norm_affine_backward(const T* dy, const T* x, const T* mean, const T* rstd, const T* w, T* dxhat, T* dw,
                                T* db, Dims d) {
  std::vector<double> row_dy(size_t(d.N * d.C)), row_dy_xhat(size_t(d.N * d.C));
  kernels::for_each_channel_row(d.N, d.C, d.L, [&](int64_t lo, int64_t hi) {
    group_norm_rows_backward(dy, x, mean, rstd, w, dxhat, row_dy.data(), row_dy_xhat.data(), d, lo, hi);
  });
  std::vector<double> sum_dy(size_t(d.C)), sum_dy_xhat(size_t(d.C));
  kernels::add_channel_rows(d.N, d.C, row_dy.data(), sum_dy.data());
  kernels::add_channel_rows(d.N, d.C, row_dy_xhat.data(), sum_dy_xhat.data());
  for (int64_t c = 0; c < d.C; ++c) {
    if (dw) dw[c] = T(sum_dy_xhat[size_t(c)]);
    if (db) db[c] = T(sum_dy[size_t(c)]);
  }
}
}  // namespace

Tensor group_norm(const Tensor& input, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  using ops::data_or_null;
  Dims d = check_arguments(input, num_groups, weight, bias, eps);
  Tensor x = input.detach().contiguous();
  Tensor w = weight.defined() ? weight.detach().contiguous() : Tensor();
  Tensor b = bias.defined() ? bias.detach().contiguous() : Tensor();
  Shape rows{d.N * d.G, d.group_size()};
  NormForward stats = layer_norm_forward(x.view(rows), {d.group_size()}, Tensor(), Tensor(), eps);
  Tensor y = stats.y.view(x.shape());  // the affine step in place: xhat is not kept
  if (w.defined() || b.defined())
    dispatch_floating("group_norm", x.dtype(), [&]<typename T>() {
      ops::channel_affine<T>(y.data<T>(), data_or_null<T>(w), data_or_null<T>(b), y.data<T>(), d.N, d.C, d.L);
    });
  if (!needs_grad(input, weight, bias)) return y;

  NormGradsWanted wanted{needs_grad(input), needs_grad(weight), needs_grad(bias), false};
  attach(y, "group_norm", {input, weight, bias}, save(x, w, stats.mean, stats.rstd),
         [d, rows, wanted](const Tensor& grad, const Tensor& x, const Tensor& w, const Tensor& mean,
                           const Tensor& rstd) -> Grads {
           Tensor dy = grad.contiguous();
           // dx holds dxhat until the LayerNorm backward turns it into dx
           NormBackward out = ops::allocate_norm_grads("group_norm_backward", wanted, x, {d.C}, 0);
           dispatch_floating("group_norm_backward", x.dtype(), [&]<typename T>() {
             group_norm_affine_backward<T>(dy.data<T>(), x.data<T>(), mean.data<T>(), rstd.data<T>(),
                                           data_or_null<T>(w), data_or_null<T>(out.dx), data_or_null<T>(out.dweight),
                                           data_or_null<T>(out.dbias), d);
           });
           Tensor dx;
           if (wanted.input)
             dx = layer_norm_backward(out.dx.view(rows), x.view(rows), {rows[1]}, Tensor(), mean, rstd,
                                      {.input = true, .weight = false, .bias = false})
                      .dx.view(x.shape());
           return {dx, out.dweight, out.dbias};
         });
  return y;
}

// ---- the composed reference: the same math from primitive ops; autograd derives its backward

Tensor reference::group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight, const Tensor& bias,
                             double eps) {
  Dims d = check_arguments(x, num_groups, weight, bias, eps);
  Tensor groups = x.reshape({d.N, d.G, d.group_size()});
  Tensor mean = groups.mean({2}, /*keepdim=*/true);
  Tensor var = groups.var({2}, /*unbiased=*/false, /*keepdim=*/true);
  Tensor y = ((groups - mean) * rsqrt(var + eps)).reshape(x.shape());
  Shape channel = ops::channel_shape(x);  // (1, C, 1, ...) broadcasts over samples and positions
  return ops::affine(y, weight.defined() ? weight.reshape(channel) : weight,
                     bias.defined() ? bias.reshape(channel) : bias);
}

}  // namespace nl
