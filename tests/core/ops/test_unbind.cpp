// unbind: views of every slice, with one gathered gradient.
#include <catch2/catch.hpp>

#include "normlab.h"

TEST_CASE("unbind: slices are views of the input", "[ops][unbind]") {
  auto x = nl::arange(0.0, 6.0, 1.0, nl::f32).reshape({2, 3});
  auto columns = nl::unbind(x, 1);
  REQUIRE(columns.size() == 3);
  CHECK(columns[1].to_vector<float>() == std::vector<float>{1, 4});
  CHECK(columns[1].storage() == x.storage());
  REQUIRE_THROWS_WITH(nl::unbind(x, 2), Catch::Contains("unbind"));
}

TEST_CASE("unbind: gradcheck when every slice, some slices, or a slice twice is used", "[ops][unbind][gradcheck]") {
  nl::manual_seed(1);
  auto x = nl::randn({3, 4}, nl::f64).requires_grad_(true);
  auto all = nl::gradcheck(
      [](const std::vector<nl::Tensor>& in) {
        auto rows = nl::unbind(in[0], 0);
        return rows[0] * rows[1] + rows[2].exp();
      },
      {x});
  INFO(all.message);
  CHECK(all.ok);
  auto some = nl::gradcheck(
      [](const std::vector<nl::Tensor>& in) {
        auto columns = nl::unbind(in[0].t(), 0);                  // a strided input
        return columns[3] * 2.0 + in[0].sum({1}).slice(0, 0, 1);  // x also used outside unbind
      },
      {x});
  INFO(some.message);
  CHECK(some.ok);
}

TEST_CASE("unbind: a retained graph gathers afresh in every backward", "[ops][unbind]") {
  auto x = nl::ones({2, 2}, nl::f64).requires_grad_(true);
  auto rows = nl::unbind(x, 0);
  auto y = (rows[0] * 3.0 + rows[1]).sum();
  y.backward({}, /*retain_graph=*/true);
  CHECK(x.grad().to_vector<double>() == std::vector<double>{3, 3, 1, 1});
  y.backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{6, 6, 2, 2});
}
