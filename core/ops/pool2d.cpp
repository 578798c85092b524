// max_pool2d, avg_pool2d and adaptive_avg_pool2d, as torch.nn.functional,
// forward and backward side by side. Each plane (sample, channel) of x
// (N, C, H, W) or (C, H, W) is pooled on its own; output cell (i, j) reads the
// window rows[i] × cols[j]:
//
//   max, avg:  rows[i] = {i·s − p + m·d : m = 0..k−1} ∩ [0, H)   (padding is never read;
//              d, the dilation, is 1 for avg)
//   adaptive:  rows[i] = [floor(i·H/H_out), ceil((i+1)·H/H_out))
//
//   max:      y = max over the window (the first, scanning h then w; a NaN wins)
//             dx[argmax] += dy
//   avg:      y = Σ window / divisor     (padding counts as zeros)
//             dx[h,w] += dy / divisor for every window holding (h, w)
//             divisor: divisor_override; else with count_include_pad the
//             window's size clipped to the padded input, (min(i·s − p + k, H + p)
//             − (i·s − p)) × (the same for w), kH·kW unless ceil_mode cut it;
//             else the window's size inside the input
//   adaptive: y = Σ window / |window|,   dx[h,w] += dy / |window|
//
// One thread per plane, each plane's sums in a fixed order, so results do not
// depend on the thread count.
#include <algorithm>
#include <bit>
#include <cmath>
#include <type_traits>
#include <limits>

#include "core/ops/helpers.h"

namespace nl {

namespace {

// A window's positions along one dimension: lo, lo + step, ... below hi
// (lo >= hi: none); padded: its size counted up to the padded border, the
// divisor of count_include_pad.
struct Range {
  int64_t lo, hi, step = 1, padded = 0;
  int64_t count() const { return lo < hi ? (hi - lo + step - 1) / step : 0; }
};

// The windows of every output cell, and what an average divides by.
struct Windows {
  int64_t planes = 0, H = 0, W = 0;
  std::vector<Range> rows, cols;  // per output row i / column j
  enum class Divisor { fixed, padded, inside } divisor_kind = Divisor::inside;
  int64_t divisor = 0;      // Divisor::fixed's (divisor_override)
  bool two_by_two = false;  // kernel 2, stride 2, no padding, dilation 1, full windows: max_pool_2x2's case
  int64_t Ho() const { return int64_t(rows.size()); }
  int64_t Wo() const { return int64_t(cols.size()); }
};

Shape output_shape(const Tensor& x, int64_t Ho, int64_t Wo) {
  Shape s = x.shape();
  s[x.dim() - 2] = Ho;
  s[x.dim() - 1] = Wo;
  return s;
}

// The input's planes and size, after the checks every pool shares.
Windows check_input(const char* op, const Tensor& x) {
  ops::check_floating(op, x);
  if (x.dim() != 3 && x.dim() != 4) fail("{}: expected input (N, C, H, W) or (C, H, W), got {}", op, x.shape());
  Windows win;
  win.H = x.size(-2);
  win.W = x.size(-1);
  if (win.H == 0 || win.W == 0) fail("{}: input {} has an empty plane (H or W is 0)", op, x.shape());
  win.planes = x.numel() / (win.H * win.W);
  return win;
}

// max_pool2d and avg_pool2d: the windows for kernel, stride, padding,
// dilation and ceil_mode.
Windows sliding_windows(const char* op, const Tensor& x, Size2 kernel, Size2 stride, Size2 padding, Size2 dilation,
                        bool ceil_mode) {
  Windows win = check_input(op, x);
  if (kernel.h <= 0 || kernel.w <= 0)
    fail("{}: kernel_size must be positive, got ({}, {}) (input {})", op, kernel.h, kernel.w, x.shape());
  if (stride.h <= 0 || stride.w <= 0)
    fail("{}: stride must be positive, got ({}, {}) (input {})", op, stride.h, stride.w, x.shape());
  if (dilation.h <= 0 || dilation.w <= 0)
    fail("{}: dilation must be positive, got ({}, {}) (input {})", op, dilation.h, dilation.w, x.shape());
  if (padding.h < 0 || padding.w < 0 || 2 * padding.h > kernel.h || 2 * padding.w > kernel.w)
    fail("{}: padding must be non-negative and at most half the kernel size, got padding ({}, {}) for kernel ({}, {})",
         op, padding.h, padding.w, kernel.h, kernel.w);
  // the kernel's extent with dilation, against the padded input
  const int64_t extent_h = dilation.h * (kernel.h - 1) + 1, extent_w = dilation.w * (kernel.w - 1) + 1;
  const int64_t padded_h = win.H + 2 * padding.h, padded_w = win.W + 2 * padding.w;
  if (extent_h > padded_h || extent_w > padded_w)
    fail(
        "{}: kernel ({}, {}) with dilation ({}, {}) spans ({}, {}), larger than the padded input ({}, {}) of input {} "
        "(padding ({}, {}))",
        op, kernel.h, kernel.w, dilation.h, dilation.w, extent_h, extent_w, padded_h, padded_w, x.shape(), padding.h,
        padding.w);
  auto ranges = [ceil_mode](int64_t size, int64_t k, int64_t s, int64_t p, int64_t d) {
    const int64_t span = size + 2 * p - d * (k - 1) - 1;  // >= 0 by the check above
    int64_t out = (span + (ceil_mode ? s - 1 : 0)) / s + 1;
    if (ceil_mode && (out - 1) * s >= size + p) --out;  // PyTorch: no window starts in the right padding
    std::vector<Range> r(static_cast<size_t>(out));
    for (size_t i = 0; i < r.size(); ++i) {
      const int64_t start = int64_t(i) * s - p;
      const int64_t first = start >= 0 ? start : start + (-start + d - 1) / d * d;  // the first position >= 0
      r[i] = {first, std::min(start + d * (k - 1) + 1, size), d, std::min(start + k, size + p) - start};
    }
    return r;
  };
  win.rows = ranges(win.H, kernel.h, stride.h, padding.h, dilation.h);
  win.cols = ranges(win.W, kernel.w, stride.w, padding.w, dilation.w);
  win.two_by_two = kernel.h == 2 && kernel.w == 2 && stride.h == 2 && stride.w == 2 && padding.h == 0 &&
                   padding.w == 0 && dilation.h == 1 && dilation.w == 1 && 2 * win.Ho() <= win.H &&
                   2 * win.Wo() <= win.W;
  return win;
}

// Calls fn(plane) for every plane, in parallel when there is enough work.
template <typename Fn>
void for_each_plane(const Windows& win, int64_t work_per_plane, Fn&& fn) {
  parallel_for(0, win.planes, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(work_per_plane, 1)),
               [&](int64_t lo, int64_t hi) {
                 for (int64_t plane = lo; plane < hi; ++plane) fn(plane);
               });
}

// The CNN's pool, 2×2 windows at stride 2 without padding: the general scan
// below unrolled for one plane (the same comparisons in the same order, so
// the same maximum and argmax), without the per-window ranges and loops, and
// without branches. On real data "is this one larger" is a coin toss that
// the branch predictor loses: with ifs (or ternaries, which GCC turns back
// into jumps) the CNN's first pool at batch 128 took 12-13 ms at 1 thread,
// 16 ns per output. So each choice is a mask over the bits instead.
template <typename T>
void max_pool_2x2(const T* in, T* y, int64_t* arg, int64_t W, int64_t Ho, int64_t Wo) {
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  // v if take else current, for a value and for its offset, by masks
  auto choose = [](bool take, T v, T& value, int64_t at, int64_t& offset) {
    const Bits mask = Bits(0) - Bits(take);
    value = std::bit_cast<T>((std::bit_cast<Bits>(v) & mask) | (std::bit_cast<Bits>(value) & ~mask));
    const int64_t wide = -int64_t(take);
    offset = (at & wide) | (offset & ~wide);
  };
  for (int64_t i = 0; i < Ho; ++i) {
    const T* top = in + 2 * i * W;
    const T* bottom = top + W;
    const int64_t first = 2 * i * W;  // the window's top-left index is first + 2j
    for (int64_t j = 0; j < Wo; ++j) {
      const T a = top[2 * j], b = top[2 * j + 1], c = bottom[2 * j], d = bottom[2 * j + 1];
      T value = a;
      int64_t offset = 0;  // of the maximum from the top-left: 0, 1, W or W + 1
      choose((b > value) | (b != b), b, value, 1, offset);  // larger, or NaN (as the general scan)
      choose((c > value) | (c != c), c, value, W, offset);
      choose((d > value) | (d != d), d, value, W + 1, offset);
      y[i * Wo + j] = value;
      arg[i * Wo + j] = first + 2 * j + offset;
    }
  }
}

// y = max over each window; arg = its flat index h·W + w in the plane.
template <typename T>
void max_pool_forward(const T* x, T* y, int64_t* arg, const Windows& win) {
  const int64_t Ho = win.Ho(), Wo = win.Wo();
  for_each_plane(win, win.H * win.W, [&](int64_t plane) {
    const T* in = x + plane * win.H * win.W;
    if (win.two_by_two) return max_pool_2x2(in, y + plane * Ho * Wo, arg + plane * Ho * Wo, win.W, Ho, Wo);
    for (int64_t i = 0; i < Ho; ++i)
      for (int64_t j = 0; j < Wo; ++j) {
        Range r = win.rows[size_t(i)], c = win.cols[size_t(j)];
        int64_t o = (plane * Ho + i) * Wo + j;
        if (r.count() == 0 || c.count() == 0) {  // a window of padding only: −inf, no gradient
          y[o] = -std::numeric_limits<T>::infinity();
          arg[o] = -1;
          continue;
        }
        int64_t best = r.lo * win.W + c.lo;
        T value = in[best];
        for (int64_t h = r.lo; h < r.hi; h += r.step)
          for (int64_t w = c.lo; w < c.hi; w += c.step) {
            T v = in[h * win.W + w];
            if (v > value || std::isnan(v)) value = v, best = h * win.W + w;  // as PyTorch
          }
        y[o] = value;
        arg[o] = best;
      }
  });
}

// dx[argmax] += dy, plane by plane.
template <typename T>
void max_pool_backward(const T* dy, const int64_t* arg, T* dx, const Windows& win) {
  const int64_t P = win.Ho() * win.Wo();
  for_each_plane(win, win.H * win.W + P, [&](int64_t plane) {
    T* out = dx + plane * win.H * win.W;
    std::fill(out, out + win.H * win.W, T(0));
    for (int64_t o = plane * P; o < (plane + 1) * P; ++o)
      if (arg[o] >= 0) out[arg[o]] += dy[o];
  });
}

int64_t window_divisor(const Windows& win, Range r, Range c) {
  switch (win.divisor_kind) {
    case Windows::Divisor::fixed: return win.divisor;
    case Windows::Divisor::padded: return r.padded * c.padded;
    case Windows::Divisor::inside: break;
  }
  return r.count() * c.count();
}

// y = Σ window / divisor, summed in double.
template <typename T>
void average_forward(const T* x, T* y, const Windows& win) {
  const int64_t Ho = win.Ho(), Wo = win.Wo();
  for_each_plane(win, win.H * win.W, [&](int64_t plane) {
    const T* in = x + plane * win.H * win.W;
    for (int64_t i = 0; i < Ho; ++i)
      for (int64_t j = 0; j < Wo; ++j) {
        Range r = win.rows[size_t(i)], c = win.cols[size_t(j)];
        double s = 0;
        for (int64_t h = r.lo; h < r.hi; ++h)
          for (int64_t w = c.lo; w < c.hi; ++w) s += double(in[h * win.W + w]);
        y[(plane * Ho + i) * Wo + j] = T(s / double(window_divisor(win, r, c)));
      }
  });
}

// dx[h,w] += dy / divisor over the windows holding (h, w), in output order.
template <typename T>
void average_backward(const T* dy, T* dx, const Windows& win) {
  const int64_t Ho = win.Ho(), Wo = win.Wo();
  for_each_plane(win, win.H * win.W, [&](int64_t plane) {
    T* out = dx + plane * win.H * win.W;
    std::fill(out, out + win.H * win.W, T(0));
    for (int64_t i = 0; i < Ho; ++i)
      for (int64_t j = 0; j < Wo; ++j) {
        Range r = win.rows[size_t(i)], c = win.cols[size_t(j)];
        T g = T(double(dy[(plane * Ho + i) * Wo + j]) / double(window_divisor(win, r, c)));
        for (int64_t h = r.lo; h < r.hi; ++h)
          for (int64_t w = c.lo; w < c.hi; ++w) out[h * win.W + w] += g;
      }
  });
}

// avg_pool2d and adaptive_avg_pool2d: the average over win's windows, one node.
Tensor average_pool(const char* op, const Tensor& input, const Windows& win) {
  Tensor x = input.detach().contiguous();
  Tensor y = Tensor::make(output_shape(x, win.Ho(), win.Wo()), x.dtype(), op);
  dispatch_floating(op, x.dtype(), [&]<typename T>() { average_forward<T>(x.data<T>(), y.data<T>(), win); });
  if (!needs_grad(input)) return y;
  attach(y, op, {input}, [win, op, shape = x.shape(), dtype = x.dtype()](const Tensor& grad) -> Grads {
    Tensor dy = grad.contiguous();
    Tensor dx = Tensor::make(shape, dtype, op);
    dispatch_floating(op, dtype, [&]<typename T>() { average_backward<T>(dy.data<T>(), dx.data<T>(), win); });
    return {dx};
  });
  return y;
}

}  // namespace

Tensor max_pool2d(const Tensor& input, Size2 kernel_size, Size2 stride, Size2 padding, Size2 dilation, bool ceil_mode) {
  const char* op = "max_pool2d";
  Windows win = sliding_windows(op, input, kernel_size, stride, padding, dilation, ceil_mode);
  Tensor x = input.detach().contiguous();
  Shape out_shape = output_shape(x, win.Ho(), win.Wo());
  Tensor y = Tensor::make(out_shape, x.dtype(), op), arg = Tensor::make(out_shape, i64, op);
  dispatch_floating(op, x.dtype(),
                    [&]<typename T>() { max_pool_forward<T>(x.data<T>(), y.data<T>(), arg.data<int64_t>(), win); });
  if (!needs_grad(input)) return y;
  attach(y, op, {input}, save(arg),
         [win, shape = x.shape(), dtype = x.dtype()](const Tensor& grad, const Tensor& arg) -> Grads {
           Tensor dy = grad.contiguous();
           Tensor dx = Tensor::make(shape, dtype, "max_pool2d_backward");
           dispatch_floating("max_pool2d_backward", dtype, [&]<typename T>() {
             max_pool_backward<T>(dy.data<T>(), arg.data<int64_t>(), dx.data<T>(), win);
           });
           return {dx};
         });
  return y;
}

Tensor max_pool2d(const Tensor& x, Size2 kernel_size) { return max_pool2d(x, kernel_size, kernel_size, 0); }

Tensor avg_pool2d(const Tensor& x, Size2 kernel_size, Size2 stride, Size2 padding, bool ceil_mode,
                  bool count_include_pad, int64_t divisor_override) {
  const char* op = "avg_pool2d";
  if (divisor_override < 0)
    fail("{}: divisor_override must be positive (or 0: none), got {} (input {})", op, divisor_override, x.shape());
  Windows win = sliding_windows(op, x, kernel_size, stride, padding, 1, ceil_mode);
  win.divisor_kind = divisor_override > 0 ? Windows::Divisor::fixed
                     : count_include_pad  ? Windows::Divisor::padded
                                          : Windows::Divisor::inside;
  win.divisor = divisor_override;
  return average_pool(op, x, win);
}

Tensor avg_pool2d(const Tensor& x, Size2 kernel_size) { return avg_pool2d(x, kernel_size, kernel_size, 0); }

Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size) {
  const char* op = "adaptive_avg_pool2d";
  Windows win = check_input(op, x);
  if (output_size.h <= 0 || output_size.w <= 0)
    fail("{}: output_size must be positive, got ({}, {}) (input {})", op, output_size.h, output_size.w, x.shape());
  // rows[i] = [floor(i·H/out), ceil((i+1)·H/out))
  auto ranges = [](int64_t size, int64_t out) {
    std::vector<Range> r(static_cast<size_t>(out));
    for (int64_t i = 0; i < out; ++i) r[size_t(i)] = {i * size / out, ((i + 1) * size + out - 1) / out};
    return r;
  };
  win.rows = ranges(win.H, output_size.h);
  win.cols = ranges(win.W, output_size.w);
  win.divisor_kind = Windows::Divisor::inside;
  return average_pool(op, x, win);
}

}  // namespace nl
