// batch_norm: the fused BatchNorm (Ioffe & Szegedy 2015) for inputs (N, C) and
// (N, C, L), forward and backward side by side. Each channel c is normalized
// over its M = N·L values (all samples, all positions):
//
//   training:  mean = Σx / M,  var = Σ(x − mean)² / M          (batch statistics)
//              running_mean ← (1 − momentum)·running_mean + momentum·mean
//              running_var  ← (1 − momentum)·running_var  + momentum·var·M/(M − 1)
//   eval:      mean = running_mean,  var = running_var          (no batch dependence)
//   both:      rstd = 1 / √(var + eps),  xhat = (x − mean)·rstd,  y = xhat·w + b
//
// Backward, with dxhat = dy·w and sums over the channel's M values:
//
//   training:  dx = rstd / M · (M·dxhat − Σdxhat − xhat·Σ(dxhat·xhat))   (docs/normalization.md)
//              (the LayerNorm formula, taken over the batch instead of a row)
//   eval:      dx = rstd · dxhat        (the statistics are constants)
//   both:      dw = Σ dy·xhat,  db = Σ dy
//
// Data-parallel training (nl::dist::SyncBatchNorm) runs the same code with a
// cross-process sum between the local pieces: forward sums [count, Σx, Σx²]
// over all processes before the statistics are formed, backward sums
// [Σdy, Σdy·xhat] before dx is formed; M is then the global count. dweight and
// dbias stay local (the data-parallel gradient averaging sums them).
//
// The op is batch_norm_forward (y and the mean and rstd it normalized with)
// plus batch_norm_backward in its gradient rule, both public (core/ops.h).
//
// Two paths, one per layout, chosen once per call (dispatch_batch_norm); each
// is the same four steps over all channels — statistics, normalize, backward
// (the sums Σdy and Σdy·xhat, and dx), backward_input (dx alone, after a
// cross-process sum of the sums) — and no result depends on the thread count:
//  - Rows, for (N, C), the common case: row by row like LayerNorm (the inner
//    loops run along contiguous channels and vectorize); each block of rows
//    forms per-channel partial results, and the blocks are combined in block
//    order (kernels/row_blocks.h). The statistics read x once: each block's
//    mean and squared deviations come from two passes over the block while it
//    is in cache, and blocks merge with Chan et al.'s update (exact, no
//    cancellation; kernels/moments.h).
//  - Channels, for (N, C, L): along the N·C contiguous rows of L values, in
//    memory order and in parallel over rows; each row's sums (in double, in
//    independent lanes: kernels/lane_sum.h) or moments are formed first, then
//    each channel's N rows are combined in sample order (kernels/channel_rows.h,
//    which says why not channel by channel). Its loops
//    are compiled for AVX2 beside the baseline (NL_SIMD_CLONES), as the Rows
//    path's are: the double sums and the dx pass are not memory-bound.
#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

#include "core/kernels/channel_rows.h"
#include "core/kernels/lane_sum.h"
#include "core/kernels/moments.h"
#include "core/kernels/row_blocks.h"
#include "core/kernels/simd.h"
#include "core/ops/norm_helpers.h"
#include "core/parallel.h"

namespace nl {

namespace {
struct Dims {
  int64_t N, C, L;
  int64_t per_channel() const { return N * L; }
};

// y = (x − mean)·rstd·w + b, folded per channel into y = x·scale + shift.
template <typename T>
void normalize_coefficients(const T* mean, const T* rstd, const T* weight, const T* bias, int64_t c0, int64_t c1,
                            T* scale, T* shift) {
  for (int64_t c = c0; c < c1; ++c) {
    scale[c - c0] = rstd[c] * (weight ? weight[c] : T(1));
    shift[c - c0] = (bias ? bias[c] : T(0)) - mean[c] * scale[c - c0];
  }
}

// dx = w·rstd/M · (M·dy − Σdy − xhat·Σdy·xhat) in training, w·rstd·dy in eval,
// written dx = scale·(dy − mean_dy − xhat·mean_dy_xhat) with per-channel
// coefficients for channels c0..c1 (sum_dy and sum_dy_xhat indexed by channel).
template <typename T>
struct BackwardCoefficients {
  std::vector<T> scale, mean_dy, mean_dy_xhat;
  BackwardCoefficients(const T* weight, const T* rstd, const double* sum_dy, const double* sum_dy_xhat, int64_t c0,
                       int64_t c1, double M, bool batch_stats)
      : scale(size_t(c1 - c0)), mean_dy(size_t(c1 - c0)), mean_dy_xhat(size_t(c1 - c0)) {
    for (int64_t c = c0; c < c1; ++c) {
      scale[c - c0] = rstd[c] * (weight ? weight[c] : T(1));
      mean_dy[c - c0] = batch_stats ? T(sum_dy[c] / M) : T(0);
      mean_dy_xhat[c - c0] = batch_stats ? T(sum_dy_xhat[c] / M) : T(0);
    }
  }
};

// ---- (N, C): row by row ---------------------------------------------------------------
using kernels::BlockPartials;
using kernels::for_each_row_block;

// Rows [lo, hi) of one block: its mean, then its squared deviations M2 (the
// block is in cache for the second pass).
template <typename T>
NL_SIMD_CLONES void block_statistics(const T* x, T* bm, T* b2, int64_t lo, int64_t hi, int64_t C) {
  for (int64_t r = lo; r < hi; ++r)
    for (int64_t c = 0; c < C; ++c) bm[c] += x[r * C + c];
  for (int64_t c = 0; c < C; ++c) bm[c] /= T(hi - lo);
  for (int64_t r = lo; r < hi; ++r)
    for (int64_t c = 0; c < C; ++c) {
      T centered = x[r * C + c] - bm[c];
      b2[c] += centered * centered;
    }
}

template <typename T>
NL_SIMD_CLONES void rows_affine(const T* x, const T* scale, const T* shift, T* y, int64_t lo, int64_t hi, int64_t C) {
  for (int64_t r = lo; r < hi; ++r)
    for (int64_t c = 0; c < C; ++c) y[r * C + c] = x[r * C + c] * scale[c] + shift[c];
}

// Σdy and Σdy·xhat of rows [lo, hi) into the block's partial rows.
template <typename T>
NL_SIMD_CLONES void block_backward_sums(const T* dy, const T* x, const T* mean, const T* rstd, T* pd, T* px, int64_t lo,
                                        int64_t hi, int64_t C) {
  for (int64_t r = lo; r < hi; ++r)
    for (int64_t c = 0; c < C; ++c) {
      pd[c] += dy[r * C + c];
      px[c] += dy[r * C + c] * (x[r * C + c] - mean[c]) * rstd[c];
    }
}

template <typename T>
NL_SIMD_CLONES void rows_dx(const T* dy, const T* x, const T* mean, const T* rstd, const BackwardCoefficients<T>& k,
                            T* dx, int64_t lo, int64_t hi, int64_t C) {
  const T* scale = k.scale.data();
  const T* mean_dy = k.mean_dy.data();
  const T* mean_dy_xhat = k.mean_dy_xhat.data();
  for (int64_t r = lo; r < hi; ++r)
    for (int64_t c = 0; c < C; ++c) {
      T xhat = (x[r * C + c] - mean[c]) * rstd[c];
      dx[r * C + c] = scale[c] * (dy[r * C + c] - mean_dy[c] - xhat * mean_dy_xhat[c]);
    }
}

// The path for (N, C). Its steps, also those of Channels:
//   statistics: mean and biased var per channel (in double)
//   normalize: y from x, mean, rstd, weight, bias
//   backward: Σdy and Σdy·xhat per channel, and dx from them unless dx is null
//   backward_input: dx from given sums
struct Rows {
  // Each block's mean and squared deviations come from two passes over the
  // block while it is in cache; then each channel's blocks merge in block
  // order (Chan et al., kernels/moments.h), channels in parallel.
  template <typename T>
  static void statistics(const T* x, double* mean, double* var, Dims d) {
    const int64_t N = d.N, C = d.C;
    BlockPartials<T> block_mean(N, C), block_m2(N, C);
    for_each_row_block(N, C, [&](int64_t lo, int64_t hi, int64_t block) {
      block_statistics(x, block_mean.start_row(block), block_m2.start_row(block), lo, hi, C);
    });
    parallel_for(0, C, std::max<int64_t>(16, kParallelGrain / std::max<int64_t>(block_mean.blocks, 1)),
                 [&](int64_t c0, int64_t c1) {
                   std::vector<kernels::Moments> channel(size_t(c1 - c0));
                   for (int64_t b = 0; b < block_mean.blocks; ++b) {
                     double nb = double(std::min(N, (b + 1) * kernels::kRowsPerBlock) - b * kernels::kRowsPerBlock);
                     const T* bm = block_mean.row(b);
                     const T* b2 = block_m2.row(b);
                     for (int64_t c = c0; c < c1; ++c) {
                       kernels::Moments& m = channel[size_t(c - c0)];
                       m = kernels::merge(m, {nb, double(bm[c]), double(b2[c])});
                     }
                   }
                   for (int64_t c = c0; c < c1; ++c) {
                     mean[c] = channel[size_t(c - c0)].mean;
                     var[c] = channel[size_t(c - c0)].variance();
                   }
                 });
  }

  template <typename T>
  static void normalize(const T* x, const T* mean, const T* rstd, const T* weight, const T* bias, T* y, Dims d) {
    std::vector<T> scale(static_cast<size_t>(d.C)), shift(static_cast<size_t>(d.C));
    normalize_coefficients(mean, rstd, weight, bias, 0, d.C, scale.data(), shift.data());
    for_each_row_block(
        d.N, d.C, [&](int64_t lo, int64_t hi, int64_t) { rows_affine(x, scale.data(), shift.data(), y, lo, hi, d.C); });
  }

  // All the sums row by row, then dx row by row.
  template <typename T>
  static void backward(const T* dy, const T* x, const T* weight, const T* mean, const T* rstd, double* sum_dy,
                       double* sum_dy_xhat, double M, bool batch_stats, T* dx, Dims d) {
    BlockPartials<T> partial_dy(d.N, d.C), partial_dy_xhat(d.N, d.C);
    for_each_row_block(d.N, d.C, [&](int64_t lo, int64_t hi, int64_t block) {
      block_backward_sums(dy, x, mean, rstd, partial_dy.start_row(block), partial_dy_xhat.start_row(block), lo, hi,
                          d.C);
    });
    partial_dy.reduce(sum_dy);
    partial_dy_xhat.reduce(sum_dy_xhat);
    if (dx) backward_input(dy, x, weight, mean, rstd, sum_dy, sum_dy_xhat, M, batch_stats, dx, d);
  }

  template <typename T>
  static void backward_input(const T* dy, const T* x, const T* weight, const T* mean, const T* rstd,
                             const double* sum_dy, const double* sum_dy_xhat, double M, bool batch_stats, T* dx,
                             Dims d) {
    BackwardCoefficients<T> k(weight, rstd, sum_dy, sum_dy_xhat, 0, d.C, M, batch_stats);
    for_each_row_block(d.N, d.C,
                       [&](int64_t lo, int64_t hi, int64_t) { rows_dx(dy, x, mean, rstd, k, dx, lo, hi, d.C); });
  }
};

// ---- (N, C, L): rows of L values ----------------------------------------------------------
// N·C contiguous rows of L values, walked in memory order; each channel's row
// results combined in sample order (kernels/channel_rows.h).
using kernels::combine_channel_rows;
using kernels::for_each_channel_row;

// Each row's moments: its mean, then its squared deviations M2 (the row is in
// cache for the second pass).
template <typename T>
NL_SIMD_CLONES void row_moments(const T* x, int64_t L, int64_t lo, int64_t hi, kernels::Moments* rows) {
  for (int64_t t = lo; t < hi; ++t) {
    const T* r = x + t * L;
    const double mean = kernels::lane_sum<double>(L, [&](int64_t l) { return double(r[l]); }) / double(L);
    const double m2 = kernels::lane_sum<double>(L, [&](int64_t l) {
      const double centered = double(r[l]) - mean;
      return centered * centered;
    });
    rows[t] = {double(L), mean, m2};
  }
}

// Each row's Σdy and Σdy·xhat, xhat with its channel's mean and rstd.
template <typename T>
NL_SIMD_CLONES void row_backward_sums(const T* dy, const T* x, const T* mean, const T* rstd, Dims d, int64_t lo,
                                      int64_t hi, double* row_dy, double* row_dy_xhat) {
  for (int64_t t = lo; t < hi; ++t) {
    std::tie(row_dy[t], row_dy_xhat[t]) =
        ops::row_dy_sums(dy + t * d.L, x + t * d.L, mean[t % d.C], rstd[t % d.C], d.L);
  }
}

// dx of rows [lo, hi) from their channels' coefficients.
template <typename T>
NL_SIMD_CLONES void channel_rows_dx(const T* dy, const T* x, const T* mean, const T* rstd,
                                    const BackwardCoefficients<T>& k, T* dx, Dims d, int64_t lo, int64_t hi) {
  for (int64_t t = lo; t < hi; ++t) {
    const int64_t c = t % d.C;
    const T m = mean[c], s = rstd[c], scale = k.scale[c], mean_dy = k.mean_dy[c], mean_dy_xhat = k.mean_dy_xhat[c];
    const T* g = dy + t * d.L;
    const T* r = x + t * d.L;
    T* out = dx + t * d.L;
    for (int64_t l = 0; l < d.L; ++l) {
      T xhat = (r[l] - m) * s;
      out[l] = scale * (g[l] - mean_dy - xhat * mean_dy_xhat);
    }
  }
}

// y[n,c,l] = x[n,c,l] · w[c] + b[c] over contiguous (N, C, L): the normalize
// step folded per channel. The (n, c) rows in parallel.
template <typename T>
void channel_affine(const T* x, const T* w, const T* b, T* y, int64_t N, int64_t C, int64_t L) {
  kernels::for_each_channel_row(N, C, L, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t c = t % C;
      const T scale = w ? w[c] : T(1), shift = b ? b[c] : T(0);
      for (int64_t l = 0; l < L; ++l) y[t * L + l] = x[t * L + l] * scale + shift;
    }
  });
}

// The path for (N, C, L): the steps of Rows, along the rows of L values.
struct Channels {
  // Each row's moments, merged per channel in sample order (Chan et al.).
  template <typename T>
  static void statistics(const T* x, double* mean, double* var, Dims d) {
    std::vector<kernels::Moments> rows(size_t(d.N * d.C)), channels(size_t(d.C));
    for_each_channel_row(d.N, d.C, d.L, [&](int64_t lo, int64_t hi) { row_moments(x, d.L, lo, hi, rows.data()); });
    combine_channel_rows(d.N, d.C, rows.data(), channels.data(), kernels::merge);
    for (int64_t c = 0; c < d.C; ++c) mean[c] = channels[size_t(c)].mean, var[c] = channels[size_t(c)].variance();
  }

  template <typename T>
  static void normalize(const T* x, const T* mean, const T* rstd, const T* weight, const T* bias, T* y, Dims d) {
    std::vector<T> scale(static_cast<size_t>(d.C)), shift(static_cast<size_t>(d.C));
    normalize_coefficients(mean, rstd, weight, bias, 0, d.C, scale.data(), shift.data());
    channel_affine(x, scale.data(), shift.data(), y, d.N, d.C, d.L);
  }

  // Each row's sums, added per channel in sample order; then dx unless dx is null.
  template <typename T>
  static void backward(const T* dy, const T* x, const T* weight, const T* mean, const T* rstd, double* sum_dy,
                       double* sum_dy_xhat, double M, bool batch_stats, T* dx, Dims d) {
    std::vector<double> row_dy(size_t(d.N * d.C)), row_dy_xhat(size_t(d.N * d.C));
    for_each_channel_row(d.N, d.C, d.L, [&](int64_t lo, int64_t hi) {
      row_backward_sums(dy, x, mean, rstd, d, lo, hi, row_dy.data(), row_dy_xhat.data());
    });
    kernels::add_channel_rows(d.N, d.C, row_dy.data(), sum_dy);
    kernels::add_channel_rows(d.N, d.C, row_dy_xhat.data(), sum_dy_xhat);
    if (dx) backward_input(dy, x, weight, mean, rstd, sum_dy, sum_dy_xhat, M, batch_stats, dx, d);
  }

  template <typename T>
  static void backward_input(const T* dy, const T* x, const T* weight, const T* mean, const T* rstd,
                             const double* sum_dy, const double* sum_dy_xhat, double M, bool batch_stats, T* dx,
                             Dims d) {
    BackwardCoefficients<T> k(weight, rstd, sum_dy, sum_dy_xhat, 0, d.C, M, batch_stats);
    for_each_channel_row(d.N, d.C, d.L,
                         [&](int64_t lo, int64_t hi) { channel_rows_dx(dy, x, mean, rstd, k, dx, d, lo, hi); });
  }
};

// ---- both layouts -------------------------------------------------------------------------

// The global statistics from every process's local ones: sums packed as
// [count | Σx (C) | Σx² (C)], Σx = M·mean and Σx² = M·(var + mean²) from the
// exact local two-pass values, summed across processes, then
// mean = Σx / count, var = Σx² / count − mean². Returns the global count.
double reduce_statistics(const CrossProcessSum& sum_across_processes, double* mean, double* var, Dims d) {
  const double M = double(d.per_channel());
  std::vector<double> sums(size_t(1 + 2 * d.C));
  sums[0] = M;
  for (int64_t c = 0; c < d.C; ++c) {
    sums[size_t(1 + c)] = M * mean[c];
    sums[size_t(1 + d.C + c)] = M * (var[c] + mean[c] * mean[c]);
  }
  sum_across_processes(sums.data(), int64_t(sums.size()));
  const double count = sums[0];
  if (count > 0)
    for (int64_t c = 0; c < d.C; ++c) {
      mean[c] = sums[size_t(1 + c)] / count;
      var[c] = std::max(0.0, sums[size_t(1 + d.C + c)] / count - mean[c] * mean[c]);
    }
  return count;
}

// dx, dweight, dbias may each be null. batch_stats: the forward used batch
// statistics (training), so mean and rstd depend on x; M is their global count.
// Locally the layout's backward forms the sums and dx together; with a
// cross-process sum, the sums come first, then one packed [Σdy | Σdy·xhat]
// reduction, then dx. sum_dxhat_out and sum_dxhat_xhat_out (one per channel,
// the sums dx was formed with) are filled when not null.
template <typename T, typename Layout>
void batch_norm_backward(const T* dy, const T* x, const T* weight, const T* mean, const T* rstd, T* dx, T* dweight,
                         T* dbias, Dims d, bool batch_stats, double M, const CrossProcessSum& sum_across_processes,
                         T* sum_dxhat_out = nullptr, T* sum_dxhat_xhat_out = nullptr) {
  std::vector<double> sums(size_t(2 * d.C));
  double* sum_dy = sums.data();
  double* sum_dy_xhat = sums.data() + d.C;
  bool reduce = batch_stats && sum_across_processes && dx;
  Layout::backward(dy, x, weight, mean, rstd, sum_dy, sum_dy_xhat, M, batch_stats, reduce ? nullptr : dx, d);
  for (int64_t c = 0; c < d.C; ++c) {  // the local sums: the parameter gradients
    if (dweight) dweight[c] = T(sum_dy_xhat[c]);
    if (dbias) dbias[c] = T(sum_dy[c]);
  }
  if (reduce) {
    sum_across_processes(sums.data(), int64_t(sums.size()));
    Layout::backward_input(dy, x, weight, mean, rstd, sum_dy, sum_dy_xhat, M, batch_stats, dx, d);
  }
  if (sum_dxhat_out)  // Σdxhat = w·Σdy, Σdxhat·xhat = w·Σdy·xhat
    for (int64_t c = 0; c < d.C; ++c) {
      double w = weight ? double(weight[c]) : 1.0;
      sum_dxhat_out[c] = T(w * sum_dy[c]);
      sum_dxhat_xhat_out[c] = T(w * sum_dy_xhat[c]);
    }
}

// Calls fn.template operator()<T, Layout>() for x's dtype and layout: Rows for
// (N, C) (and (N, C, 1)), Channels for (N, C, L).
template <typename Fn>
void dispatch_batch_norm(const char* op, DType dtype, Dims d, Fn&& fn) {
  dispatch_floating(op, dtype, [&]<typename T>() {
    if (d.L == 1)
      fn.template operator()<T, Rows>();
    else
      fn.template operator()<T, Channels>();
  });
}

// (N, C) or (N, C, L, ...): the trailing dims count as L.
Dims check_input(const char* op, const Tensor& input) {
  if (input.dim() < 2) fail("{}: expected an input (N, C) or (N, C, *), got {}", op, input.shape());
  int64_t N = input.shape()[0], C = input.shape()[1];
  return {N, C, input.dim() > 2 ? input.numel() / std::max<int64_t>(1, N * C) : 1};
}

void check_running_stat(const char* op, const char* name, const Tensor& stat, const Tensor& x, int64_t C) {
  if (!stat.defined()) return;
  if (stat.shape() != Shape{C} || stat.dtype() != x.dtype() || !stat.is_contiguous())
    fail("{}: {} must be a contiguous {} tensor of shape [{}], got {} {}", op, name, x.dtype(), C, stat.dtype(),
         stat.shape());
}
// The forward with the statistics it normalized with (batch or running, over
// every process when sum_across_processes is given); count_out: their count M.
// affine_from_batch (training only, when given): the weight and bias to
// normalize with, from the batch's mean and rstd (ops::BatchAffine).
NormForward batch_norm_forward_impl(const char* op, const Tensor& input, const Tensor& running_mean,
                                    const Tensor& running_var, const Tensor& weight, const Tensor& bias, bool training,
                                    double momentum, double eps, const CrossProcessSum& sum_across_processes,
                                    double* count_out, const ops::BatchAffine& affine_from_batch = {}) {
  ops::check_floating(op, input);
  Dims d = check_input(op, input);
  ops::check_affine(op, "weight", weight, input, {d.C});
  ops::check_affine(op, "bias", bias, input, {d.C});
  check_running_stat(op, "running_mean", running_mean, input, d.C);
  check_running_stat(op, "running_var", running_var, input, d.C);
  if (running_mean.defined() != running_var.defined())
    fail("{}: running_mean and running_var must be given together", op);
  if (!training && !running_mean.defined())
    fail("{}: eval mode needs running_mean and running_var (or use batch statistics: training=true)", op);
  const bool across_processes = training && bool(sum_across_processes);
  if (training && !across_processes && d.per_channel() <= 1)
    fail("{}: expected more than 1 value per channel when training, got input {}", op, input.shape());
  if (!(eps >= 0)) fail("{}: eps must be >= 0, got {}", op, eps);
  if (!(momentum >= 0 && momentum <= 1)) fail("{}: momentum must be in [0, 1], got {}", op, momentum);

  Tensor x = input.contiguous();
  Tensor w = weight.defined() ? weight.contiguous() : weight;
  Tensor b = bias.defined() ? bias.contiguous() : bias;
  NormForward out{Tensor::make(x.shape(), x.dtype(), op), Tensor::make({d.C}, x.dtype(), op),
                  Tensor::make({d.C}, x.dtype(), op)};
  double& count = *count_out =
      double(d.per_channel());  // M: values per channel behind the statistics, over all processes
  dispatch_batch_norm(op, x.dtype(), d, [&]<typename T, typename Layout>() {
    T* m = out.mean.data<T>();
    T* s = out.rstd.data<T>();
    if (training) {
      std::vector<double> batch_mean(size_t(d.C), 0.0), batch_var(size_t(d.C), 0.0);
      if (d.per_channel() > 0) Layout::statistics(x.data<T>(), batch_mean.data(), batch_var.data(), d);
      if (across_processes) {
        count = reduce_statistics(sum_across_processes, batch_mean.data(), batch_var.data(), d);
        if (count <= 1)
          fail("{}: expected more than 1 value per channel over all processes when training, got {} (input {} here)",
               op, count, input.shape());
      }
      for (int64_t c = 0; c < d.C; ++c) {
        m[c] = T(batch_mean[size_t(c)]);
        s[c] = T(batch_var[size_t(c)]);  // the biased variance for now
      }
      if (running_mean.defined()) {
        T* rm = running_mean.data<T>();
        T* rv = running_var.data<T>();
        double bessel = count / (count - 1);
        for (int64_t c = 0; c < d.C; ++c) {
          rm[c] = T((1 - momentum) * rm[c] + momentum * m[c]);
          rv[c] = T((1 - momentum) * rv[c] + momentum * s[c] * bessel);
        }
      }
      for (int64_t c = 0; c < d.C; ++c) s[c] = T(1 / std::sqrt(double(s[c]) + eps));
      if (affine_from_batch) {
        std::tie(w, b) = affine_from_batch(out.mean, out.rstd);
        ops::check_affine(op, "the batch's weight", w, x, {d.C});
        ops::check_affine(op, "the batch's bias", b, x, {d.C});
        w = w.defined() ? w.contiguous() : w;
        b = b.defined() ? b.contiguous() : b;
      }
    } else {
      const T* rm = running_mean.data<T>();
      const T* rv = running_var.data<T>();
      for (int64_t c = 0; c < d.C; ++c) {
        m[c] = rm[c];
        s[c] = T(1 / std::sqrt(double(rv[c]) + eps));
      }
    }
    Layout::normalize(x.data<T>(), m, s, ops::data_or_null<T>(w), ops::data_or_null<T>(b), out.y.data<T>(), d);
  });
  return out;
}

}  // namespace

NormForward ops::batch_norm_forward_with_batch_affine(const char* op, const Tensor& x, const Tensor& running_mean,
                                                      const Tensor& running_var, double momentum, double eps,
                                                      const BatchAffine& affine) {
  NoGradGuard no_grad;
  double count = 0;
  return batch_norm_forward_impl(op, x, running_mean, running_var, Tensor(), Tensor(), true, momentum, eps,
                                 CrossProcessSum(), &count, affine);
}

namespace {
NormBackward batch_norm_backward_impl(const char* op, const Tensor& grad_output, const Tensor& input,
                                      const Tensor& weight, const Tensor& mean, const Tensor& rstd, bool training,
                                      double count, const CrossProcessSum& sum_across_processes,
                                      NormGradsWanted wanted) {
  ops::check_floating(op, input);
  Dims d = check_input(op, input);
  ops::check_affine(op, "weight", weight, input, {d.C});
  ops::check_same_shape(op, "grad_output", grad_output, input, input.shape());
  ops::check_same_shape(op, "mean", mean, input, {d.C});
  ops::check_same_shape(op, "rstd", rstd, input, {d.C});

  Tensor dy = grad_output.contiguous(), x = input.contiguous(), m = mean.contiguous(), s = rstd.contiguous();
  Tensor w = weight.defined() ? weight.contiguous() : weight;
  NormBackward out = ops::allocate_norm_grads(op, wanted, x, {d.C}, d.C);
  dispatch_batch_norm(op, x.dtype(), d, [&]<typename T, typename Layout>() {
    using ops::data_or_null;
    batch_norm_backward<T, Layout>(dy.data<T>(), x.data<T>(), data_or_null<T>(w), m.data<T>(), s.data<T>(),
                                   data_or_null<T>(out.dx), data_or_null<T>(out.dweight), data_or_null<T>(out.dbias), d,
                                   training, count, sum_across_processes, data_or_null<T>(out.sum_dxhat),
                                   data_or_null<T>(out.sum_dxhat_xhat));
  });
  return out;
}
}  // namespace

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  return batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps, CrossProcessSum());
}

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps,
                  const CrossProcessSum& sum_across_processes) {
  Tensor x = input.contiguous();
  double count = 0;
  NormForward f = batch_norm_forward_impl("batch_norm", x, running_mean, running_var, weight, bias, training, momentum,
                                          eps, sum_across_processes, &count);
  if (!needs_grad(input, weight, bias)) return f.y;

  NormGradsWanted wanted{needs_grad(input), needs_grad(weight), needs_grad(bias), false};
  CrossProcessSum backward_sum = training ? sum_across_processes : CrossProcessSum();
  attach(f.y, "batch_norm", {input, weight, bias}, save(x, weight, f.mean, f.rstd),
         [training, count, backward_sum, wanted](const Tensor& grad, const Tensor& x, const Tensor& w,
                                                 const Tensor& mean, const Tensor& rstd) -> Grads {
           NormBackward b = batch_norm_backward_impl("batch_norm_backward", grad, x, w, mean, rstd, training, count,
                                                     backward_sum, wanted);
           return {b.dx, b.dweight, b.dbias};
         });
  return f.y;
}

NormForward batch_norm_forward(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                               const Tensor& weight, const Tensor& bias, bool training, double momentum, double eps) {
  NoGradGuard no_grad;
  double count = 0;
  return batch_norm_forward_impl("batch_norm_forward", x, running_mean, running_var, weight, bias, training, momentum,
                                 eps, CrossProcessSum(), &count);
}

NormBackward batch_norm_backward(const Tensor& grad_output, const Tensor& x, const Tensor& weight, const Tensor& mean,
                                 const Tensor& rstd, bool training, NormGradsWanted wanted) {
  NoGradGuard no_grad;
  double count = double(x.dim() >= 2 ? x.numel() / std::max<int64_t>(1, x.size(1)) : 0);  // M = N·L
  return batch_norm_backward_impl("batch_norm_backward", grad_output, x, weight, mean, rstd, training, count,
                                  CrossProcessSum(), wanted);
}

// ---- the composed reference: the same math from primitive ops; autograd derives its backward

// statistics over every dim but 1 (the channels) of (N, C) or (N, C, *); the
// running ones updated in place in training when given
Tensor reference::batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                             const Tensor& weight, const Tensor& bias, bool training, double momentum, double eps) {
  check_input("reference::batch_norm", x);
  // Per-channel tensors broadcast against x as (1, C, 1, ...).
  int64_t C = x.size(1);
  auto per_channel = [&](const Tensor& t) { return t.defined() ? t.reshape(ops::channel_shape(x)) : t; };
  Shape dims = ops::non_channel_dims(x);

  Tensor mean, var;
  if (training) {
    mean = x.mean(dims, /*keepdim=*/true);
    var = x.var(dims, /*unbiased=*/false, /*keepdim=*/true);
    if (running_mean.defined()) {
      NoGradGuard no_grad;
      double n = double(x.numel() / C);
      Tensor(running_mean).copy_(running_mean * (1 - momentum) + mean.reshape({C}) * momentum);
      Tensor(running_var).copy_(running_var * (1 - momentum) + var.reshape({C}) * (momentum * n / (n - 1)));
    }
  } else {
    mean = per_channel(running_mean);
    var = per_channel(running_var);
  }
  Tensor xhat = (x - mean) * rsqrt(var + eps);
  return ops::affine(xhat, per_channel(weight), per_channel(bias));
}

}  // namespace nl
