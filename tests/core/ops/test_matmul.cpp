// matmul (core/ops/matmul.cpp): 1-D/2-D/batched/broadcast products against
// hand-computed values and a naive triple loop (float32 and float64,
// transposed and sliced views), float64 gradchecks, and every error path.
#include <array>
#include <catch2/catch.hpp>

#include "normlab.h"
#include "reduce_test_helpers.h"

using nl::f32;
using nl::f64;
using nl::i64;
using nl::Shape;
using nl::Tensor;
using nltest::check_values;
using nltest::Ts;

namespace {

Tensor rn(const Shape& shape, nl::DType dtype, uint64_t seed) {
  nl::manual_seed(seed);
  return nl::randn(shape, dtype);
}

template <typename T>
constexpr nl::DType dt() {
  return nl::dtype_of<T>();
}

// matmul(a, b) against the naive loop: same shape, dtype and values.
void check_naive(const Tensor& a, const Tensor& b) {
  INFO("a " << nl::to_string(a.shape()) << " strides " << nl::to_string(a.strides()) << ", b "
            << nl::to_string(b.shape()) << " strides " << nl::to_string(b.strides()));
  Shape expect_shape;
  std::vector<double> expect = nltest::naive_matmul(a, b, &expect_shape);
  Tensor y = nl::matmul(a, b);
  CHECK(y.shape() == expect_shape);
  CHECK(y.dtype() == a.dtype());
  if (a.dtype() == f32)
    check_values(y, expect, 1e-4, 1e-4);
  else
    check_values(y, expect, 1e-11, 1e-11);
}

Tensor f64v(std::vector<double> v, const Shape& shape) { return nl::from_vector(v, shape); }

}  // namespace

// ---- forward values by hand -----------------------------------------------------------

TEST_CASE("matmul 1-D · 1-D is a 0-D dot product", "[ops][matmul]") {
  Tensor y = nl::matmul(f64v({1, 2, 3}, {3}), f64v({4, 5, 6}, {3}));
  CHECK(y.shape() == Shape{});
  CHECK(y.item<double>() == 32.0);
  Tensor yf = nl::matmul(nl::from_vector(std::vector<float>{1, 2, 3}), nl::from_vector(std::vector<float>{4, 5, 6}));
  CHECK(yf.dtype() == f32);
  CHECK(yf.item<float>() == 32.0f);
}

TEST_CASE("matmul 1-D · 2-D treats the vector as a row", "[ops][matmul]") {
  Tensor y = nl::matmul(f64v({1, 2}, {2}), f64v({1, 2, 3, 4, 5, 6}, {2, 3}));
  CHECK(y.shape() == Shape{3});
  check_values(y, {9, 12, 15});
}

TEST_CASE("matmul 2-D · 1-D treats the vector as a column", "[ops][matmul]") {
  Tensor y = nl::matmul(f64v({1, 2, 3, 4, 5, 6}, {2, 3}), f64v({1, 0, -1}, {3}));
  CHECK(y.shape() == Shape{2});
  check_values(y, {-2, -2});
}

TEST_CASE("matmul 2-D · 2-D by hand, and the method form", "[ops][matmul]") {
  Tensor a = f64v({1, 2, 3, 4, 5, 6}, {2, 3}), b = f64v({7, 8, 9, 10, 11, 12}, {3, 2});
  Tensor y = nl::matmul(a, b);
  CHECK(y.shape() == Shape{2, 2});
  CHECK(y.is_contiguous());
  check_values(y, {58, 64, 139, 154});
  check_values(a.matmul(b), {58, 64, 139, 154});
  check_values(nl::matmul(b, a), {39, 54, 69, 49, 68, 87, 59, 82, 105});
  check_values(nl::matmul(a.to(f32), b.to(f32)), {58, 64, 139, 154});
}

TEST_CASE("matmul batched 3-D by hand", "[ops][matmul]") {
  // batch 0: identity · B0 = B0; batch 1: 2·identity · B1 = 2·B1
  Tensor a = f64v({1, 0, 0, 1, 2, 0, 0, 2}, {2, 2, 2});
  Tensor b = f64v({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2});
  Tensor y = nl::matmul(a, b);
  CHECK(y.shape() == Shape{2, 2, 2});
  check_values(y, {1, 2, 3, 4, 10, 12, 14, 16});
}

// ---- against the naive loop ----------------------------------------------------------

TEMPLATE_TEST_CASE("matmul 2-D · 2-D matches a naive loop over many shapes", "[ops][matmul][naive]", float, double) {
  const std::vector<std::array<int64_t, 3>> shapes = {{1, 1, 1}, {1, 5, 1}, {4, 1, 3},    {7, 5, 3},
                                                      {3, 8, 1}, {1, 8, 6}, {64, 33, 17}, {128, 96, 80}};
  uint64_t seed = 1;
  for (auto [m, k, n] : shapes) {
    check_naive(rn({m, k}, dt<TestType>(), seed), rn({k, n}, dt<TestType>(), seed + 100));
    ++seed;
  }
}

TEMPLATE_TEST_CASE("matmul with 1-D operands matches a naive loop", "[ops][matmul][naive]", float, double) {
  auto d = dt<TestType>();
  check_naive(rn({5}, d, 1), rn({5}, d, 2));
  check_naive(rn({5}, d, 3), rn({5, 3}, d, 4));
  check_naive(rn({4, 5}, d, 5), rn({5}, d, 6));
  check_naive(rn({5}, d, 7), rn({2, 5, 3}, d, 8));
  check_naive(rn({2, 3, 5}, d, 9), rn({5}, d, 10));
  check_naive(rn({2, 2, 3, 5}, d, 11), rn({5}, d, 12));
}

TEMPLATE_TEST_CASE("matmul batched 3-D matches a naive loop", "[ops][matmul][naive]", float, double) {
  auto d = dt<TestType>();
  check_naive(rn({4, 3, 5}, d, 1), rn({4, 5, 2}, d, 2));
  check_naive(rn({16, 8, 8}, d, 3), rn({16, 8, 8}, d, 4));    // many small: one thread each
  check_naive(rn({3, 70, 60}, d, 5), rn({3, 60, 70}, d, 6));  // big: one at a time
  check_naive(rn({1, 3, 5}, d, 7), rn({6, 5, 2}, d, 8));
  check_naive(rn({6, 3, 5}, d, 9), rn({1, 5, 2}, d, 10));
}

TEMPLATE_TEST_CASE("matmul broadcasts batch dims", "[ops][matmul][naive]", float, double) {
  auto d = dt<TestType>();
  Tensor y = nl::matmul(rn({2, 1, 3, 4}, d, 1), rn({5, 4, 2}, d, 2));
  CHECK(y.shape() == Shape{2, 5, 3, 2});
  check_naive(rn({2, 1, 3, 4}, d, 1), rn({5, 4, 2}, d, 2));
  check_naive(rn({3, 1, 2, 4}, d, 3), rn({1, 4, 4, 3}, d, 4));
  check_naive(rn({1, 2, 3}, d, 5), rn({2, 2, 3, 2}, d, 6));
}

TEMPLATE_TEST_CASE("matmul N-D · 2-D and 2-D · N-D", "[ops][matmul][naive]", float, double) {
  auto d = dt<TestType>();
  CHECK(nl::matmul(rn({2, 3, 4, 5}, d, 1), rn({5, 6}, d, 2)).shape() == Shape{2, 3, 4, 6});
  check_naive(rn({2, 3, 4, 5}, d, 1), rn({5, 6}, d, 2));
  check_naive(rn({3, 4}, d, 3), rn({2, 4, 5}, d, 4));
  check_naive(rn({3, 4}, d, 5), rn({2, 2, 4, 5}, d, 6));
  check_naive(rn({7, 9, 5}, d, 7), rn({5, 1}, d, 8));
}

TEMPLATE_TEST_CASE("matmul of transposed views matches a naive loop", "[ops][matmul][naive][views]", float, double) {
  auto d = dt<TestType>();
  Tensor a = rn({5, 4}, d, 1), b = rn({3, 5}, d, 2);
  REQUIRE_FALSE(a.t().is_contiguous());
  check_naive(a.t(), rn({5, 3}, d, 3));                  // [4,5]ᵀ-view · [5,3]
  check_naive(rn({2, 3}, d, 4), rn({5, 3}, d, 17).t());  // [2,3] · [5,3]ᵀ-view
  check_naive(a.t(), b.t());                             // both transposed
  check_naive(b.t(), rn({4, 3}, d, 18).t());             // [5,3] · [3,4], both views
  Tensor ba = rn({3, 5, 4}, d, 5), bb = rn({3, 6, 5}, d, 6);
  check_naive(ba.transpose(-1, -2), rn({3, 5, 6}, d, 7));  // batched, transposed a
  check_naive(rn({3, 4, 5}, d, 8), bb.transpose(-1, -2));  // batched, transposed b
  check_naive(ba.transpose(-1, -2), bb.transpose(-1, -2));
  check_naive(rn({4, 3, 2, 5}, d, 9).transpose(0, 1), rn({5, 2}, d, 10));  // permuted batch dims
  check_naive(rn({2, 5, 4}, d, 11).permute({2, 0, 1}), rn({3, 5, 4}, d, 12).permute({2, 1, 0}));
  check_naive(rn({7, 1}, d, 13).t(), rn({7, 1}, d, 14));   // row vector via transpose
  check_naive(rn({1, 6}, d, 15).t(), rn({1, 3}, d, 16));   // column vector via transpose
  Tensor tall = rn({5, 4}, d, 19).t();                     // [4,5], strides [1,4]
  check_naive(tall.slice(0, 1, 2), rn({5, 2}, d, 20));     // [1,5] row with strides [1,4]
  check_naive(tall.slice(1, 2, 3), rn({1, 3}, d, 21));     // [4,1] column with strides [1,4]
  check_naive(rn({3, 4}, d, 22), tall.slice(1, 0, 5, 2));  // [4,3] with strides [1,8]
}

TEMPLATE_TEST_CASE("matmul of sliced, selected and expanded views", "[ops][matmul][naive][views]", float, double) {
  auto d = dt<TestType>();
  Tensor big = rn({8, 10}, d, 1);
  check_naive(big.slice(1, 2, 7), rn({5, 3}, d, 2));        // row stride 10 > 5 columns
  check_naive(big.slice(1, 0, 10, 2), rn({5, 3}, d, 3));    // column stride 2: copied
  check_naive(big.slice(0, 0, 8, 2), rn({10, 2}, d, 4));    // every other row
  check_naive(rn({4, 8}, d, 5), big.slice(1, 3, 9));        // sliced b
  check_naive(big.slice(1, 2, 7).t(), big.slice(1, 1, 4));  // transposed slice · slice
  check_naive(big.slice(1, 4, 5), rn({1, 6}, d, 6));        // [8,1] column slice
  Tensor cube = rn({3, 6, 5}, d, 7);
  check_naive(cube.select(1, 2), rn({5, 4}, d, 8));  // [3,5] with strides [30,1]
  check_naive(cube.select(2, 0), rn({6, 2}, d, 9));  // [3,6] with strides [30,5]
  check_naive(cube.slice(0, 0, 3, 2).slice(2, 1, 4), rn({3, 2}, d, 10));
  check_naive(rn({1, 4}, d, 11).expand({5, 4}), rn({4, 3}, d, 12));        // stride-0 rows
  check_naive(rn({2, 4}, d, 13), rn({4, 1}, d, 14).expand({4, 3}));        // stride-0 columns
  check_naive(rn({3, 4}, d, 15).expand({6, 3, 4}), rn({6, 4, 2}, d, 16));  // stride-0 batch
}

TEST_CASE("matmul with an empty dimension", "[ops][matmul]") {
  Tensor y = nl::matmul(nl::zeros({3, 0}, f64), nl::zeros({0, 4}, f64));
  CHECK(y.shape() == Shape{3, 4});
  check_values(y, std::vector<double>(12, 0.0));
  CHECK(nl::matmul(nl::zeros({0, 3}), nl::ones({3, 2})).shape() == Shape{0, 2});
  CHECK(nl::matmul(nl::ones({2, 3}), nl::ones({3, 0})).shape() == Shape{2, 0});
  CHECK(nl::matmul(nl::zeros({0, 2, 3}), nl::ones({3, 2})).shape() == Shape{0, 2, 2});
  Tensor b = nl::matmul(nl::zeros({2, 3, 0}), nl::zeros({2, 0, 4}));
  CHECK(b.shape() == Shape{2, 3, 4});
  check_values(b, std::vector<double>(24, 0.0));
}

TEST_CASE("matmul N-D · 2-D with an empty inner dim gives zeros", "[ops][matmul]") {
  // regression: the N-D·2-D fold once did a.reshape({-1, k}), which throws for k == 0
  Tensor y = nl::matmul(nl::zeros({2, 3, 0}), nl::zeros({0, 4}));
  CHECK(y.shape() == Shape{2, 3, 4});
  check_values(y, std::vector<double>(24, 0.0));
}

// ---- gradients ------------------------------------------------------------------------

TEST_CASE("matmul gradcheck: 1-D and 2-D operands", "[ops][matmul][grad]") {
  Tensor v = nltest::randn64({4}, 1), w = nltest::randn64({4}, 2);
  Tensor m = nltest::randn64({4, 3}, 3), n = nltest::randn64({2, 4}, 4);
  auto mm = [](const Ts& in) { return nl::matmul(in[0], in[1]); };
  CHECK_GRADCHECK(mm, {v, w});  // 1-D · 1-D
  CHECK_GRADCHECK(mm, {v, m});  // 1-D · 2-D
  CHECK_GRADCHECK(mm, {n, v});  // 2-D · 1-D
  CHECK_GRADCHECK(mm, {n, m});  // 2-D · 2-D
}

TEST_CASE("matmul gradcheck: batched 3-D and broadcast batch dims", "[ops][matmul][grad]") {
  auto mm = [](const Ts& in) { return nl::matmul(in[0], in[1]); };
  CHECK_GRADCHECK(mm, {nltest::randn64({3, 2, 4}, 1), nltest::randn64({3, 4, 2}, 2)});
  CHECK_GRADCHECK(mm, {nltest::randn64({2, 1, 3, 4}, 3), nltest::randn64({5, 4, 2}, 4)});
  CHECK_GRADCHECK(mm, {nltest::randn64({1, 2, 3}, 5), nltest::randn64({4, 3, 2}, 6)});
  CHECK_GRADCHECK(mm, {nltest::randn64({3, 2, 3}, 7), nltest::randn64({1, 3, 2}, 8)});
}

TEST_CASE("matmul gradcheck: N-D · 2-D, 2-D · N-D and vectors with batches", "[ops][matmul][grad]") {
  auto mm = [](const Ts& in) { return nl::matmul(in[0], in[1]); };
  CHECK_GRADCHECK(mm, {nltest::randn64({2, 3, 2, 4}, 1), nltest::randn64({4, 3}, 2)});
  CHECK_GRADCHECK(mm, {nltest::randn64({3, 4}, 3), nltest::randn64({2, 4, 2}, 4)});
  CHECK_GRADCHECK(mm, {nltest::randn64({4}, 5), nltest::randn64({2, 4, 3}, 6)});
  CHECK_GRADCHECK(mm, {nltest::randn64({2, 3, 4}, 7), nltest::randn64({4}, 8)});
}

TEST_CASE("matmul gradcheck: transposed-view inputs", "[ops][matmul][grad][views]") {
  Tensor a = nltest::randn64({4, 3}, 1), b = nltest::randn64({2, 4}, 2);
  Tensor ba = nltest::randn64({2, 4, 3}, 3), bb = nltest::randn64({2, 2, 4}, 4);
  CHECK_GRADCHECK([](const Ts& in) { return nl::matmul(in[0].t(), in[1].t()); }, {a, b});
  CHECK_GRADCHECK([](const Ts& in) { return nl::matmul(in[1], in[0]); }, {a, b});
  CHECK_GRADCHECK([](const Ts& in) { return nl::matmul(in[0].transpose(-1, -2), in[1].transpose(-1, -2)); }, {ba, bb});
  CHECK_GRADCHECK([](const Ts& in) { return nl::matmul(in[0].transpose(0, 1), in[1].t()); }, {ba, a});  // [4,2,3]·[3,4]
}

TEST_CASE("matmul gradcheck: sliced and expanded inputs", "[ops][matmul][grad][views]") {
  Tensor big = nltest::randn64({5, 6}, 1), b = nltest::randn64({3, 2}, 2), row = nltest::randn64({1, 3}, 3);
  CHECK_GRADCHECK([](const Ts& in) { return nl::matmul(in[0].slice(1, 1, 4), in[1]); }, {big, b});
  CHECK_GRADCHECK([](const Ts& in) { return nl::matmul(in[0].slice(1, 0, 6, 2), in[1]); }, {big, b});
  CHECK_GRADCHECK([](const Ts& in) { return nl::matmul(in[0].expand({4, 3}), in[1]); }, {row, b});
  CHECK_GRADCHECK([](const Ts& in) { return nl::matmul(in[1].t(), in[0].slice(0, 0, 3).select(1, 2)); }, {big, b});
}

TEST_CASE("matmul gradcheck with only one input requiring grad", "[ops][matmul][grad]") {
  Tensor a = nltest::randn64({3, 4}, 1);
  Tensor b = nltest::randn64({4, 2}, 2).detach();
  CHECK_FALSE(b.requires_grad());
  CHECK_GRADCHECK([](const Ts& in) { return nl::matmul(in[0], in[1]); }, {a, b});
  CHECK_GRADCHECK([](const Ts& in) { return nl::matmul(in[1].t(), in[0].t()); }, {a, b});
}

TEST_CASE("matmul backward by hand: d/dA sum(A·B) = row sums of B", "[ops][matmul][grad]") {
  Tensor a = f64v({1, 2, 3, 4, 5, 6}, {2, 3}), b = f64v({1, 2, 3, 4, 5, 6}, {3, 2});
  a.requires_grad_(true);
  b.requires_grad_(true);
  nl::sum(nl::matmul(a, b)).backward();
  check_values(a.grad(), {3, 7, 11, 3, 7, 11});  // dA[i,k] = Σ_j B[k,j]
  check_values(b.grad(), {5, 5, 7, 7, 9, 9});    // dB[k,j] = Σ_i A[i,k]
  CHECK(a.grad().shape() == Shape{2, 3});
  // broadcast batch: the gradient of the broadcast operand is summed over the batch
  Tensor w = f64v({1, 2}, {2, 1});
  w.requires_grad_(true);
  Tensor x = nl::ones({4, 3, 2}, f64);
  nl::sum(nl::matmul(x, w)).backward();
  check_values(w.grad(), {12, 12});
}

// ---- errors ---------------------------------------------------------------------------

TEST_CASE("matmul rejects inner dims that do not align, naming both shapes", "[ops][matmul][error]") {
  REQUIRE_THROWS_AS(nl::matmul(nl::zeros({2, 3}), nl::zeros({4, 5})), nl::Error);
  REQUIRE_THROWS_WITH(nl::matmul(nl::zeros({2, 3}), nl::zeros({4, 5})),
                      Catch::Contains("matmul: shapes [2,3] and [4,5] do not align (3 vs 4)"));
  REQUIRE_THROWS_WITH(nl::matmul(nl::zeros({2, 3, 4}), nl::zeros({2, 5, 6})),
                      Catch::Contains("matmul: shapes [2,3,4] and [2,5,6] do not align (4 vs 5)"));
  REQUIRE_THROWS_WITH(nl::matmul(nl::zeros({2, 3, 4}), nl::zeros({3, 4})),
                      Catch::Contains("matmul: shapes [2,3,4] and [3,4] do not align (4 vs 3)"));
}

TEST_CASE("matmul rejects misaligned 1-D operands", "[ops][matmul][error]") {
  REQUIRE_THROWS_WITH(nl::matmul(nl::zeros({3}), nl::zeros({4})),
                      Catch::Contains("matmul: shapes [3] and [4] do not align"));
  REQUIRE_THROWS_WITH(nl::matmul(nl::zeros({3}), nl::zeros({4, 2})),
                      Catch::Contains("matmul: shapes [3] and [4,2] do not align (3 vs 4)"));
  REQUIRE_THROWS_WITH(nl::matmul(nl::zeros({2, 3}), nl::zeros({4})),
                      Catch::Contains("matmul: shapes [2,3] and [4] do not align (3 vs 4)"));
}

TEST_CASE("matmul rejects batch dims that do not broadcast", "[ops][matmul][error]") {
  REQUIRE_THROWS_WITH(nl::matmul(nl::zeros({2, 3, 4}), nl::zeros({3, 4, 5})),
                      Catch::Contains("matmul: shapes [2] and [3] cannot be broadcast"));
}

TEST_CASE("matmul rejects 0-D operands", "[ops][matmul][error]") {
  REQUIRE_THROWS_WITH(nl::matmul(nl::scalar_tensor(2.0), nl::zeros({3})),
                      Catch::Contains("matmul: both arguments need at least 1 dim, got shapes [] and [3]"));
  REQUIRE_THROWS_WITH(nl::matmul(nl::zeros({2, 3}), nl::scalar_tensor(2.0)),
                      Catch::Contains("matmul: both arguments need at least 1 dim, got shapes [2,3] and []"));
}

TEST_CASE("matmul rejects mixed dtypes", "[ops][matmul][error]") {
  REQUIRE_THROWS_WITH(nl::matmul(nl::zeros({2, 3}, f32), nl::zeros({3, 2}, f64)),
                      Catch::Contains("matmul: dtype mismatch, [2,3] float32 and [3,2] float64"));
}

TEST_CASE("matmul rejects int64 operands", "[ops][matmul][error]") {
  Tensor a = nl::arange(4).reshape({2, 2});
  REQUIRE_THROWS_WITH(
      nl::matmul(a, a),
      Catch::Contains("matmul: expected a floating tensor (float32 or float64), got int64 of shape [2,2]"));
}
