// kernels::panel_products from packed panels (core/kernels/packed_panels.h)
// against a plain float64 triple loop, for every tile remainder, and the
// property the LSTM ops' thread splits rest on: a row's values do not depend
// on the tile it is computed in.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <vector>

#include "core/kernels/packed_panels.h"
#include "core/kernels/simd.h"
#include "tests/core/core_test_helpers.h"

namespace {

// Run through a cloned function, as the ops do, so the AVX-512 or AVX2 tile
// code is the one tested.
template <typename T>
NL_SIMD_CLONES void products(const T* a, int64_t rows, const T* packed, int64_t K, int64_t M, T* c) {
  nl::kernels::panel_products(a, K, rows, packed, K, M, 0, nl::kernels::panel_count(M), c, M);
}

// Packed panels for B (K × M) in a tensor, aligned as the ops' packed buffers are.
template <typename T>
nl::Tensor panels_for(int64_t K, int64_t M) {
  return nl::zeros({nl::kernels::panel_count(M) * K * nl::kernels::kPanelWidth}, nl::dtype_of<T>());
}

// Each value within 4 ulp of the size of its terms (4·eps·Σ_k |a_k·b_k|) of
// the float64 sum: float32 measured at most 0.37 eps of it (K = 37).
template <typename T>
void check_products() {
  const int64_t K = 37, M = 70;  // three panels, the last 6 columns wide
  std::vector<T> b(K * M), a(16 * K);
  for (int64_t i = 0; i < K * M; ++i) b[size_t(i)] = T(std::sin(0.37 * double(i)));
  for (int64_t i = 0; i < 16 * K; ++i) a[size_t(i)] = T(std::cos(0.11 * double(i)));
  nl::Tensor panels = panels_for<T>(K, M);
  T* packed = panels.data<T>();
  nl::kernels::pack_columns(packed, b.data(), K, M);

  for (int64_t rows = 1; rows <= 16; ++rows) {  // every remainder of tiles of 3 and of 4
    INFO("rows " << rows << ", tiles of " << nl::kernels::panel_rows<T>());
    std::vector<T> c(size_t(rows * M), T(-1));
    products(a.data(), rows, packed, K, M, c.data());
    double worst = 0;  // error / (eps · Σ|terms|)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < M; ++j) {
        double exact = 0, size = 0;
        for (int64_t k = 0; k < K; ++k) {
          const double term = double(a[size_t(r * K + k)]) * double(b[size_t(k * M + j)]);
          exact += term;
          size += std::abs(term);
        }
        const double ulps = std::abs(double(c[size_t(r * M + j)]) - exact) / (std::numeric_limits<T>::epsilon() * size);
        worst = std::max(worst, ulps);
      }
    CHECK(worst <= 4);
  }
}

}  // namespace

TEST_CASE("panel_products: equal to a float64 triple loop for every tile remainder", "[kernels][panels]") {
  check_products<float>();
  check_products<double>();
}

TEST_CASE("panel_products: a row's values do not depend on its tile", "[kernels][panels]") {
  const int64_t K = 53, M = 64, rows = 11;
  std::vector<float> b(K * M), a(rows * K);
  for (int64_t i = 0; i < K * M; ++i) b[size_t(i)] = float(std::sin(1.3 * double(i)));
  for (int64_t i = 0; i < rows * K; ++i) a[size_t(i)] = float(std::cos(0.7 * double(i)));
  nl::Tensor panels = panels_for<float>(K, M);
  const float* packed = panels.data<float>();
  nl::kernels::pack_columns(panels.data<float>(), b.data(), K, M);
  std::vector<float> together(static_cast<size_t>(rows * M)), alone(static_cast<size_t>(M));
  products(a.data(), rows, packed, K, M, together.data());
  for (int64_t r = 0; r < rows; ++r) {
    products(a.data() + r * K, 1, packed, K, M, alone.data());
    INFO("row " << r);
    for (int64_t j = 0; j < M; ++j) CHECK(alone[size_t(j)] == together[size_t(r * M + j)]);  // same bits
  }
}

TEST_CASE("pack_transposed: B = Wᵀ packed as pack_columns packs B", "[kernels][panels]") {
  const int64_t M = 45, K = 9;  // W (M × K); two panels, the last 13 wide and zero-padded
  std::vector<double> w(M * K), wt(K * M);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t k = 0; k < K; ++k) wt[size_t(k * M + i)] = w[size_t(i * K + k)] = double(i * 100 + k);
  nl::Tensor from_w = panels_for<double>(K, M), from_wt = panels_for<double>(K, M);
  nl::kernels::pack_transposed(from_w.data<double>(), w.data(), M, K);
  nl::kernels::pack_columns(from_wt.data<double>(), wt.data(), K, M);
  CHECK(nl_test::bitwise_equal(from_w, from_wt));
  // panel 1, row k = 2, column c = 5 is W[32 + 5][2]; column 13 onwards is padding
  const double* packed = from_w.data<double>();
  CHECK(packed[(1 * K + 2) * 32 + 5] == double(37 * 100 + 2));
  CHECK(packed[(1 * K + 2) * 32 + 13] == 0.0);
}
