// group_norm: the fused GroupNorm (Wu & He 2018), forward and backward side
// by side, and its composed reference. The worked example of docs/extending.md.
//
// x viewed as (N, C, L) is N·G group rows of K = C/G·L contiguous values
// (sample n, group g: channels g·C/G .. (g+1)·C/G − 1, L values each). Each
// group row is one pass each way, read from memory once and then from cache:
//
// Forward:   mean, rstd over the row (lanes, as LayerNorm's rows)
//            y = (x − mean)·rstd·w[c] + b[c]                      (group_rows_forward)
// Backward, with dy = ∂loss/∂y and dxhat = dy·w[c]:
//            per (n, c) row: Σdy and Σdy·xhat                      (group_rows_backward)
//            dw[c] = Σ_n Σdy·xhat,  db[c] = Σ_n Σdy               (in sample order)
//            Σdxhat = Σ_c w[c]·Σdy,  Σdxhat·xhat = Σ_c w[c]·Σdy·xhat  (over the row's channels)
//            dx = rstd/K · (K·dxhat − Σdxhat − xhat·Σ(dxhat·xhat))  (LayerNorm's rule, per row)
// The normalization is exactly LayerNorm's over each group row; only the
// per-channel affine inside the row is new.
#include <tuple>
#include <vector>

#include "core/kernels/channel_rows.h"
#include "core/kernels/layer_norm_rows.h"
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

// Group rows [lo, hi): each row's mean and rstd (LayerNorm's, kernels/layer_norm_rows.h),
// then y = (x − mean)·scale + b[c], scale = rstd·w[c], channel by channel
// while the row is in cache. w and b may be null (1 and 0).
template <typename T>
NL_SIMD_CLONES void group_rows_forward(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, Dims d, T eps,
                                       int64_t lo, int64_t hi) {
  const int64_t K = d.group_size(), per_group = d.channels_per_group();
  for (int64_t r = lo; r < hi; ++r) {
    const T* xr = x + r * K;
    const auto [m, s] = kernels::layer_norm_row_statistics(xr, K, eps);  // LayerNorm's over the row
    mean[r] = m;
    rstd[r] = s;
    for (int64_t j = 0; j < per_group; ++j) {
      const int64_t c = r % d.G * per_group + j;
      const T scale = s * (w ? w[c] : T(1)), shift = b ? b[c] : T(0);
      const T* xc = xr + j * d.L;
      T* yc = y + r * K + j * d.L;
      for (int64_t l = 0; l < d.L; ++l) yc[l] = (xc[l] - m) * scale + shift;
    }
  }
}

// Group rows [lo, hi): each (n, c) row's Σdy and Σdy·xhat (in double, in
// lanes) into row_dy and row_dy_xhat at t = n·C + c, xhat rebuilt from x and
// the row's mean and rstd; the group row's Σdxhat and Σdxhat·xhat from them;
// then, when dx is not null, dx while the row is in cache.
template <typename T>
NL_SIMD_CLONES void group_rows_backward(const T* dy, const T* x, const T* mean, const T* rstd, const T* w, T* dx,
                                        double* row_dy, double* row_dy_xhat, Dims d, int64_t lo, int64_t hi) {
  const int64_t K = d.group_size(), per_group = d.channels_per_group();
  for (int64_t r = lo; r < hi; ++r) {
    const T m = mean[r], s = rstd[r];
    double sum_dxhat = 0, sum_dxhat_xhat = 0;
    for (int64_t t = r * per_group; t < (r + 1) * per_group; ++t) {  // the group's (n, c) rows
      std::tie(row_dy[t], row_dy_xhat[t]) = ops::row_dy_sums(dy + t * d.L, x + t * d.L, m, s, d.L);
      const double wc = w ? double(w[t % d.C]) : 1.0;
      sum_dxhat += wc * row_dy[t];
      sum_dxhat_xhat += wc * row_dy_xhat[t];
    }
    if (!dx) continue;
    // One value per group: x − mean, and so dx, is exactly 0; rounding in the
    // sums must not leak through rstd = 1/√eps.
    if (K == 1) {
      dx[r] = T(0);
      continue;
    }
    const T mean_dxhat = T(sum_dxhat / double(K)), mean_dxhat_xhat = T(sum_dxhat_xhat / double(K));
    for (int64_t t = r * per_group; t < (r + 1) * per_group; ++t) {
      const T wc = w ? w[t % d.C] : T(1);
      const T *g = dy + t * d.L, *xc = x + t * d.L;
      T* out = dx + t * d.L;
      for (int64_t l = 0; l < d.L; ++l) {  // dx = rstd·(dxhat − Σdxhat/K − xhat·Σdxhat·xhat/K)
        const T xhat = (xc[l] - m) * s;
        out[l] = s * (wc * g[l] - mean_dxhat - xhat * mean_dxhat_xhat);
      }
    }
  }
}

// dx (when not null), dw[c] = Σ dy·xhat and db[c] = Σ dy (each may be null):
// the group rows in parallel, then each channel's rows added in sample order
// (kernels/channel_rows.h: the same bits at any thread count).
template <typename T>
void group_norm_backward(const T* dy, const T* x, const T* mean, const T* rstd, const T* w, T* dx, T* dw, T* db,
                         Dims d) {
  std::vector<double> row_dy(size_t(d.N * d.C)), row_dy_xhat(size_t(d.N * d.C));
  kernels::for_each_channel_row(d.N, d.G, d.group_size(), [&](int64_t lo, int64_t hi) {
    group_rows_backward(dy, x, mean, rstd, w, dx, row_dy.data(), row_dy_xhat.data(), d, lo, hi);
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
  Tensor y = Tensor::make(x.shape(), x.dtype(), "group_norm");
  Tensor mean = Tensor::make({d.N * d.G}, x.dtype(), "group_norm");  // per group row
  Tensor rstd = Tensor::make({d.N * d.G}, x.dtype(), "group_norm");
  dispatch_floating("group_norm", x.dtype(), [&]<typename T>() {
    kernels::for_each_channel_row(d.N, d.G, d.group_size(), [&](int64_t lo, int64_t hi) {
      group_rows_forward<T>(x.data<T>(), data_or_null<T>(w), data_or_null<T>(b), y.data<T>(), mean.data<T>(),
                            rstd.data<T>(), d, T(eps), lo, hi);
    });
  });
  if (!needs_grad(input, weight, bias)) return y;

  NormGradsWanted wanted{needs_grad(input), needs_grad(weight), needs_grad(bias), false};
  attach(y, "group_norm", {input, weight, bias}, save(x, w, mean, rstd),
         [d, wanted](const Tensor& grad, const Tensor& x, const Tensor& w, const Tensor& mean,
                     const Tensor& rstd) -> Grads {
           Tensor dy = grad.contiguous();
           NormBackward out = ops::allocate_norm_grads("group_norm_backward", wanted, x, {d.C}, 0);
           dispatch_floating("group_norm_backward", x.dtype(), [&]<typename T>() {
             group_norm_backward<T>(dy.data<T>(), x.data<T>(), mean.data<T>(), rstd.data<T>(), data_or_null<T>(w),
                                    data_or_null<T>(out.dx), data_or_null<T>(out.dweight), data_or_null<T>(out.dbias),
                                    d);
           });
           return {out.dx, out.dweight, out.dbias};
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
