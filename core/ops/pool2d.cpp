// max_pool2d, avg_pool2d and adaptive_avg_pool2d, as torch.nn.functional
// (ceil_mode = false, count_include_pad = true), forward and backward side by
// side. Each plane (sample, channel) of x (N, C, H, W) or (C, H, W) is pooled
// on its own; output cell (i, j) reads the window rows[i] × cols[j]:
//
//   max, avg:  rows[i] = [i·s − p, i·s − p + k) ∩ [0, H)      (padding is never read)
//   adaptive:  rows[i] = [floor(i·H/H_out), ceil((i+1)·H/H_out))
//
//   max:      y = max over the window (the first, scanning h then w; a NaN wins)
//             dx[argmax] += dy
//   avg:      y = Σ window / (kH·kW)     (padding counts as zeros)
//             dx[h,w] += dy / (kH·kW) for every window holding (h, w)
//   adaptive: y = Σ window / |window|,   dx[h,w] += dy / |window|
//
// One thread per plane, each plane's sums in a fixed order, so results do not
// depend on the thread count.
#include <algorithm>
#include <cmath>

#include "core/ops/helpers.h"

namespace nl {

namespace {

struct Range {
  int64_t lo, hi;
};

// The windows of every output cell, and what an average divides by.
struct Windows {
  int64_t planes = 0, H = 0, W = 0;
  std::vector<Range> rows, cols;  // per output row i / column j
  int64_t divisor = 0;            // kH·kW, or 0: the window's own size (adaptive)
  bool two_by_two = false;        // kernel 2, stride 2, no padding: max_pool_2x2's case
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

// max_pool2d and avg_pool2d: the windows for kernel, stride and padding.
Windows sliding_windows(const char* op, const Tensor& x, Size2 kernel, Size2 stride, Size2 padding) {
  Windows win = check_input(op, x);
  if (kernel.h <= 0 || kernel.w <= 0)
    fail("{}: kernel_size must be positive, got ({}, {}) (input {})", op, kernel.h, kernel.w, x.shape());
  if (stride.h <= 0 || stride.w <= 0)
    fail("{}: stride must be positive, got ({}, {}) (input {})", op, stride.h, stride.w, x.shape());
  if (padding.h < 0 || padding.w < 0 || 2 * padding.h > kernel.h || 2 * padding.w > kernel.w)
    fail("{}: padding must be non-negative and at most half the kernel size, got padding ({}, {}) for kernel ({}, {})",
         op, padding.h, padding.w, kernel.h, kernel.w);
  int64_t padded_h = win.H + 2 * padding.h, padded_w = win.W + 2 * padding.w;
  if (kernel.h > padded_h || kernel.w > padded_w)
    fail("{}: kernel ({}, {}) is larger than the padded input ({}, {}) of input {} (padding ({}, {}))", op, kernel.h,
         kernel.w, padded_h, padded_w, x.shape(), padding.h, padding.w);
  auto ranges = [](int64_t size, int64_t k, int64_t s, int64_t p) {
    std::vector<Range> r(size_t((size + 2 * p - k) / s + 1));
    for (size_t i = 0; i < r.size(); ++i) {
      int64_t start = int64_t(i) * s - p;
      r[i] = {std::max<int64_t>(start, 0), std::min(start + k, size)};
    }
    return r;
  };
  win.rows = ranges(win.H, kernel.h, stride.h, padding.h);
  win.cols = ranges(win.W, kernel.w, stride.w, padding.w);
  win.divisor = kernel.h * kernel.w;
  win.two_by_two = kernel.h == 2 && kernel.w == 2 && stride.h == 2 && stride.w == 2 && padding.h == 0 &&
                   padding.w == 0;
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
// the same maximum and argmax), without the per-window ranges and loops.
template <typename T>
void max_pool_2x2(const T* in, T* y, int64_t* arg, int64_t W, int64_t Ho, int64_t Wo) {
  for (int64_t i = 0; i < Ho; ++i) {
    const int64_t top = 2 * i * W, bottom = top + W;
    for (int64_t j = 0; j < Wo; ++j) {
      const int64_t at[4] = {top + 2 * j, top + 2 * j + 1, bottom + 2 * j, bottom + 2 * j + 1};
      T value = in[at[0]];
      int64_t best = at[0];
      for (int64_t q = 1; q < 4; ++q) {
        T v = in[at[q]];
        if (v > value || std::isnan(v)) value = v, best = at[q];  // as the general scan
      }
      y[i * Wo + j] = value;
      arg[i * Wo + j] = best;
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
        int64_t best = r.lo * win.W + c.lo;
        T value = in[best];
        for (int64_t h = r.lo; h < r.hi; ++h)
          for (int64_t w = c.lo; w < c.hi; ++w) {
            T v = in[h * win.W + w];
            if (v > value || std::isnan(v)) value = v, best = h * win.W + w;  // as PyTorch
          }
        int64_t o = (plane * Ho + i) * Wo + j;
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
    for (int64_t o = plane * P; o < (plane + 1) * P; ++o) out[arg[o]] += dy[o];
  });
}

int64_t window_divisor(const Windows& win, Range r, Range c) {
  return win.divisor > 0 ? win.divisor : (r.hi - r.lo) * (c.hi - c.lo);
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

Tensor max_pool2d(const Tensor& input, Size2 kernel_size, Size2 stride, Size2 padding) {
  const char* op = "max_pool2d";
  Windows win = sliding_windows(op, input, kernel_size, stride, padding);
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

Tensor avg_pool2d(const Tensor& x, Size2 kernel_size, Size2 stride, Size2 padding) {
  return average_pool("avg_pool2d", x, sliding_windows("avg_pool2d", x, kernel_size, stride, padding));
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
  win.divisor = 0;
  return average_pool(op, x, win);
}

}  // namespace nl
