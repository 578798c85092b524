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
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "core/kernels/simd.h"
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
// below for windows a b / c d, in its order (a, then b, c, d, each taken if
// larger or NaN), so the same maximum and argmax. It keeps the argmax as a
// byte, the window offset k (a 0, b 1, c 2, d 3), not as an int64 index: an
// eighth of the memory traffic, and the backward writes each dx value once.
//
// L outputs at a time in GCC vector types (L = 8 floats or 4 doubles, 256
// bits; L/2 for rows narrower than L, 1 for rows narrower than that:
// for_each_row_block): the windows' corners a, b (top row) and c, d (bottom
// row) gathered lane by lane (GCC makes shuffles of it), and the choices
// are lane masks. The CNN's rows are short (14 and 7 outputs),
// so a row is covered by whole vectors, the last one overlapping the one
// before (outputs 6..13 after 0..7: the same values written twice). One
// plane at a time, batch 128, one thread: the pool after the 28×28 block
// took 12–13 ms with a branch per comparison, 2.1 ms with int64 indices and
// branch-free scalar selects, 0.6 ms now.
template <typename T, int L>
struct PoolLanes {
  typedef T vector __attribute__((vector_size(L * sizeof(T))));
  typedef std::conditional_t<sizeof(T) == 4, int32_t, int64_t> Int;
  typedef Int mask __attribute__((vector_size(L * sizeof(T))));
  // a0 b0 a1 b1 ... of vectors a and b: lanes From .. From + L − 1 of the
  // interleaving (a struct, not a function: a function returning a 256-bit
  // vector would have a different ABI in the baseline clone, -Wpsabi)
  template <int From, typename Sequence>
  struct Interleave;
  template <int From, size_t... l>
  struct Interleave<From, std::index_sequence<l...>> {
    static constexpr mask value{Int((From + int(l)) / 2 + (From + int(l)) % 2 * L)...};
  };
  static constexpr mask low = Interleave<0, std::make_index_sequence<L>>::value,  // the first half
      high = Interleave<L, std::make_index_sequence<L>>::value;                   // the second half
};

// Outputs 0 .. L−1 of one row pair (top and bottom input rows): y and k.
template <typename T, int L>
__attribute__((always_inline)) inline void max_pool_2x2_lanes(const T* top, const T* bottom, T* y, uint8_t* code) {
  using V = PoolLanes<T, L>;
  using M = typename V::mask;
  typename V::vector a, b, c, d;  // the windows' four corners, deinterleaved from the two rows
  for (int l = 0; l < L; ++l) a[l] = top[2 * l], b[l] = top[2 * l + 1], c[l] = bottom[2 * l], d[l] = bottom[2 * l + 1];
  auto value = a;
  M k = M{};
  M take = (b > value) | (b != b);  // all bits set in the lanes where true
  value = take ? b : value, k = take ? M{} + 1 : k;
  take = (c > value) | (c != c);
  value = take ? c : value, k = take ? M{} + 2 : k;
  take = (d > value) | (d != d);
  value = take ? d : value, k = take ? M{} + 3 : k;
  std::memcpy(y, &value, sizeof(value));
  for (int l = 0; l < L; ++l) code[l] = uint8_t(k[l]);
}

// dx of the windows of outputs 0 .. L−1: dy at offset k, zero at the other three.
template <typename T, int L>
__attribute__((always_inline)) inline void max_pool_2x2_lanes_backward(const T* dy, const uint8_t* code, T* top,
                                                                       T* bottom) {
  using V = PoolLanes<T, L>;
  using M = typename V::mask;
  typename V::vector g, zero{};
  std::memcpy(&g, dy, sizeof(g));
  M k;
  for (int l = 0; l < L; ++l) k[l] = code[l];
  const auto a = k == 0 ? g : zero, b = k == 1 ? g : zero, c = k == 2 ? g : zero, d = k == 3 ? g : zero;
#if defined(__GNUC__) && !defined(__clang__)  // GCC's shuffles: the lane-by-lane stores took twice as long
  const auto top_low = __builtin_shuffle(a, b, V::low), top_high = __builtin_shuffle(a, b, V::high);  // a0 b0 a1 ...
  const auto bottom_low = __builtin_shuffle(c, d, V::low), bottom_high = __builtin_shuffle(c, d, V::high);
  std::memcpy(top, &top_low, sizeof(top_low));
  std::memcpy(top + L, &top_high, sizeof(top_high));
  std::memcpy(bottom, &bottom_low, sizeof(bottom_low));
  std::memcpy(bottom + L, &bottom_high, sizeof(bottom_high));
#else  // clang (the fuzzing build) has no __builtin_shuffle
  for (int l = 0; l < L; ++l) top[2 * l] = a[l], top[2 * l + 1] = b[l], bottom[2 * l] = c[l], bottom[2 * l + 1] = d[l];
#endif
}

// A row of Wo outputs in blocks of the widest vectors that fit (kLanes<T>,
// else kLanes<T> / 2, else one lane): vector(lanes, j) for outputs j .. j +
// lanes − 1, lanes a std::integral_constant, the last block overlapping the
// one before.
template <typename T>
inline constexpr int kLanes = int(32 / sizeof(T));
template <typename T, typename Vector>
__attribute__((always_inline)) inline void for_each_row_block(int64_t Wo, Vector&& vector) {
  auto blocks = [&](auto lanes) __attribute__((always_inline)) {
    for (int64_t j = 0;; j += lanes) {
      const int64_t at = std::min<int64_t>(j, Wo - lanes);
      vector(lanes, at);
      if (at == Wo - lanes) return;
    }
  };
  if (Wo >= kLanes<T>)
    blocks(std::integral_constant<int, kLanes<T>>{});
  else if (Wo >= kLanes<T> / 2)
    blocks(std::integral_constant<int, kLanes<T> / 2>{});
  else  // rows of 1–3 floats (1 double): vectors of one lane, the same code
    blocks(std::integral_constant<int, 1>{});
}

template <typename T>
NL_SIMD_CLONES void max_pool_2x2(const T* in, T* y, uint8_t* code, int64_t W, int64_t Ho, int64_t Wo) {
  for (int64_t i = 0; i < Ho; ++i) {
    const T* top = in + 2 * i * W;
    const T* bottom = top + W;
    T* y_row = y + i * Wo;
    uint8_t* code_row = code + i * Wo;
    for_each_row_block<T>(
        Wo, [&](auto lanes, int64_t j) __attribute__((always_inline)) {
          max_pool_2x2_lanes<T, decltype(lanes)::value>(top + 2 * j, bottom + 2 * j, y_row + j, code_row + j);
        });
  }
}

// dx of one plane from the offsets k: each window's four values written once,
// and zeros in the row and column no window covers (an odd H or W).
template <typename T>
NL_SIMD_CLONES void max_pool_2x2_backward(const T* dy, const uint8_t* code, T* dx, int64_t H, int64_t W, int64_t Ho,
                                          int64_t Wo) {
  for (int64_t i = 0; i < Ho; ++i) {
    T* top = dx + 2 * i * W;
    T* bottom = top + W;
    const T* dy_row = dy + i * Wo;
    const uint8_t* code_row = code + i * Wo;
    for_each_row_block<T>(
        Wo, [&](auto lanes, int64_t j) __attribute__((always_inline)) {
          max_pool_2x2_lanes_backward<T, decltype(lanes)::value>(dy_row + j, code_row + j, top + 2 * j, bottom + 2 * j);
        });
    for (int64_t w = 2 * Wo; w < W; ++w) top[w] = bottom[w] = T(0);
  }
  std::fill(dx + 2 * Ho * W, dx + H * W, T(0));
}

// The argmax of every output, for the backward: its flat index h·W + w in
// the plane (int64), or for 2×2 windows its offset k, one byte per output
// (max_pool_2x2), kept in an int64 tensor of an eighth of the size rounded
// up (tensors have no byte dtype).
Tensor make_argmax(const char* op, const Windows& win, const Shape& out_shape) {
  if (!win.two_by_two) return Tensor::make(out_shape, i64, op);
  return Tensor::make({(win.planes * win.Ho() * win.Wo() + 7) / 8}, i64, op);
}
uint8_t* offsets(const Tensor& arg) { return reinterpret_cast<uint8_t*>(arg.data<int64_t>()); }

// y = max over each window, and its argmax (make_argmax).
template <typename T>
void max_pool_forward(const T* x, T* y, const Tensor& arg, const Windows& win) {
  const int64_t Ho = win.Ho(), Wo = win.Wo();
  if (win.two_by_two) {
    for_each_plane(win, win.H * win.W, [&](int64_t plane) {
      max_pool_2x2(x + plane * win.H * win.W, y + plane * Ho * Wo, offsets(arg) + plane * Ho * Wo, win.W, Ho, Wo);
    });
    return;
  }
  int64_t* index = arg.data<int64_t>();
  for_each_plane(win, win.H * win.W, [&](int64_t plane) {
    const T* in = x + plane * win.H * win.W;
    for (int64_t i = 0; i < Ho; ++i)
      for (int64_t j = 0; j < Wo; ++j) {
        Range r = win.rows[size_t(i)], c = win.cols[size_t(j)];
        int64_t o = (plane * Ho + i) * Wo + j;
        if (r.count() == 0 || c.count() == 0) {  // a window of padding only: −inf, no gradient
          y[o] = -std::numeric_limits<T>::infinity();
          index[o] = -1;
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
        index[o] = best;
      }
  });
}

// dx[argmax] += dy, plane by plane.
template <typename T>
void max_pool_backward(const T* dy, const Tensor& arg, T* dx, const Windows& win) {
  const int64_t P = win.Ho() * win.Wo();
  if (win.two_by_two) {
    for_each_plane(win, win.H * win.W, [&](int64_t plane) {
      max_pool_2x2_backward(dy + plane * P, offsets(arg) + plane * P, dx + plane * win.H * win.W, win.H, win.W,
                            win.Ho(), win.Wo());
    });
    return;
  }
  const int64_t* index = arg.data<int64_t>();
  for_each_plane(win, win.H * win.W + P, [&](int64_t plane) {
    T* out = dx + plane * win.H * win.W;
    std::fill(out, out + win.H * win.W, T(0));
    for (int64_t o = plane * P; o < (plane + 1) * P; ++o)
      if (index[o] >= 0) out[index[o]] += dy[o];
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
  Tensor y = Tensor::make(out_shape, x.dtype(), op), arg = make_argmax(op, win, out_shape);
  dispatch_floating(op, x.dtype(), [&]<typename T>() { max_pool_forward<T>(x.data<T>(), y.data<T>(), arg, win); });
  if (!needs_grad(input)) return y;
  attach(y, op, {input}, save(arg),
         [win, shape = x.shape(), dtype = x.dtype()](const Tensor& grad, const Tensor& arg) -> Grads {
           Tensor dy = grad.contiguous();
           Tensor dx = Tensor::make(shape, dtype, "max_pool2d_backward");
           dispatch_floating("max_pool2d_backward", dtype,
                             [&]<typename T>() { max_pool_backward<T>(dy.data<T>(), arg, dx.data<T>(), win); });
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
