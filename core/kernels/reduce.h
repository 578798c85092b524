#pragma once
// Reductions over any set of dims.
//
// The plan splits the input's dims into kept dims (one output element per
// position) and reduced dims (folded into that element). Three loops cover
// all cases, and each gives the same answer for any thread count because the
// order in which one output's elements are combined never depends on it:
//  - prefix: contiguous input reduced over its leading dims (bias gradients,
//    sum_to): rows are added into a vector of accumulators, which vectorizes;
//  - all: everything into one value, in fixed 64K-element blocks combined in order;
//  - general: each output walks its reduced positions with an odometer.
#include <algorithm>
#include <vector>

#include "core/kernels/elementwise.h"

namespace nl::kernels {

struct ReducePlan {
  Shape out_shape;   // with or without the reduced dims, per keepdim
  Shape keep_shape;  // out shape with reduced dims kept as 1
  Shape kept_sizes, kept_strides;
  Shape reduced_sizes, reduced_strides;
  int64_t reduced_count = 1;
  int64_t out_count = 1;
  bool reduced[Shape::kMaxDims] = {};
  bool is_prefix = false;  // reduced dims are exactly the leading dims
};

inline ReducePlan plan_reduce(std::string_view op, const Tensor& x, const Shape& dims, bool keepdim) {
  ReducePlan p;
  int rank = x.dim();
  if (dims.empty()) {
    for (int d = 0; d < rank; ++d) p.reduced[d] = true;
  } else {
    for (int64_t d : dims) {
      int nd = normalize_dim(op, d, rank);
      if (rank > 0 && p.reduced[nd]) fail("{}: dim {} appears twice in {}", op, nd, dims);
      if (rank > 0) p.reduced[nd] = true;
    }
  }
  int leading = 0;
  while (leading < rank && p.reduced[leading]) ++leading;
  bool any_after = false;
  for (int d = 0; d < rank; ++d) {
    if (p.reduced[d]) {
      p.reduced_sizes.push_back(x.shape()[d]);
      p.reduced_strides.push_back(x.strides()[d]);
      p.reduced_count *= x.shape()[d];
      p.keep_shape.push_back(1);
      if (keepdim) p.out_shape.push_back(1);
      if (d >= leading) any_after = true;
    } else {
      p.kept_sizes.push_back(x.shape()[d]);
      p.kept_strides.push_back(x.strides()[d]);
      p.out_count *= x.shape()[d];
      p.keep_shape.push_back(x.shape()[d]);
      p.out_shape.push_back(x.shape()[d]);
    }
  }
  p.is_prefix = !any_after && leading > 0 && leading < rank && x.is_contiguous();
  return p;
}

// Reduces x into a new contiguous tensor of dtype R:
//   acc = init; for each reduced element v (row-major order): acc = combine(acc, v);
//   out = finish(acc)
// Acc may be wider than T (double sums of float32); combine must also accept
// (Acc, Acc) to join per-block partial results.
template <typename R, typename T, typename Acc, typename Combine, typename Finish>
Tensor reduce(std::string_view op, const Tensor& x, const ReducePlan& p, Acc init, Combine combine, Finish finish) {
  Tensor out = Tensor::make(p.out_shape, dtype_of<R>(), op);
  R* y = out.data<R>();
  const T* base = x.data<T>();
  if (p.out_count == 0) return out;

  if (p.is_prefix) {
    int64_t inner = p.out_count, rows = p.reduced_count;
    int64_t grain = std::max<int64_t>(64, kParallelGrain / std::max<int64_t>(rows, 1));
    parallel_for(0, inner, grain, [&](int64_t lo, int64_t hi) {
      std::vector<Acc> acc(size_t(hi - lo), init);
      for (int64_t r = 0; r < rows; ++r) {
        const T* row = base + r * inner;
        for (int64_t j = lo; j < hi; ++j) acc[size_t(j - lo)] = combine(acc[size_t(j - lo)], row[j]);
      }
      for (int64_t j = lo; j < hi; ++j) y[j] = finish(acc[size_t(j - lo)]);
    });
    return out;
  }

  if (p.out_count == 1 && x.is_contiguous()) {
    constexpr int64_t kBlock = 65536;
    int64_t n = p.reduced_count, blocks = (n + kBlock - 1) / kBlock;
    std::vector<Acc> partial(size_t(std::max<int64_t>(blocks, 1)), init);
    parallel_for(0, blocks, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t b = lo; b < hi; ++b) {
        Acc acc = init;
        for (int64_t i = b * kBlock, end = std::min(n, (b + 1) * kBlock); i < end; ++i) acc = combine(acc, base[i]);
        partial[size_t(b)] = acc;
      }
    });
    Acc total = init;
    for (int64_t b = 0; b < blocks; ++b) total = combine(total, partial[size_t(b)]);
    y[0] = finish(total);
    return out;
  }

  // general: odometer over the reduced dims for each output element
  int kr = p.kept_sizes.size(), rr = p.reduced_sizes.size();
  int64_t grain = std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(p.reduced_count, 1));
  parallel_for(0, p.out_count, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; ++o) {
      int64_t offset = 0, rest = o;
      for (int d = kr - 1; d >= 0; --d) {
        offset += (rest % p.kept_sizes[d]) * p.kept_strides[d];
        rest /= p.kept_sizes[d];
      }
      Acc acc = init;
      if (rr == 0) {
        acc = combine(acc, base[offset]);
      } else if (p.reduced_count > 0) {
        int64_t index[Shape::kMaxDims] = {};
        int64_t inner_n = p.reduced_sizes[rr - 1], inner_s = p.reduced_strides[rr - 1];
        int64_t runs = p.reduced_count / inner_n;
        int64_t off = offset;
        for (int64_t r = 0; r < runs; ++r) {
          const T* row = base + off;
          for (int64_t i = 0; i < inner_n; ++i) acc = combine(acc, row[i * inner_s]);
          for (int d = rr - 2; d >= 0; --d) {
            off += p.reduced_strides[d];
            if (++index[d] < p.reduced_sizes[d]) break;
            off -= p.reduced_sizes[d] * p.reduced_strides[d];
            index[d] = 0;
          }
        }
      }
      y[o] = finish(acc);
    }
  });
  return out;
}

}  // namespace nl::kernels
