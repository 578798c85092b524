#pragma once
// Shape: a small inline array of dimension sizes (or strides), rank <= 8, so
// a tensor's shape and strides never touch the heap.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "core/error.h"

namespace nl {

class Shape {
 public:
  static constexpr int kMaxDims = 8;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(const std::vector<int64_t>& dims) { assign(dims.begin(), dims.end()); }
  static Shape filled(int n, int64_t value) {
    Shape s;
    s.resize(n, value);
    return s;
  }

  int size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t& operator[](int i) { return d_[i]; }
  int64_t operator[](int i) const { return d_[i]; }
  int64_t* begin() { return d_; }
  int64_t* end() { return d_ + n_; }
  const int64_t* begin() const { return d_; }
  const int64_t* end() const { return d_ + n_; }
  int64_t back() const { return d_[n_ - 1]; }

  void push_back(int64_t v) {
    if (n_ == kMaxDims) fail("shape: at most {} dimensions are supported", kMaxDims);
    d_[n_++] = v;
  }
  void insert(int pos, int64_t v) {
    push_back(0);
    for (int i = n_ - 1; i > pos; --i) d_[i] = d_[i - 1];
    d_[pos] = v;
  }
  void erase(int pos) {
    for (int i = pos; i + 1 < n_; ++i) d_[i] = d_[i + 1];
    --n_;
  }
  void resize(int n, int64_t value = 0) {
    if (n > kMaxDims) fail("shape: at most {} dimensions are supported, got {}", kMaxDims, n);
    for (int i = n_; i < n; ++i) d_[i] = value;
    n_ = n;
  }
  std::vector<int64_t> vec() const { return {begin(), end()}; }

  friend bool operator==(const Shape& a, const Shape& b) {
    return a.n_ == b.n_ && std::equal(a.begin(), a.end(), b.begin());
  }

 private:
  template <typename It>
  void assign(It first, It last) {
    n_ = 0;
    for (; first != last; ++first) push_back(*first);
  }
  int64_t d_[kMaxDims] = {};
  int n_ = 0;
};

// "[32,784]" — the form every error message uses.
std::string to_string(const Shape& s);

// Product of the sizes; throws if it would overflow or exceed the largest
// tensor normlab will allocate (no input may cause an unbounded allocation),
// 2^40 elements. An empty shape's nonzero dims are held to the same limit:
// they make its strides.
int64_t checked_numel(std::string_view op, const Shape& s);
inline int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// Row-major strides for a shape.
Shape contiguous_strides(const Shape& s);

// Maps a possibly negative dim into [0, rank); throws naming op otherwise.
int normalize_dim(std::string_view op, int64_t dim, int rank);

// NumPy/PyTorch broadcasting of two shapes; throws naming op and both shapes.
Shape broadcast_shapes(std::string_view op, const Shape& a, const Shape& b);

// Whether `from` broadcasts to exactly `to` (no more dims; each trailing dim
// equal or 1), as an attention mask must to the scores.
bool broadcasts_to(const Shape& from, const Shape& to);

}  // namespace nl

template <>
struct fmt::formatter<nl::Shape> : fmt::formatter<std::string_view> {
  auto format(const nl::Shape& s, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(nl::to_string(s), ctx);
  }
};
