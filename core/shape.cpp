#include "core/shape.h"

#include <algorithm>
#include <limits>

namespace nl {

std::string to_string(const Shape& s) { return fmt::format("[{}]", fmt::join(s, ",")); }

int64_t checked_numel(std::string_view op, const Shape& s) {
  // 2^40 elements (4 TiB of float32) is far past any machine normlab runs on;
  // anything bigger is a corrupted or mistaken shape, not a request to honour.
  // An empty shape (a dim of 0) has no elements, but its other dims still
  // multiply into its strides (contiguous_strides counts a 0 as 1) and into
  // the kernels' loop bounds, so they are held to the same limit: (0, 2^40,
  // 2^40) would make a stride of 2^80.
  constexpr int64_t kMaxElements = int64_t(1) << 40;
  bool empty = false;
  for (int64_t d : s) {
    if (d < 0) fail("{}: negative dimension in shape {}", op, s);
    empty = empty || d == 0;
  }
  int64_t n = 1;
  for (int64_t d : s) {
    d = std::max<int64_t>(d, 1);
    if (n > kMaxElements / d) {
      if (empty) fail("{}: shape {} is too large: its nonzero dims multiply to more than 2^40", op, s);
      fail("{}: shape {} has too many elements (limit 2^40)", op, s);
    }
    n *= d;
  }
  return empty ? 0 : n;
}

Shape contiguous_strides(const Shape& s) {
  Shape strides = Shape::filled(s.size(), 1);
  for (int i = s.size() - 2; i >= 0; --i) strides[i] = strides[i + 1] * std::max<int64_t>(s[i + 1], 1);
  return strides;
}

int normalize_dim(std::string_view op, int64_t dim, int rank) {
  int64_t lo = -std::max(rank, 1), hi = std::max(rank, 1) - 1;
  if (dim < lo || dim > hi)
    fail("{}: dim {} out of range for a tensor of rank {} (expected {}..{})", op, dim, rank, lo, hi);
  return int(dim < 0 ? dim + std::max(rank, 1) : dim);
}

Shape broadcast_shapes(std::string_view op, const Shape& a, const Shape& b) {
  int n = std::max(a.size(), b.size());
  Shape out = Shape::filled(n, 1);
  for (int i = 0; i < n; ++i) {
    int ia = a.size() - n + i, ib = b.size() - n + i;
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1)
      fail("{}: shapes {} and {} cannot be broadcast (dim {}: {} vs {})", op, a, b, i, da, db);
    out[i] = da == 1 ? db : da;
  }
  return out;
}

bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  for (int i = 1; i <= from.size(); ++i)
    if (from[from.size() - i] != 1 && from[from.size() - i] != to[to.size() - i]) return false;
  return true;
}

}  // namespace nl
