#pragma once
// Elementwise loops over strided, broadcast operands.
//
// Every elementwise op reduces to: walk an output shape and, for each
// position, read each operand at sum(index[d] * stride[d]) (a broadcast dim
// has stride 0). for_each_strided first merges dims that are contiguous for
// every operand (so a contiguous tensor becomes one flat loop), then runs the
// innermost dim as a plain loop the compiler vectorizes, splitting the outer
// positions, and long runs, across threads for big tensors.
#include <algorithm>
#include <array>
#include <cstdint>

#include "core/kernels/simd.h"
#include "core/parallel.h"
#include "core/tensor.h"

namespace nl::kernels {

// The contiguous inner loops, y[i] = f(a[i]) and y[i] = f(a[i], b[i]),
// compiled for AVX2 as well (simd.h): with f from vec_math.h they vectorize.
template <typename R, typename T, typename F>
NL_SIMD_CLONES void contiguous_unary(R* y, const T* a, int64_t n, const F& f) {
  for (int64_t i = 0; i < n; ++i) y[i] = f(a[i]);
}
template <typename R, typename T, typename F>
NL_SIMD_CLONES void contiguous_binary(R* y, const T* a, const T* b, int64_t n, const F& f) {
  for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
}

// Strides that read t as if broadcast to `shape` (0 where t has size 1 or is missing).
inline Shape broadcast_strides(const Tensor& t, const Shape& shape) {
  Shape out = Shape::filled(shape.size(), 0);
  int shift = shape.size() - t.dim();
  for (int i = 0; i < t.dim(); ++i) out[i + shift] = t.shape()[i] == 1 ? 0 : t.strides()[i];
  return out;
}

template <int N>
using Offsets = std::array<int64_t, N>;

// Calls inner(offsets, count, inner_strides) for every run of the innermost
// dim: operand k's elements are at offsets[k] + i * inner_strides[k], i < count.
template <int N, typename Inner>
void for_each_strided(Shape shape, std::array<Shape, N> strides, Inner&& inner) {
  if (numel_of(shape) == 0) return;
  // drop size-1 dims, then merge neighbours that are contiguous for all operands
  Shape s;
  std::array<Shape, N> st;
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    s.push_back(shape[d]);
    for (int k = 0; k < N; ++k) st[k].push_back(strides[k][d]);
  }
  for (int d = s.size() - 2; d >= 0; --d) {
    bool mergeable = true;
    for (int k = 0; k < N; ++k) mergeable &= st[k][d] == st[k][d + 1] * s[d + 1];
    if (!mergeable) continue;
    s[d] *= s[d + 1];
    s.erase(d + 1);
    for (int k = 0; k < N; ++k) {
      st[k][d] = st[k][d + 1];
      st[k].erase(d + 1);
    }
  }
  Offsets<N> inner_strides{};
  int64_t count = 1;
  if (!s.empty()) {
    count = s.back();
    for (int k = 0; k < N; ++k) inner_strides[k] = st[k].back();
  }
  int outer_rank = std::max(0, s.size() - 1);
  int64_t outer = 1;
  for (int d = 0; d < outer_rank; ++d) outer *= s[d];

  // A long innermost run is cut into pieces of at most kParallelGrain values,
  // so a contiguous tensor (one run after the merge) is shared by the threads
  // too; item = (outer position, piece).
  const int64_t piece = std::min<int64_t>(std::max<int64_t>(count, 1), kParallelGrain);
  const int64_t pieces = (count + piece - 1) / piece;
  int64_t grain = std::max<int64_t>(1, kParallelGrain / piece);
  parallel_for(0, outer * pieces, grain, [&](int64_t lo, int64_t hi) {
    // position of lo's outer position as a multi-index, then an odometer over the outer dims
    int64_t index[Shape::kMaxDims] = {};
    Offsets<N> off{};
    int64_t rest = lo / pieces;
    for (int d = outer_rank - 1; d >= 0; --d) {
      index[d] = rest % s[d];
      rest /= s[d];
      for (int k = 0; k < N; ++k) off[k] += index[d] * st[k][d];
    }
    for (int64_t item = lo; item < hi; ++item) {
      const int64_t begin = item % pieces * piece;
      Offsets<N> at = off;
      for (int k = 0; k < N; ++k) at[k] += begin * inner_strides[k];
      inner(at, std::min(piece, count - begin), inner_strides);
      if (begin + piece < count) continue;  // the next piece of the same run
      for (int d = outer_rank - 1; d >= 0; --d) {
        for (int k = 0; k < N; ++k) off[k] += st[k][d];
        if (++index[d] < s[d]) break;
        for (int k = 0; k < N; ++k) off[k] -= s[d] * st[k][d];
        index[d] = 0;
      }
    }
  });
}

// out[i] = f(x[i]) for out of x's shape (out may be any strided tensor).
template <typename R, typename T, typename F>
void map_unary(const Tensor& x, const Tensor& out, F f) {
  const T* xp = x.data<T>();
  R* yp = out.data<R>();
  for_each_strided<2>(out.shape(), {out.strides(), broadcast_strides(x, out.shape())},
                      [&](const Offsets<2>& off, int64_t n, const Offsets<2>& st) {
                        R* y = yp + off[0];
                        const T* a = xp + off[1];
                        if (st[0] == 1 && st[1] == 1) {
                          contiguous_unary(y, a, n, f);
                        } else {
                          for (int64_t i = 0; i < n; ++i) y[i * st[0]] = f(a[i * st[1]]);
                        }
                      });
}

// out[i] = f(a[i], b[i]) with a and b broadcast to out's shape.
template <typename R, typename T, typename F>
void map_binary(const Tensor& a, const Tensor& b, const Tensor& out, F f) {
  const T* ap = a.data<T>();
  const T* bp = b.data<T>();
  R* yp = out.data<R>();
  for_each_strided<3>(out.shape(),
                      {out.strides(), broadcast_strides(a, out.shape()), broadcast_strides(b, out.shape())},
                      [&](const Offsets<3>& off, int64_t n, const Offsets<3>& st) {
                        R* y = yp + off[0];
                        const T* x = ap + off[1];
                        const T* z = bp + off[2];
                        if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
                          contiguous_binary(y, x, z, n, f);
                        } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
                          const T zv = *z;
                          contiguous_unary(y, x, n, [&](T u) { return f(u, zv); });
                        } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {
                          const T xv = *x;
                          contiguous_unary(y, z, n, [&](T v) { return f(xv, v); });
                        } else {
                          for (int64_t i = 0; i < n; ++i) y[i * st[0]] = f(x[i * st[1]], z[i * st[2]]);
                        }
                      });
}

// out[i] = f(a[i], b[i], c[i]) with all three broadcast to out's shape;
// a may have a different element type (a condition or mask).
template <typename R, typename TA, typename T, typename F>
void map_ternary(const Tensor& a, const Tensor& b, const Tensor& c, const Tensor& out, F f) {
  const TA* ap = a.data<TA>();
  const T* bp = b.data<T>();
  const T* cp = c.data<T>();
  R* yp = out.data<R>();
  for_each_strided<4>(out.shape(),
                      {out.strides(), broadcast_strides(a, out.shape()), broadcast_strides(b, out.shape()),
                       broadcast_strides(c, out.shape())},
                      [&](const Offsets<4>& off, int64_t n, const Offsets<4>& st) {
                        for (int64_t i = 0; i < n; ++i)
                          yp[off[0] + i * st[0]] =
                              f(ap[off[1] + i * st[1]], bp[off[2] + i * st[2]], cp[off[3] + i * st[3]]);
                      });
}

}  // namespace nl::kernels
