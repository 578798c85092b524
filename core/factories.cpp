// Tensor factories: constant fills, ranges, identity, random draws, copies from vectors.
#include <cmath>
#include <numbers>

#include "core/kernels/elementwise.h"
#include "core/random.h"
#include "core/tensor.h"

namespace nl {

Tensor empty(const Shape& shape, DType dtype) { return Tensor::make(shape, dtype, "empty"); }

Tensor full(const Shape& shape, double value, DType dtype) {
  Tensor t = Tensor::make(shape, dtype, "full");
  t.fill_(value);
  return t;
}
Tensor zeros(const Shape& shape, DType dtype) { return full(shape, 0.0, dtype); }
Tensor ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype()); }
Tensor scalar_tensor(double value, DType dtype) { return full(Shape{}, value, dtype); }

Tensor arange(double start, double end, double step, DType dtype) {
  if (step == 0 || !std::isfinite(start) || !std::isfinite(end) || !std::isfinite(step))
    fail("arange: expected finite start, end and a non-zero step, got ({}, {}, {})", start, end, step);
  double count = std::ceil((end - start) / step);
  if (count > double(int64_t(1) << 40)) fail("arange: ({}, {}, {}) has too many elements", start, end, step);
  int64_t n = std::max<int64_t>(0, int64_t(count));
  Tensor t = Tensor::make(Shape{n}, dtype, "arange");
  dispatch_all(dtype, [&]<typename T>() {
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + double(i) * step);
  });
  return t;
}
Tensor arange(int64_t end, DType dtype) { return arange(0.0, double(end), 1.0, dtype); }

Tensor eye(int64_t n, int64_t m, DType dtype) {
  Tensor t = zeros(Shape{n, m}, dtype);
  dispatch_all(dtype, [&]<typename T>() {
    T* p = t.data<T>();
    for (int64_t i = 0; i < std::min(n, m); ++i) p[i * m + i] = T(1);
  });
  return t;
}
Tensor eye(int64_t n, DType dtype) { return eye(n, n, dtype); }

Tensor rand(const Shape& shape, DType dtype, double low, double high) {
  if (!(low < high)) fail("rand: expected low < high, got [{}, {})", low, high);
  Tensor t = Tensor::make(shape, dtype, "rand");
  Generator& gen = default_generator();
  uint64_t first = gen.take(uint64_t(t.numel()));
  dispatch_floating("rand", dtype, [&]<typename T>() {
    T* p = t.data<T>();
    parallel_for(0, t.numel(), kParallelGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        T v = static_cast<T>(low + (high - low) * gen.uniform(first + uint64_t(i)));
        p[i] = v < static_cast<T>(high) ? v : std::nextafter(static_cast<T>(high), static_cast<T>(low));
      }
    });
  });
  return t;
}

Tensor randn(const Shape& shape, DType dtype) {
  Tensor t = Tensor::make(shape, dtype, "randn");
  Generator& gen = default_generator();
  uint64_t first = gen.take(2 * uint64_t(t.numel()));
  dispatch_floating("randn", dtype, [&]<typename T>() {
    T* p = t.data<T>();
    parallel_for(0, t.numel(), kParallelGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        // Box-Muller: r = sqrt(-2 ln(1 - u1)), z = r cos(2π u2); 1 - u1 is in (0, 1]
        double u1 = gen.uniform(first + 2 * uint64_t(i)), u2 = gen.uniform(first + 2 * uint64_t(i) + 1);
        p[i] = static_cast<T>(std::sqrt(-2.0 * std::log1p(-u1)) * std::cos(2.0 * std::numbers::pi * u2));
      }
    });
  });
  return t;
}

template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape) {
  int64_t n = checked_numel("from_vector", shape);
  if (n != int64_t(values.size()))
    fail("from_vector: {} values do not fill shape {} ({} elements)", values.size(), shape, n);
  Tensor t = Tensor::make(shape, dtype_of<T>(), "from_vector");
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&);

}  // namespace nl
