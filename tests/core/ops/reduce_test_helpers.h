#pragma once
// Shared helpers for the reduction, matmul and shape-op tests: readable Catch
// output for shapes/dtypes, value comparison, float64 gradcheck inputs and a
// naive matmul reference.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "normlab.h"

namespace Catch {
template <>
struct StringMaker<nl::Shape> {
  static std::string convert(const nl::Shape& s) { return nl::to_string(s); }
};
template <>
struct StringMaker<nl::DType> {
  static std::string convert(nl::DType d) { return std::string(nl::dtype_name(d)); }
};
}  // namespace Catch

// Runs nl::gradcheck and reports the worst element on failure.
#define CHECK_GRADCHECK(...)                                    \
  do {                                                          \
    nl::GradcheckResult gc_result = nl::gradcheck(__VA_ARGS__); \
    INFO(gc_result.message);                                    \
    CHECK(gc_result.ok);                                        \
  } while (0)

namespace nltest {

using Fn = nl::GradcheckFn;
using Ts = std::vector<nl::Tensor>;

// Compares all values of t (row-major) with expect, within abs + rel·|expect|.
inline void check_values(const nl::Tensor& t, const std::vector<double>& expect, double abs_tol = 1e-12,
                         double rel_tol = 1e-12) {
  std::vector<double> v = t.to_vector<double>();
  REQUIRE(v.size() == expect.size());
  for (size_t i = 0; i < v.size(); ++i) {
    INFO("element " << i << ": got " << v[i] << ", expected " << expect[i]);
    CHECK(std::abs(v[i] - expect[i]) <= abs_tol + rel_tol * std::abs(expect[i]));
  }
}

// A float64 leaf of standard-normal values that requires grad.
inline nl::Tensor randn64(const nl::Shape& shape, uint64_t seed = 1) {
  nl::manual_seed(seed);
  nl::Tensor t = nl::randn(shape, nl::f64);
  t.requires_grad_(true);
  return t;
}

// A float64 leaf whose values are pairwise at least 0.25 apart (no ties for max,
// even after gradcheck's ±eps perturbation), in a shuffled order.
inline nl::Tensor distinct64(const nl::Shape& shape, uint32_t seed = 7) {
  int64_t n = nl::numel_of(shape);
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = -1.0 + 0.25 * double(i);
  std::mt19937 rng(seed);
  std::shuffle(v.begin(), v.end(), rng);
  nl::Tensor t = nl::from_vector(v, shape);
  t.requires_grad_(true);
  return t;
}

// Row-major index helpers.
inline std::vector<int64_t> unravel(int64_t flat, const nl::Shape& shape) {
  std::vector<int64_t> idx(static_cast<size_t>(shape.size()));
  for (int d = shape.size() - 1; d >= 0; --d) {
    idx[size_t(d)] = flat % shape[d];
    flat /= shape[d];
  }
  return idx;
}

// NumPy-semantics matmul computed with plain loops in double, from the
// values (not the strides) of a and b. Returns the result's values; the shape
// goes to *out_shape.
inline std::vector<double> naive_matmul(const nl::Tensor& a_in, const nl::Tensor& b_in, nl::Shape* out_shape) {
  std::vector<double> av = a_in.to_vector<double>(), bv = b_in.to_vector<double>();
  nl::Shape sa = a_in.shape(), sb = b_in.shape();
  bool a_vec = sa.size() == 1, b_vec = sb.size() == 1;
  if (a_vec) sa.insert(0, 1);
  if (b_vec) sb.push_back(1);
  int ra = sa.size(), rb = sb.size();
  int64_t M = sa[ra - 2], K = sa[ra - 1], N = sb[rb - 1];
  REQUIRE(sb[rb - 2] == K);
  int nb = std::max(ra, rb) - 2;
  nl::Shape batch = nl::Shape::filled(nb, 1);
  for (int i = 0; i < nb; ++i) {
    int ia = ra - 2 - nb + i, ib = rb - 2 - nb + i;
    int64_t da = ia >= 0 ? sa[ia] : 1, db = ib >= 0 ? sb[ib] : 1;
    batch[i] = da == 1 ? db : da;
  }
  int64_t nbatch = nl::numel_of(batch);
  std::vector<double> out(size_t(nbatch * M * N), 0.0);
  for (int64_t bi = 0; bi < nbatch; ++bi) {
    std::vector<int64_t> idx = unravel(bi, batch);
    int64_t oa = 0, ob = 0, stride_a = M * K, stride_b = K * N;
    for (int d = nb - 1; d >= 0; --d) {
      int ia = ra - 2 - nb + d, ib = rb - 2 - nb + d;
      if (ia >= 0) {
        if (sa[ia] != 1) oa += idx[size_t(d)] * stride_a;
        stride_a *= sa[ia];
      }
      if (ib >= 0) {
        if (sb[ib] != 1) ob += idx[size_t(d)] * stride_b;
        stride_b *= sb[ib];
      }
    }
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += av[size_t(oa + i * K + k)] * bv[size_t(ob + k * N + j)];
        out[size_t(bi * M * N + i * N + j)] = acc;
      }
  }
  nl::Shape os = batch;
  if (!a_vec) os.push_back(M);
  if (!b_vec) os.push_back(N);
  *out_shape = os;
  return out;
}

}  // namespace nltest
