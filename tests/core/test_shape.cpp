// Shape, strides, dim normalization, broadcasting and element-count checks (core/shape.h).
#include <catch2/catch.hpp>

#include "core/core_test_helpers.h"
#include "normlab.h"

using nl::Shape;
using nl_test::error_of;

TEST_CASE("Shape: default is rank 0 with one element", "[core][shape]") {
  Shape s;
  CHECK(s.size() == 0);
  CHECK(s.empty());
  CHECK(nl::numel_of(s) == 1);
  CHECK(s.vec().empty());
  CHECK(s == Shape{});
}

TEST_CASE("Shape: initializer list, indexing, back, vec and equality", "[core][shape]") {
  Shape s{2, 3, 4};
  REQUIRE(s.size() == 3);
  CHECK_FALSE(s.empty());
  CHECK(s[0] == 2);
  CHECK(s[1] == 3);
  CHECK(s[2] == 4);
  CHECK(s.back() == 4);
  CHECK(s.vec() == std::vector<int64_t>{2, 3, 4});
  CHECK(nl::numel_of(s) == 24);
  CHECK(s == Shape{2, 3, 4});
  CHECK_FALSE(s == Shape{2, 3});
  CHECK_FALSE(s == Shape{2, 3, 5});
  CHECK_FALSE(Shape{} == Shape{1});
  s[1] = 7;
  CHECK(s == Shape{2, 7, 4});
}

TEST_CASE("Shape: from std::vector and filled", "[core][shape]") {
  CHECK(Shape(std::vector<int64_t>{5, 6}) == Shape{5, 6});
  CHECK(Shape(std::vector<int64_t>{}) == Shape{});
  CHECK(Shape::filled(3, 7) == Shape{7, 7, 7});
  CHECK(Shape::filled(0, 7) == Shape{});
}

TEST_CASE("Shape: push_back, insert, erase and resize", "[core][shape]") {
  Shape s{1, 2};
  s.push_back(3);
  CHECK(s == Shape{1, 2, 3});
  s.insert(0, 9);
  CHECK(s == Shape{9, 1, 2, 3});
  s.insert(4, 8);
  CHECK(s == Shape{9, 1, 2, 3, 8});
  s.insert(2, 5);
  CHECK(s == Shape{9, 1, 5, 2, 3, 8});
  s.erase(0);
  CHECK(s == Shape{1, 5, 2, 3, 8});
  s.erase(4);
  CHECK(s == Shape{1, 5, 2, 3});
  s.resize(2);
  CHECK(s == Shape{1, 5});
  s.resize(4, -1);
  CHECK(s == Shape{1, 5, -1, -1});
}

TEST_CASE("Shape: more than 8 dims is refused", "[core][shape]") {
  Shape s = Shape::filled(8, 1);
  CHECK(s.size() == Shape::kMaxDims);
  CHECK(error_of([&] { s.push_back(1); }) == "shape: at most 8 dimensions are supported");
  CHECK(error_of([&] { s.insert(0, 1); }) == "shape: at most 8 dimensions are supported");
  CHECK(error_of([] { Shape::filled(9, 1); }) == "shape: at most 8 dimensions are supported, got 9");
  CHECK(error_of([] { Shape({1, 2, 3, 4, 5, 6, 7, 8, 9}); }) == "shape: at most 8 dimensions are supported");
  CHECK(s.size() == 8);  // a failed push_back leaves the shape alone
}

TEST_CASE("Shape: to_string and fmt use the bracketed a,b form", "[core][shape]") {
  CHECK(nl::to_string(Shape{32, 784}) == "[32,784]");
  CHECK(nl::to_string(Shape{}) == "[]");
  CHECK(nl::to_string(Shape{0}) == "[0]");
  CHECK(fmt::format("{}", Shape{1, -1, 3}) == "[1,-1,3]");
}

TEST_CASE("contiguous_strides: row-major strides in elements", "[core][shape]") {
  CHECK(nl::contiguous_strides(Shape{2, 3, 4}) == Shape{12, 4, 1});
  CHECK(nl::contiguous_strides(Shape{5}) == Shape{1});
  CHECK(nl::contiguous_strides(Shape{}) == Shape{});
  CHECK(nl::contiguous_strides(Shape{1, 1}) == Shape{1, 1});
  CHECK(nl::contiguous_strides(Shape{4, 1, 3}) == Shape{3, 3, 1});
}

TEST_CASE("contiguous_strides: zero-size dims count as 1 (as PyTorch)", "[core][shape]") {
  CHECK(nl::contiguous_strides(Shape{2, 0, 3}) == Shape{3, 3, 1});
  CHECK(nl::contiguous_strides(Shape{0}) == Shape{1});
  CHECK(nl::contiguous_strides(Shape{3, 0}) == Shape{1, 1});
}

TEST_CASE("normalize_dim: maps negative dims from the end", "[core][shape]") {
  CHECK(nl::normalize_dim("op", 0, 3) == 0);
  CHECK(nl::normalize_dim("op", 2, 3) == 2);
  CHECK(nl::normalize_dim("op", -1, 3) == 2);
  CHECK(nl::normalize_dim("op", -3, 3) == 0);
  CHECK(nl::normalize_dim("op", -2, 2) == 0);
}

TEST_CASE("normalize_dim: out of range names the op, dim, rank and valid range", "[core][shape]") {
  CHECK(error_of([] { nl::normalize_dim("sum", 2, 2); }) ==
        "sum: dim 2 out of range for a tensor of rank 2 (expected -2..1)");
  CHECK(error_of([] { nl::normalize_dim("softmax", -4, 3); }) ==
        "softmax: dim -4 out of range for a tensor of rank 3 (expected -3..2)");
  CHECK_THROWS_AS(nl::normalize_dim("x", 100, 8), nl::Error);
}

TEST_CASE("normalize_dim: a 0-dim tensor accepts dim 0 and -1 only (as PyTorch reductions)", "[core][shape]") {
  CHECK(nl::normalize_dim("sum", 0, 0) == 0);
  CHECK(nl::normalize_dim("sum", -1, 0) == 0);
  CHECK(error_of([] { nl::normalize_dim("sum", 1, 0); }) ==
        "sum: dim 1 out of range for a tensor of rank 0 (expected -1..0)");
  CHECK_THROWS_AS(nl::normalize_dim("sum", -2, 0), nl::Error);
}

TEST_CASE("broadcast_shapes: equal, trailing, leading and size-1 dims", "[core][shape]") {
  using nl::broadcast_shapes;
  CHECK(broadcast_shapes("t", Shape{2, 3}, Shape{2, 3}) == Shape{2, 3});
  CHECK(broadcast_shapes("t", Shape{2, 3}, Shape{3}) == Shape{2, 3});
  CHECK(broadcast_shapes("t", Shape{2, 1}, Shape{1, 3}) == Shape{2, 3});
  CHECK(broadcast_shapes("t", Shape{4, 1, 5}, Shape{3, 1}) == Shape{4, 3, 5});
  CHECK(broadcast_shapes("t", Shape{}, Shape{2, 3}) == Shape{2, 3});
  CHECK(broadcast_shapes("t", Shape{}, Shape{}) == Shape{});
  CHECK(broadcast_shapes("t", Shape{1}, Shape{}) == Shape{1});
}

TEST_CASE("broadcast_shapes: zero-size dims broadcast against 1", "[core][shape]") {
  CHECK(nl::broadcast_shapes("t", Shape{0, 3}, Shape{1, 3}) == Shape{0, 3});
  CHECK(nl::broadcast_shapes("t", Shape{1}, Shape{0}) == Shape{0});
  CHECK_THROWS_AS(nl::broadcast_shapes("t", Shape{2}, Shape{0}), nl::Error);
}

TEST_CASE("broadcast_shapes: is symmetric", "[core][shape]") {
  std::vector<std::pair<Shape, Shape>> cases = {
      {Shape{2, 1, 4}, Shape{3, 1}}, {Shape{5}, Shape{7, 1}}, {Shape{}, Shape{1, 1}}, {Shape{6, 1}, Shape{6, 6}}};
  for (auto& [a, b] : cases) CHECK(nl::broadcast_shapes("t", a, b) == nl::broadcast_shapes("t", b, a));
}

TEST_CASE("broadcast_shapes: the error names the op and both shapes", "[core][shape]") {
  CHECK(error_of([] {
          nl::broadcast_shapes("add", Shape{2, 3}, Shape{4});
        }) == "add: shapes [2,3] and [4] cannot be broadcast (dim 1: 3 vs 4)");
  CHECK(error_of([] {
          nl::broadcast_shapes("mul", Shape{5, 2, 3}, Shape{4, 3});
        }) == "mul: shapes [5,2,3] and [4,3] cannot be broadcast (dim 1: 2 vs 4)");
  // ops report it the same way
  std::string msg = error_of([] { nl::zeros({2, 3}) + nl::zeros({4}); });
  CHECK_THAT(msg, Catch::Matchers::Contains("[2,3]") && Catch::Matchers::Contains("[4]") &&
                      Catch::Matchers::Contains("cannot be broadcast"));
}

TEST_CASE("checked_numel: product of sizes, 1 for rank 0, 0 with a zero dim", "[core][shape]") {
  CHECK(nl::checked_numel("t", Shape{}) == 1);
  CHECK(nl::checked_numel("t", Shape{2, 3, 4}) == 24);
  CHECK(nl::checked_numel("t", Shape{2, 0, 4}) == 0);
  CHECK(nl::checked_numel("t", Shape{0, int64_t(1) << 20, int64_t(1) << 20}) == 0);
}

TEST_CASE("checked_numel: 2^40 elements is the limit", "[core][shape]") {
  const int64_t limit = int64_t(1) << 40;
  CHECK(nl::checked_numel("t", Shape{limit}) == limit);
  CHECK(nl::checked_numel("t", Shape{int64_t(1) << 20, int64_t(1) << 20}) == limit);
  CHECK(error_of([&] { nl::checked_numel("zeros", Shape{limit + 1}); }) ==
        "zeros: shape [1099511627777] has too many elements (limit 2^40)");
  CHECK(error_of([] {
          nl::checked_numel("zeros", Shape{1 << 20, 1 << 20, 2});
        }) == "zeros: shape [1048576,1048576,2] has too many elements (limit 2^40)");
}

TEST_CASE("checked_numel: products that overflow int64 are caught, not wrapped", "[core][shape]") {
  const int64_t big = int64_t(1) << 32;
  CHECK_THROWS_WITH(nl::checked_numel("t", Shape{big, big, big}), Catch::Matchers::Contains("too many elements"));
  CHECK_THROWS_WITH(nl::checked_numel("t", Shape{INT64_MAX, 2}), Catch::Matchers::Contains("too many elements"));
  CHECK_THROWS_AS(nl::checked_numel("t", Shape{3037000500, 3037000500}), nl::Error);  // ~2^63
}

TEST_CASE("checked_numel: negative sizes are refused", "[core][shape]") {
  CHECK(error_of([] { nl::checked_numel("view", Shape{2, -1}); }) == "view: negative dimension in shape [2,-1]");
  CHECK_THROWS_AS(nl::checked_numel("t", Shape{-5}), nl::Error);
}

TEST_CASE("checked_numel: an empty shape is 0 whatever order its dims come in, and bounded all the same",
          "[core][shape]") {
  // Regressions (core/shape.cpp, checked_numel): the limit was once checked on
  // the running product, so [2^40, 2^40, 0] threw while [0, 2^40, 2^40] gave 0;
  // then both gave 0, and a fuzzed .npy of shape (800300784284, 392142, 8, 4,
  // 178284, 0) overflowed int64 in the strides and the kernels' loop bounds
  // (tests/fuzz/corpus/npy/regress_empty_shape_huge_dims). Now the nonzero dims
  // are held to 2^40 in any order.
  const int64_t half = int64_t(1) << 20, big = int64_t(1) << 40;
  CHECK(nl::checked_numel("t", Shape{0, half, half}) == 0);
  CHECK(nl::checked_numel("t", Shape{half, half, 0}) == 0);
  CHECK(error_of([&] {
          nl::checked_numel("t", Shape{0, big, big});
        }) == "t: shape [0,1099511627776,1099511627776] is too large: its nonzero dims multiply to more than 2^40");
  CHECK_THROWS_WITH(nl::checked_numel("t", Shape{big, big, 0}), Catch::Matchers::Contains("is too large"));
  CHECK_THROWS_WITH(nl::empty({800300784284, 392142, 8, 4, 178284, 0}), Catch::Matchers::Contains("is too large"));
}

TEST_CASE("factories refuse shapes that are too big or negative, before allocating", "[core][shape]") {
  CHECK_THROWS_WITH(nl::zeros({1 << 20, 1 << 20, 2}), Catch::Matchers::Contains("too many elements (limit 2^40)"));
  CHECK_THROWS_WITH(nl::empty({int64_t(1) << 41}), Catch::Matchers::Contains("too many elements"));
  CHECK_THROWS_WITH(nl::zeros({2, -1}), Catch::Matchers::Contains("negative dimension in shape [2,-1]"));
  CHECK_THROWS_WITH(nl::from_vector<float>({}, Shape{-1}), Catch::Matchers::Contains("negative dimension"));
}
