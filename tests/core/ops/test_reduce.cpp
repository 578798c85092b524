// Reductions (core/ops/reduce.cpp): sum, mean, var, max, argmax, logsumexp,
// sum_to — forward values by hand, float64 gradchecks (keepdim, negative and
// multiple dims, non-contiguous and broadcast inputs), determinism across
// thread counts, and every error path.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>

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

// [[1,2,3],[4,5,6]]
Tensor m23(nl::DType dtype = f64) {
  return nl::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, Shape{2, 3}).to(dtype);
}

// value(i,j,k) = 12i + 4j + k, shape [2,3,4], float64
Tensor a234() { return nl::arange(0, 24, 1, f64).reshape(Shape{2, 3, 4}); }

}  // namespace

// ---- sum ----------------------------------------------------------------------------

TEST_CASE("sum over all elements gives a 0-D tensor", "[ops][reduce][sum]") {
  Tensor s = nl::sum(m23());
  CHECK(s.shape() == Shape{});
  CHECK(s.dtype() == f64);
  CHECK(s.item<double>() == 21.0);
  CHECK(m23(f32).sum().item<float>() == 21.0f);
  CHECK(nl::sum(m23(), Shape{}, true).shape() == Shape{1, 1});
}

TEST_CASE("sum over a single dim, with and without keepdim", "[ops][reduce][sum]") {
  Tensor x = m23();
  check_values(nl::sum(x, {0}), {5, 7, 9});
  check_values(nl::sum(x, {1}), {6, 15});
  check_values(nl::sum(x, {-1}), {6, 15});
  check_values(nl::sum(x, {-2}), {5, 7, 9});
  CHECK(nl::sum(x, {0}).shape() == Shape{3});
  CHECK(nl::sum(x, {0}, true).shape() == Shape{1, 3});
  CHECK(nl::sum(x, {1}, true).shape() == Shape{2, 1});
  check_values(nl::sum(x, {1}, true), {6, 15});
}

TEST_CASE("sum over multiple and negative dims of a 3-D tensor matches a loop", "[ops][reduce][sum]") {
  Tensor x = a234();
  std::vector<double> expect(3, 0.0);  // over dims 0 and 2
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) expect[size_t(j)] += 12 * i + 4 * j + k;
  check_values(nl::sum(x, {0, 2}), expect);
  check_values(nl::sum(x, {-1, -3}), expect);
  CHECK(nl::sum(x, {0, 2}, true).shape() == Shape{1, 3, 1});
  CHECK(nl::sum(x, {-3, -1}).shape() == Shape{3});
  std::vector<double> e12(2, 0.0);  // over dims 1 and 2
  for (int i = 0; i < 2; ++i)
    for (int r = 0; r < 12; ++r) e12[size_t(i)] += 12 * i + r;
  check_values(nl::sum(x, {1, 2}), e12);
  check_values(nl::sum(x, {0, 1}), {60, 66, 72, 78});  // leading dims of a contiguous tensor
  check_values(nl::sum(x, {1, 0}, true), {60, 66, 72, 78});
  check_values(nl::sum(x, {0, 1, 2}), {276});
}

TEST_CASE("sum of non-contiguous views (transposed, sliced, expanded)", "[ops][reduce][sum]") {
  Tensor x = m23();
  check_values(nl::sum(x.t(), {0}), {6, 15});
  check_values(nl::sum(x.t(), {1}), {5, 7, 9});
  check_values(nl::sum(x.t()), {21});
  check_values(nl::sum(x.slice(1, 0, 3, 2), {1}), {4, 10});  // columns 0 and 2
  Tensor e = nl::from_vector(std::vector<double>{1, 2, 3}).expand(Shape{4, 3});
  check_values(nl::sum(e, {0}), {4, 8, 12});
  check_values(nl::sum(e), {24});
}

TEST_CASE("sum of int64 stays int64 and exact", "[ops][reduce][sum]") {
  Tensor x = nl::from_vector(std::vector<int64_t>{int64_t(1) << 40, 3, -5}, Shape{3});
  Tensor s = nl::sum(x);
  CHECK(s.dtype() == i64);
  CHECK(s.item<int64_t>() == (int64_t(1) << 40) - 2);
}

TEST_CASE("sum over a dim of a 0-D tensor is the value itself", "[ops][reduce][sum]") {
  Tensor s = nl::scalar_tensor(2.5, f64);
  CHECK(nl::sum(s, {0}).item<double>() == 2.5);
  CHECK(nl::sum(s, {-1}).shape() == Shape{});
}

TEST_CASE("big float32 sums agree with a double loop on every reduction path", "[ops][reduce][sum]") {
  nl::manual_seed(11);
  Tensor x = nl::randn({300, 257}, f32);  // > kParallelGrain elements
  std::vector<float> v = x.to_vector<float>();
  std::vector<double> rows(300, 0.0), cols(257, 0.0);
  double all = 0;
  for (int i = 0; i < 300; ++i)
    for (int j = 0; j < 257; ++j) {
      double e = v[size_t(i * 257 + j)];
      rows[size_t(i)] += e;
      cols[size_t(j)] += e;
      all += e;
    }
  check_values(nl::sum(x, {0}), cols, 1e-4, 1e-6);      // prefix path
  check_values(nl::sum(x, {1}), rows, 1e-4, 1e-6);      // general path
  check_values(nl::sum(x.t(), {1}), cols, 1e-4, 1e-6);  // general, strided
  check_values(nl::sum(x), {all}, 1e-3, 1e-6);          // blocked all-path
  CHECK(nl::sum(nl::ones({1 << 20}, f32)).item<float>() == float(1 << 20));
}

TEST_CASE("float32 sum is bitwise identical with 1 and 2 threads", "[ops][reduce][sum][determinism]") {
  int saved = nl::get_num_threads();
  nl::manual_seed(2024);
  Tensor x = nl::randn({1 << 20}, f32);
  Tensor m = x.reshape({1024, 1024});
  nl::set_num_threads(1);
  float s1 = nl::sum(x).item<float>();
  std::vector<float> r1 = nl::sum(m, {1}).to_vector<float>(), c1 = nl::sum(m, {0}).to_vector<float>();
  float mean1 = nl::mean(x).item<float>();
  nl::set_num_threads(2);
  float s2 = nl::sum(x).item<float>();
  std::vector<float> r2 = nl::sum(m, {1}).to_vector<float>(), c2 = nl::sum(m, {0}).to_vector<float>();
  float mean2 = nl::mean(x).item<float>();
  nl::set_num_threads(saved);
  CHECK(std::memcmp(&s1, &s2, sizeof s1) == 0);
  CHECK(std::memcmp(&mean1, &mean2, sizeof mean1) == 0);
  CHECK(std::memcmp(r1.data(), r2.data(), r1.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(c1.data(), c2.data(), c1.size() * sizeof(float)) == 0);
  CHECK(nl::get_num_threads() == saved);
}

TEST_CASE("sum gradcheck: all, single, multiple, negative dims, keepdim", "[ops][reduce][sum][grad]") {
  Tensor x = nltest::randn64({2, 3, 4});
  CHECK_GRADCHECK([](const Ts& in) { return nl::sum(in[0]); }, {x});
  for (bool keep : {false, true}) {
    INFO("keepdim " << keep);
    CHECK_GRADCHECK([keep](const Ts& in) { return nl::sum(in[0], {1}, keep); }, {x});
    CHECK_GRADCHECK([keep](const Ts& in) { return nl::sum(in[0], {0, 2}, keep); }, {x});
    CHECK_GRADCHECK([keep](const Ts& in) { return nl::sum(in[0], {-1}, keep); }, {x});
    CHECK_GRADCHECK([keep](const Ts& in) { return nl::sum(in[0], Shape{}, keep); }, {x});
  }
}

TEST_CASE("sum gradcheck on transposed, sliced and broadcast inputs", "[ops][reduce][sum][grad]") {
  Tensor x = nltest::randn64({3, 4}), b = nltest::randn64({4}, 3);
  CHECK_GRADCHECK([](const Ts& in) { return nl::sum(in[0].t(), {1}); }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return nl::sum(in[0].slice(1, 0, 4, 2), {0}, true); }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return nl::sum(in[0].expand({5, 4}), {0}); }, {b});
  CHECK_GRADCHECK([](const Ts& in) { return nl::sum(in[0] * in[1], {-1}); }, {x, b});
}

TEST_CASE("sum backward spreads the gradient over the reduced dims", "[ops][reduce][sum][grad]") {
  Tensor x = nltest::randn64({2, 3});
  Tensor y = nl::sum(x, {1});
  y.backward(nl::from_vector(std::vector<double>{2, -1}));
  check_values(x.grad(), {2, 2, 2, -1, -1, -1});
}

// ---- mean ---------------------------------------------------------------------------

TEST_CASE("mean by hand over all, single, multiple dims and keepdim", "[ops][reduce][mean]") {
  Tensor x = m23();
  check_values(nl::mean(x), {3.5});
  check_values(nl::mean(x, {0}), {2.5, 3.5, 4.5});
  check_values(nl::mean(x, {-1}, true), {2, 5});
  CHECK(nl::mean(x, {-1}, true).shape() == Shape{2, 1});
  check_values(nl::mean(a234(), {0, 2}), {(60.0) / 8, 92.0 / 8, 124.0 / 8});
  CHECK(nl::mean(m23(f32)).dtype() == f32);
  CHECK(nl::mean(m23(f32)).item<float>() == 3.5f);
  check_values(nl::mean(x.t(), {1}), {2.5, 3.5, 4.5});
}

TEST_CASE("mean gradcheck: dims, keepdim, non-contiguous and broadcast", "[ops][reduce][mean][grad]") {
  Tensor x = nltest::randn64({2, 3, 4}), b = nltest::randn64({3, 1}, 5);
  CHECK_GRADCHECK([](const Ts& in) { return nl::mean(in[0]); }, {x});
  for (bool keep : {false, true}) {
    CHECK_GRADCHECK([keep](const Ts& in) { return nl::mean(in[0], {-2}, keep); }, {x});
    CHECK_GRADCHECK([keep](const Ts& in) { return nl::mean(in[0], {2, 0}, keep); }, {x});
  }
  CHECK_GRADCHECK([](const Ts& in) { return nl::mean(in[0].transpose(0, 2), {0}); }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return nl::mean(in[0].expand({2, 3, 4}), {1}); }, {b});
}

// ---- var ----------------------------------------------------------------------------

TEST_CASE("var unbiased divides by n-1, biased by n (by hand)", "[ops][reduce][var]") {
  // [1,2,3,4]: mean 2.5, squared deviations sum to 5
  Tensor v = nl::from_vector(std::vector<double>{1, 2, 3, 4});
  check_values(nl::var(v, {0}), {5.0 / 3.0});
  check_values(nl::var(v, {0}, false), {5.0 / 4.0});
  check_values(nl::var(v, Shape{}), {5.0 / 3.0});
  // rows [1,2,3,4] and [2,4,6,8] (mean 5, squared deviations 20)
  Tensor x = nl::from_vector(std::vector<double>{1, 2, 3, 4, 2, 4, 6, 8}, Shape{2, 4});
  check_values(nl::var(x, {1}), {5.0 / 3.0, 20.0 / 3.0});
  check_values(nl::var(x, {-1}, false), {1.25, 5.0});
  // columns (a, b): squared deviations (a-b)^2/2, over n-1 = 1 or n = 2
  check_values(nl::var(x, {0}), {0.5, 2.0, 4.5, 8.0});
  check_values(nl::var(x, {0}, false), {0.25, 1.0, 2.25, 4.0});
  check_values(x.var({0}, false), {0.25, 1.0, 2.25, 4.0});
}

TEST_CASE("var over multiple dims and with keepdim matches a loop", "[ops][reduce][var]") {
  Tensor x = a234();
  for (bool unbiased : {true, false}) {
    std::vector<double> expect;
    for (int j = 0; j < 3; ++j) {  // dims {0, 2}: 8 elements per j
      double m = 0, ss = 0;
      for (int i = 0; i < 2; ++i)
        for (int k = 0; k < 4; ++k) m += (12 * i + 4 * j + k) / 8.0;
      for (int i = 0; i < 2; ++i)
        for (int k = 0; k < 4; ++k) ss += std::pow(12 * i + 4 * j + k - m, 2);
      expect.push_back(ss / (unbiased ? 7.0 : 8.0));
    }
    check_values(nl::var(x, {0, 2}, unbiased), expect, 1e-12, 1e-12);
    check_values(nl::var(x, {-3, -1}, unbiased, true), expect, 1e-12, 1e-12);
    CHECK(nl::var(x, {0, 2}, unbiased, true).shape() == Shape{1, 3, 1});
  }
  Tensor f = m23(f32);
  CHECK(nl::var(f, {1}).dtype() == f32);
  check_values(nl::var(f, {1}), {1.0, 1.0}, 1e-6);
}

TEST_CASE("var gradcheck: unbiased/biased, keepdim, multiple dims", "[ops][reduce][var][grad]") {
  Tensor x = nltest::randn64({3, 2, 4});
  for (bool unbiased : {true, false})
    for (bool keep : {false, true}) {
      INFO("unbiased " << unbiased << " keepdim " << keep);
      CHECK_GRADCHECK([=](const Ts& in) { return nl::var(in[0], {-1}, unbiased, keep); }, {x});
      CHECK_GRADCHECK([=](const Ts& in) { return nl::var(in[0], {0, 2}, unbiased, keep); }, {x});
      CHECK_GRADCHECK([=](const Ts& in) { return nl::var(in[0], Shape{}, unbiased, keep); }, {x});
    }
}

TEST_CASE("var gradcheck on transposed, sliced and broadcast inputs", "[ops][reduce][var][grad]") {
  Tensor x = nltest::randn64({4, 5}), r = nltest::randn64({1, 5}, 9);
  CHECK_GRADCHECK([](const Ts& in) { return nl::var(in[0].t(), {1}); }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return nl::var(in[0].slice(1, 1, 5, 2), {0}, false, true); }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return nl::var(in[0] * in[1], {0}); }, {x, r});
}

// ---- max ----------------------------------------------------------------------------

TEST_CASE("max over all, dims and keepdim by hand", "[ops][reduce][max]") {
  Tensor x = nl::from_vector(std::vector<double>{3, -1, 7, 2, 9, -4}, Shape{2, 3});
  check_values(nl::max(x), {9});
  CHECK(nl::max(x).shape() == Shape{});
  check_values(nl::max(x, {0}), {3, 9, 7});
  check_values(nl::max(x, {1}), {7, 9});
  check_values(nl::max(x, {-1}, true), {7, 9});
  CHECK(nl::max(x, {-1}, true).shape() == Shape{2, 1});
  check_values(nl::max(x.t(), {1}), {3, 9, 7});
  check_values(nl::max(a234(), {0, 2}), {15, 19, 23});
  check_values(nl::from_vector(std::vector<float>{-5, -3, -7}).max(), {-3});
  CHECK(nl::from_vector(std::vector<int64_t>{-5, 4, 2}).max().item<int64_t>() == 4);
}

TEST_CASE("max gradcheck (no ties): all, dims, keepdim, non-contiguous", "[ops][reduce][max][grad]") {
  Tensor x = nltest::distinct64({3, 4, 2});
  CHECK_GRADCHECK([](const Ts& in) { return nl::max(in[0]); }, {x});
  for (bool keep : {false, true}) {
    CHECK_GRADCHECK([keep](const Ts& in) { return nl::max(in[0], {1}, keep); }, {x});
    CHECK_GRADCHECK([keep](const Ts& in) { return nl::max(in[0], {0, -1}, keep); }, {x});
  }
  CHECK_GRADCHECK([](const Ts& in) { return nl::max(in[0].transpose(0, 1), {1}); }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return nl::max(in[0].slice(1, 1, 4, 2), {1}); }, {x});
}

TEST_CASE("max backward splits the gradient evenly among ties", "[ops][reduce][max][grad]") {
  Tensor x = nl::from_vector(std::vector<double>{1, 3, 3, 2});
  x.requires_grad_(true);
  nl::max(x).backward();
  check_values(x.grad(), {0, 0.5, 0.5, 0});
}

TEST_CASE("max of an all -inf tensor is -inf", "[ops][reduce][max]") {
  // regression: the accumulator once started at numeric_limits<T>::lowest(), not -inf
  const float ninf = -std::numeric_limits<float>::infinity();
  Tensor x = nl::from_vector(std::vector<float>{ninf, ninf});
  CHECK(nl::max(x).item<float>() == ninf);
  Tensor y = nl::full({2, 2}, -std::numeric_limits<double>::infinity(), f64);
  CHECK(nl::max(y, {1}).to_vector<double>()[0] == -std::numeric_limits<double>::infinity());
}

TEST_CASE("max and argmax propagate NaN (the first NaN wins)", "[ops][reduce][max][argmax]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = nl::from_vector(std::vector<double>{1, nan, 3, nan}, Shape{2, 2});
  CHECK(std::isnan(nl::max(x).item<double>()));
  std::vector<double> rows = nl::max(x, {1}).to_vector<double>();
  CHECK(std::isnan(rows[0]));
  CHECK(std::isnan(rows[1]));
  CHECK(nl::argmax(x).item<int64_t>() == 1);
  CHECK(nl::argmax(x, 0).to_vector<int64_t>() == std::vector<int64_t>{1, 0});
}

// ---- argmax -------------------------------------------------------------------------

TEST_CASE("argmax returns the first index of the max, as int64", "[ops][reduce][argmax]") {
  Tensor v = nl::from_vector(std::vector<double>{1, 3, 3, 2});
  Tensor a = nl::argmax(v);
  CHECK(a.dtype() == i64);
  CHECK(a.shape() == Shape{});
  CHECK(a.item<int64_t>() == 1);
  // over all elements of a 2-D tensor: the flat index
  Tensor x = nl::from_vector(std::vector<float>{0, 5, 1, 5, 2, 3}, Shape{2, 3});
  CHECK(x.argmax().item<int64_t>() == 1);
  Tensor y = nl::from_vector(std::vector<float>{0, 1, 2, 7, 3, 4}, Shape{2, 3});
  CHECK(y.argmax().item<int64_t>() == 3);
  CHECK(nl::argmax(y.t()).item<int64_t>() == 1);  // y.t() = [[0,7],[1,3],[2,4]]
}

TEST_CASE("argmax along a dim, negative dims, keepdim shapes", "[ops][reduce][argmax]") {
  Tensor x = nl::from_vector(std::vector<double>{0, 7, 7, 4, 2, 9, 1, 9}, Shape{2, 4});
  Tensor r = nl::argmax(x, 1);
  CHECK(r.shape() == Shape{2});
  CHECK(r.to_vector<int64_t>() == std::vector<int64_t>{1, 1});
  CHECK(nl::argmax(x, -1, true).shape() == Shape{2, 1});
  CHECK(nl::argmax(x, -1, true).to_vector<int64_t>() == std::vector<int64_t>{1, 1});
  Tensor c = nl::argmax(x, 0);
  CHECK(c.to_vector<int64_t>() == std::vector<int64_t>{1, 1, 0, 1});
  CHECK(nl::argmax(x, -2, true).shape() == Shape{1, 4});
  CHECK(nl::argmax(x, std::nullopt, true).shape() == Shape{1, 1});
  CHECK(nl::argmax(x, std::nullopt, true).item<int64_t>() == 5);
  // a 3-D tensor along the middle dim vs a loop
  Tensor a = a234() * -1.0;
  CHECK(nl::argmax(a, 1).to_vector<int64_t>() == std::vector<int64_t>(8, 0));
  CHECK(nl::argmax(a234(), 1).to_vector<int64_t>() == std::vector<int64_t>(8, 2));
  CHECK(nl::argmax(a234().transpose(0, 2), 2).to_vector<int64_t>() == std::vector<int64_t>(12, 1));
}

TEST_CASE("argmax of a tensor requiring grad is not differentiable", "[ops][reduce][argmax]") {
  Tensor x = nltest::randn64({3, 4});
  Tensor a = nl::argmax(x, 1);
  CHECK_FALSE(a.requires_grad());
  CHECK(a.grad_fn() == nullptr);
}

// ---- logsumexp ----------------------------------------------------------------------

TEST_CASE("logsumexp by hand over all dims, single dims and keepdim", "[ops][reduce][logsumexp]") {
  Tensor x = m23();
  double r0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  double r1 = std::log(std::exp(4.0) + std::exp(5.0) + std::exp(6.0));
  check_values(nl::logsumexp(x, {1}), {r0, r1}, 1e-12, 1e-12);
  check_values(nl::logsumexp(x, {-1}, true), {r0, r1}, 1e-12, 1e-12);
  CHECK(nl::logsumexp(x, {-1}, true).shape() == Shape{2, 1});
  std::vector<double> cols;
  for (int j = 1; j <= 3; ++j) cols.push_back(std::log(std::exp(double(j)) + std::exp(double(j + 3))));
  check_values(nl::logsumexp(x, {0}), cols, 1e-12, 1e-12);
  double all = 0;
  for (int j = 1; j <= 6; ++j) all += std::exp(double(j));
  check_values(nl::logsumexp(x, Shape{}), {std::log(all)}, 1e-12, 1e-12);
  CHECK(nl::logsumexp(x, Shape{}).shape() == Shape{});
  check_values(nl::logsumexp(x, {0, 1}, true), {std::log(all)}, 1e-12, 1e-12);
  check_values(x.t().logsumexp({0}), {r0, r1}, 1e-12, 1e-12);
}

TEST_CASE("logsumexp is stable for large and very negative inputs", "[ops][reduce][logsumexp]") {
  Tensor big = nl::from_vector(std::vector<float>{1000, 1000});
  float v = nl::logsumexp(big, {0}).item<float>();
  CHECK(std::isfinite(v));
  CHECK(v == Approx(1000.0 + std::log(2.0)).epsilon(1e-7));
  Tensor big64 = nl::from_vector(std::vector<double>{1000, 1000, -1000, 1000}, Shape{2, 2});
  check_values(nl::logsumexp(big64, {1}), {1000 + std::log(2.0), 1000.0}, 1e-9, 0);
  check_values(nl::logsumexp(big64 * -1.0, {0}), {1000.0, -1000 + std::log(2.0)}, 1e-9, 0);
  const double ninf = -std::numeric_limits<double>::infinity();
  Tensor m = nl::from_vector(std::vector<double>{ninf, 0, ninf, ninf}, Shape{2, 2});
  std::vector<double> r = nl::logsumexp(m, {1}).to_vector<double>();
  CHECK(r[0] == 0.0);
  CHECK(r[1] == ninf);
}

TEST_CASE("logsumexp gradcheck: dims, keepdim, non-contiguous and broadcast", "[ops][reduce][logsumexp][grad]") {
  Tensor x = nltest::randn64({2, 3, 4}), b = nltest::randn64({4}, 4);
  for (bool keep : {false, true}) {
    CHECK_GRADCHECK([keep](const Ts& in) { return nl::logsumexp(in[0], {-1}, keep); }, {x});
    CHECK_GRADCHECK([keep](const Ts& in) { return nl::logsumexp(in[0], {0, 1}, keep); }, {x});
    CHECK_GRADCHECK([keep](const Ts& in) { return nl::logsumexp(in[0], Shape{}, keep); }, {x});
  }
  CHECK_GRADCHECK([](const Ts& in) { return nl::logsumexp(in[0].permute({2, 0, 1}), {0}); }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return nl::logsumexp(in[0].expand({3, 4}) * 2.0, {1}); }, {b});
  // large inputs: the gradient is softmax, finite
  Tensor big = nl::from_vector(std::vector<double>{1000, 1000, 999}, Shape{3});
  big.requires_grad_(true);
  nl::logsumexp(big, {0}).backward();
  double z = 2 + std::exp(-1.0);
  check_values(big.grad(), {1 / z, 1 / z, std::exp(-1.0) / z}, 1e-12, 1e-9);
}

// ---- sum_to -------------------------------------------------------------------------

TEST_CASE("sum_to sums broadcast dims back down", "[ops][reduce][sum_to]") {
  Tensor x = m23();
  check_values(nl::sum_to(x, {1, 3}), {5, 7, 9});
  CHECK(nl::sum_to(x, {1, 3}).shape() == Shape{1, 3});
  check_values(nl::sum_to(x, {3}), {5, 7, 9});
  CHECK(nl::sum_to(x, {3}).shape() == Shape{3});
  check_values(nl::sum_to(x, {2, 1}), {6, 15});
  check_values(nl::sum_to(x, Shape{}), {21});
  CHECK(nl::sum_to(x, Shape{}).shape() == Shape{});
  CHECK(nl::sum_to(x, {2, 3}).is_same(x));
  Tensor y = a234();
  std::vector<double> e(3, 0.0);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) e[size_t(j)] += 12 * i + 4 * j + k;
  check_values(nl::sum_to(y, {3, 1}), e);
  check_values(nl::sum_to(y, {1, 3, 1}), e);
}

TEST_CASE("sum_to gradcheck", "[ops][reduce][sum_to][grad]") {
  Tensor x = nltest::randn64({2, 3, 4});
  CHECK_GRADCHECK([](const Ts& in) { return nl::sum_to(in[0], {3, 1}); }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return nl::sum_to(in[0], {2, 1, 4}); }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return nl::sum_to(in[0].transpose(1, 2), {4, 1}); }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return nl::sum_to(in[0], Shape{}); }, {x});
}

// ---- errors -------------------------------------------------------------------------

TEST_CASE("reductions reject an out-of-range dim", "[ops][reduce][error]") {
  Tensor x = m23();
  REQUIRE_THROWS_AS(nl::sum(x, {2}), nl::Error);
  REQUIRE_THROWS_WITH(nl::sum(x, {2}),
                      Catch::Contains("sum: dim 2 out of range for a tensor of rank 2 (expected -2..1)"));
  REQUIRE_THROWS_WITH(nl::mean(x, {-3}), Catch::Contains("mean: dim -3 out of range for a tensor of rank 2"));
  REQUIRE_THROWS_WITH(nl::var(x, {5}), Catch::Contains("var: dim 5 out of range for a tensor of rank 2"));
  REQUIRE_THROWS_WITH(nl::max(x, {2}, true), Catch::Contains("max: dim 2 out of range for a tensor of rank 2"));
  REQUIRE_THROWS_WITH(nl::logsumexp(x, {-3}), Catch::Contains("logsumexp: dim -3 out of range for a tensor of rank 2"));
  REQUIRE_THROWS_WITH(nl::argmax(x, 2), Catch::Contains("argmax: dim 2 out of range for a tensor of rank 2"));
}

TEST_CASE("reductions reject a dim listed twice", "[ops][reduce][error]") {
  Tensor x = a234();
  REQUIRE_THROWS_WITH(nl::sum(x, {1, -2}), Catch::Contains("sum: dim 1 appears twice in [1,-2]"));
  REQUIRE_THROWS_WITH(nl::mean(x, {0, 0}), Catch::Contains("mean: dim 0 appears twice in [0,0]"));
  REQUIRE_THROWS_WITH(nl::var(x, {2, -1}), Catch::Contains("var: dim 2 appears twice in [2,-1]"));
  REQUIRE_THROWS_WITH(nl::max(x, {0, 1, 0}), Catch::Contains("max: dim 0 appears twice in [0,1,0]"));
  REQUIRE_THROWS_WITH(nl::logsumexp(x, {-3, 0}), Catch::Contains("logsumexp: dim 0 appears twice in [-3,0]"));
}

TEST_CASE("max and argmax reject empty inputs", "[ops][reduce][error]") {
  REQUIRE_THROWS_WITH(nl::max(nl::zeros({0, 3})),
                      Catch::Contains("max: cannot reduce over a zero-size dim (shape [0,3])"));
  REQUIRE_THROWS_WITH(nl::max(nl::zeros({2, 0}), {1}),
                      Catch::Contains("max: cannot reduce over a zero-size dim (shape [2,0])"));
  REQUIRE_THROWS_WITH(nl::argmax(nl::zeros({0})),
                      Catch::Contains("argmax: cannot take argmax of an empty tensor (shape [0])"));
}

TEST_CASE("mean, var and logsumexp reject int64 inputs", "[ops][reduce][error]") {
  Tensor x = nl::arange(6).reshape({2, 3});
  const std::string tail = ": expected a floating tensor (float32 or float64), got int64 of shape [2,3]";
  REQUIRE_THROWS_WITH(nl::mean(x), Catch::Contains("mean" + tail));
  REQUIRE_THROWS_WITH(nl::var(x, {1}), Catch::Contains("var" + tail));
  REQUIRE_THROWS_WITH(nl::logsumexp(x, {1}), Catch::Contains("logsumexp" + tail));
}

TEST_CASE("sum_to rejects shapes it cannot reach", "[ops][reduce][sum_to][error]") {
  Tensor x = m23();
  REQUIRE_THROWS_WITH(nl::sum_to(x, {4}), Catch::Contains("sum_to: shapes [4] and [2,3] cannot be broadcast"));
  REQUIRE_THROWS_WITH(nl::sum_to(nl::zeros({1, 3}), {2, 3}),
                      Catch::Contains("sum_to: shape [2,3] cannot be reached from [1,3] by summing broadcast dims"));
}
