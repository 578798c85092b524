// Arithmetic with broadcasting, scalar forms, comparisons, where and
// masked_fill: values, gradcheck (broadcast and strided), errors.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "reduce_test_helpers.h"

using nl::f32;
using nl::f64;
using nl::Tensor;
using nltest::check_values;
using nltest::randn64;
using nltest::Ts;

namespace {
using BinaryFn = Tensor (*)(const Tensor&, const Tensor&);
// Values in [0.5, 2) so division and maximum (no ties with another draw) are safe.
Tensor away_from_zero(const nl::Shape& shape, uint64_t seed) {
  nl::manual_seed(seed);
  return nl::rand(shape, f64, 0.5, 2.0).requires_grad_(true);
}
}  // namespace

TEST_CASE("+ - * / by hand, with broadcasting of a row and a column", "[ops][binary]") {
  Tensor col = nl::from_vector<double>({1, 2}, {2, 1}), row = nl::from_vector<double>({10, 20, 30}, {1, 3});
  check_values(col + row, {11, 21, 31, 12, 22, 32});
  check_values(row - col, {9, 19, 29, 8, 18, 28});
  check_values(col * row, {10, 20, 30, 20, 40, 60});
  check_values(row / col, {10, 20, 30, 5, 10, 15});
  CHECK((col + row).shape() == nl::Shape{2, 3});
}

TEST_CASE("scalar forms keep the dtype and work on either side", "[ops][binary]") {
  Tensor x = nl::from_vector<float>({1, 2, 4});
  CHECK((x + 1.0).dtype() == f32);
  check_values(x + 1.0, {2, 3, 5});
  check_values(1.0 + x, {2, 3, 5});
  check_values(x - 1.0, {0, 1, 3});
  check_values(1.0 - x, {0, -1, -3});
  check_values(x * 3.0, {3, 6, 12});
  check_values(3.0 * x, {3, 6, 12});
  check_values(x / 2.0, {0.5, 1, 2});
  check_values(4.0 / x, {4, 2, 1});
  check_values(nl::arange(3) + 1.0, {1, 2, 3});  // int64 arithmetic
}

TEST_CASE("maximum and minimum by hand, ties split the gradient", "[ops][binary]") {
  Tensor a = nl::from_vector<double>({1, 5, 3}).requires_grad_(true),
         b = nl::from_vector<double>({2, 4, 3}).requires_grad_(true);
  check_values(nl::maximum(a, b), {2, 5, 3});
  check_values(nl::minimum(a, b), {1, 4, 3});
  nl::maximum(a, b).sum().backward();
  check_values(a.grad(), {0, 1, 0.5});
  check_values(b.grad(), {1, 0, 0.5});
}

TEST_CASE("gradcheck: + - * / on equal shapes", "[ops][binary][gradcheck]") {
  Tensor a = away_from_zero({3, 4}, 1), b = away_from_zero({3, 4}, 2);
  for (BinaryFn f : {BinaryFn(nl::add), BinaryFn(nl::sub), BinaryFn(nl::mul), BinaryFn(nl::div)})
    CHECK_GRADCHECK([f](const Ts& in) { return f(in[0], in[1]); }, {a, b});
}

TEST_CASE("gradcheck: broadcasting [3,1,4] with [2,4] and with [1]", "[ops][binary][gradcheck]") {
  Tensor a = away_from_zero({3, 1, 4}, 3), b = away_from_zero({2, 4}, 4), s = away_from_zero({1}, 5);
  for (BinaryFn f : {BinaryFn(nl::add), BinaryFn(nl::sub), BinaryFn(nl::mul), BinaryFn(nl::div)}) {
    CHECK_GRADCHECK([f](const Ts& in) { return f(in[0], in[1]); }, {a, b});
    CHECK_GRADCHECK([f](const Ts& in) { return f(in[1], in[0]); }, {a, b});
    CHECK_GRADCHECK([f](const Ts& in) { return f(in[0], in[1]); }, {a, s});
  }
}

TEST_CASE("gradcheck: non-contiguous operands (transposed, stepped, expanded)", "[ops][binary][gradcheck]") {
  Tensor a = away_from_zero({4, 3}, 6), b = away_from_zero({3, 4}, 7);
  for (BinaryFn f : {BinaryFn(nl::add), BinaryFn(nl::mul), BinaryFn(nl::div)}) {
    CHECK_GRADCHECK([f](const Ts& in) { return f(in[0].t(), in[1]); }, {a, b});
    CHECK_GRADCHECK([f](const Ts& in) { return f(in[0].slice(0, 0, 4, 2), in[1].t().slice(0, 1, 4, 2)); }, {a, b});
    CHECK_GRADCHECK([f](const Ts& in) { return f(in[0].select(1, 0).unsqueeze(0).expand({3, 4}), in[1]); }, {a, b});
  }
}

TEST_CASE("gradcheck: scalar forms", "[ops][binary][gradcheck]") {
  Tensor x = away_from_zero({2, 3}, 8);
  CHECK_GRADCHECK([](const Ts& in) { return in[0] + 2.0; }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return 2.0 - in[0]; }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return in[0] * -3.0; }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return 1.5 / in[0]; }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return in[0] / 4.0; }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return -in[0]; }, {x});
}

TEST_CASE("gradcheck: maximum and minimum away from ties, with broadcasting", "[ops][binary][gradcheck]") {
  Tensor a = nl::from_vector<double>({0.1, 1.7, -0.8, 2.2, 0.9, -1.5}, {2, 3}).requires_grad_(true);
  Tensor b = nl::from_vector<double>({0.6, -0.3, 1.1}, {3}).requires_grad_(true);
  CHECK_GRADCHECK([](const Ts& in) { return nl::maximum(in[0], in[1]); }, {a, b});
  CHECK_GRADCHECK([](const Ts& in) { return nl::minimum(in[0], in[1]); }, {a, b});
}

TEST_CASE("a tensor used as both operands: x*x and x/x", "[ops][binary][gradcheck]") {
  Tensor x = away_from_zero({5}, 9);
  CHECK_GRADCHECK([](const Ts& in) { return in[0] * in[0]; }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return in[0] / in[0] + in[0]; }, {x});
}

TEST_CASE("comparisons give 0/1 in the inputs' dtype and broadcast", "[ops][binary]") {
  Tensor a = nl::from_vector<double>({1, 2, 3}), b = nl::from_vector<double>({2}, {1});
  check_values(nl::eq(a, b), {0, 1, 0});
  check_values(nl::ne(a, b), {1, 0, 1});
  check_values(nl::lt(a, b), {1, 0, 0});
  check_values(nl::le(a, b), {1, 1, 0});
  check_values(nl::gt(a, b), {0, 0, 1});
  check_values(nl::ge(a, b), {0, 1, 1});
  CHECK(nl::eq(a, b).dtype() == f64);
  CHECK(nl::gt(nl::arange(3), nl::from_vector<int64_t>({1})).to_vector<int64_t>() == std::vector<int64_t>{0, 0, 1});
}

TEST_CASE("comparisons carry no gradient", "[ops][binary]") {
  Tensor a = randn64({3});
  CHECK_FALSE(nl::gt(a, nl::zeros({3}, f64)).requires_grad());
}

TEST_CASE("where: picks by condition with broadcasting, gradients go to the chosen side", "[ops][binary]") {
  Tensor cond = nl::from_vector<double>({1, 0, 1}), a = nl::from_vector<double>({1, 2, 3}).requires_grad_(true),
         b = nl::from_vector<double>({-1}).requires_grad_(true);
  Tensor y = nl::where(cond, a, b);
  check_values(y, {1, -1, 3});
  y.sum().backward();
  check_values(a.grad(), {1, 0, 1});
  check_values(b.grad(), {1});
}

TEST_CASE("gradcheck: where", "[ops][binary][gradcheck]") {
  Tensor cond = nl::from_vector<double>({1, 0, 0, 1, 1, 0}, {2, 3});
  Tensor a = randn64({2, 3}, 2), b = randn64({3}, 3);
  CHECK_GRADCHECK([&](const Ts& in) { return nl::where(cond, in[0], in[1]); }, {a, b});
  CHECK_GRADCHECK([&](const Ts& in) { return nl::where(cond.t(), in[0].t(), in[1].unsqueeze(1)); }, {a, b});
}

TEST_CASE("masked_fill: value where the mask is set, gradient zero there", "[ops][binary]") {
  Tensor x = nl::from_vector<double>({1, 2, 3, 4}, {2, 2}).requires_grad_(true);
  Tensor mask = nl::from_vector<double>({0, 1}, {1, 2});  // broadcasts over rows
  Tensor y = nl::masked_fill(x, mask, -9.0);
  check_values(y, {1, -9, 3, -9});
  y.sum().backward();
  check_values(x.grad(), {1, 0, 1, 0});
  CHECK_GRADCHECK([&](const Ts& in) { return nl::masked_fill(in[0], mask, 0.5); }, {randn64({2, 2}, 4)});
}

TEST_CASE("binary errors: dtype mismatch, shapes that do not broadcast, bad masks", "[ops][binary][errors]") {
  REQUIRE_THROWS_WITH(nl::zeros({2}) + nl::zeros({2}, f64), Catch::Contains("add: dtype mismatch") &&
                                                                Catch::Contains("float32") &&
                                                                Catch::Contains("float64"));
  REQUIRE_THROWS_WITH(nl::zeros({2, 3}) * nl::zeros({4}),
                      Catch::Contains("mul: shapes [2,3] and [4] cannot be broadcast"));
  REQUIRE_THROWS_WITH(nl::masked_fill(nl::zeros({2, 2}), nl::zeros({3}), 1.0),
                      Catch::Contains("masked_fill") && Catch::Contains("[2,2]") && Catch::Contains("[3]"));
  REQUIRE_THROWS_WITH(nl::where(nl::zeros({2}), nl::zeros({3}), nl::zeros({3})), Catch::Contains("where"));
  REQUIRE_THROWS_WITH(nl::maximum(nl::zeros({2}), nl::zeros({2}, f64)), Catch::Contains("maximum"));
}
