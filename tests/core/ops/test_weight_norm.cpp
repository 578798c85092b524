// weight_norm: the fused op against its composed reference and finite
// differences (float64) for every kind of dim (0, 1, negative, none) on 2-D
// and 4-D v, what it computes (each slice of w has norm g), norm_except_dim,
// and errors. The module side, with PyTorch parity, is tested in
// tests/layers/test_weight_norm.cpp.
#include <catch2/catch.hpp>
#include <cmath>
#include <optional>
#include <utility>
#include <vector>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"

using namespace normlab_test;

namespace {
using Dim = std::optional<int64_t>;

// v's shape with 1 in every dim but dim; [] for no dim (as PyTorch's dim=None)
nl::Shape g_shape(const nl::Shape& v, Dim dim) {
  if (!dim) return {};
  nl::Shape g = nl::Shape::filled(v.size(), 1);
  int d = int(*dim < 0 ? *dim + v.size() : *dim);
  g[d] = v[d];
  return g;
}
std::vector<nl::Tensor> wn_inputs(const nl::Shape& v, Dim dim, nl::DType dtype = nl::f64) {
  return {nl::randn(v, dtype) * 2.0 + 0.3, nl::rand(g_shape(v, dim), dtype, 0.5, 1.5)};
}
NormFn fused_wn(Dim dim) {
  return [=](const std::vector<nl::Tensor>& in) { return nl::weight_norm(in[0], in[1], dim); };
}
NormFn reference_wn(Dim dim) {
  return [=](const std::vector<nl::Tensor>& in) { return nl::reference::weight_norm(in[0], in[1], dim); };
}
std::string dim_name(Dim dim) { return dim ? std::to_string(*dim) : "none"; }

// (v shape, dim): dim 0, 1, negative and none, on 2-D (a Linear's weight) and 4-D (a Conv2d's)
const std::vector<std::pair<nl::Shape, Dim>> kCases{
    {{4, 5}, 0},       {{4, 5}, 1},        {{4, 5}, -1},      {{4, 5}, std::nullopt},      {{4, 3, 2, 3}, 0},
    {{4, 3, 2, 3}, 1}, {{4, 3, 2, 3}, -2}, {{4, 3, 2, 3}, 3}, {{4, 3, 2, 3}, std::nullopt}};
}  // namespace

TEST_CASE("weight_norm: fused equals the composed reference for dim 0, 1, negative and none, 2-D and 4-D",
          "[ops][weight_norm]") {
  nl::manual_seed(1);
  for (auto [shape, dim] : kCases) {
    INFO("v " << fmt::format("{}", shape) << ", dim " << dim_name(dim));
    require_fused_equals_reference(fused_wn(dim), reference_wn(dim), wn_inputs(shape, dim), 1e-10);
    require_fused_equals_reference(fused_wn(dim), reference_wn(dim), wn_inputs(shape, dim, nl::f32), 1e-5);
  }
}

TEST_CASE("weight_norm: gradcheck of v and g for dim 0, 1, negative and none, strided v",
          "[ops][weight_norm][gradcheck]") {
  nl::manual_seed(2);
  for (auto [shape, dim] : kCases) {
    INFO("v " << fmt::format("{}", shape) << ", dim " << dim_name(dim));
    require_gradcheck(fused_wn(dim), wn_inputs(shape, dim));
  }
  // a transposed (non-contiguous) v: the kernel works on its contiguous copy
  require_gradcheck([](const std::vector<nl::Tensor>& in) { return nl::weight_norm(in[0].t(), in[1], 0); },
                    {nl::randn({5, 4}, nl::f64), nl::rand({4, 1}, nl::f64, 0.5, 1.5)});
  // g of all ones for no dim, as well as []
  require_gradcheck(fused_wn(std::nullopt), {nl::randn({3, 4}, nl::f64), nl::rand({1, 1}, nl::f64, 0.5, 1.5)});
}

TEST_CASE("weight_norm: every slice of w has norm g and v's direction, norm_except_dim gives g's shape",
          "[ops][weight_norm]") {
  nl::manual_seed(3);
  for (auto [shape, dim] : kCases) {
    INFO("v " << fmt::format("{}", shape) << ", dim " << dim_name(dim));
    auto in = wn_inputs(shape, dim);
    nl::Tensor norm = nl::norm_except_dim(in[0], dim);
    CHECK(norm.shape() == g_shape(shape, dim));
    nl::Tensor w = nl::weight_norm(in[0], in[1], dim);
    CHECK(max_abs_diff(nl::norm_except_dim(w, dim), in[1]) < 1e-12);  // ‖w‖ = g per slice (g > 0)
    CHECK(max_abs_diff(w * norm, in[0] * in[1]) < 1e-12);             // w·‖v‖ = g·v
  }
  // a 1-D v and dim 0: every value is its own slice, w = g·sign(v)
  auto v = nl::from_vector<double>({3.0, -2.0, 0.5}, {3});
  CHECK(max_abs_diff(nl::norm_except_dim(v, 0), nl::abs(v)) == 0.0);
  auto g = nl::from_vector<double>({2.0, 2.0, 4.0}, {3});
  CHECK(max_abs_diff(nl::weight_norm(v, g, 0), nl::from_vector<double>({2.0, -2.0, 4.0}, {3})) < 1e-15);
  // the whole-tensor norm of a (3, 4) matrix of ones is √12
  CHECK(nl::norm_except_dim(nl::ones({3, 4}, nl::f64), std::nullopt).item<double>() == Approx(std::sqrt(12.0)));
}

TEST_CASE("weight_norm: errors name the op, the dim and the shapes", "[ops][weight_norm][errors]") {
  auto v = nl::randn({4, 5});
  REQUIRE_THROWS_WITH(nl::weight_norm(v, nl::ones({4, 1}), 2),
                      Catch::Contains("weight_norm") && Catch::Contains("dim 2") && Catch::Contains("[4,5]"));
  REQUIRE_THROWS_WITH(nl::weight_norm(v, nl::ones({4, 1}), -3), Catch::Contains("dim -3"));
  REQUIRE_THROWS_WITH(nl::norm_except_dim(v, 5), Catch::Contains("norm_except_dim") && Catch::Contains("dim 5"));
  REQUIRE_THROWS_WITH(nl::weight_norm(v, nl::ones({1, 5}), 0),
                      Catch::Contains("g must have shape [4,1]") && Catch::Contains("[1,5]"));
  REQUIRE_THROWS_WITH(nl::weight_norm(v, nl::ones({4}), std::nullopt), Catch::Contains("g must have shape"));
  REQUIRE_THROWS_WITH(nl::weight_norm(v, nl::ones({4, 1}, nl::f64), 0),
                      Catch::Contains("g has dtype float64") && Catch::Contains("float32"));
  REQUIRE_THROWS_WITH(nl::weight_norm(nl::zeros({4, 5}, nl::i64), nl::ones({4, 1}), 0), Catch::Contains("floating"));
  REQUIRE_THROWS_WITH(nl::weight_norm(v, nl::Tensor(), 0), Catch::Contains("g is undefined"));
  REQUIRE_THROWS_WITH(nl::weight_norm(nl::ones(nl::Shape{}), nl::ones(nl::Shape{}), 0), Catch::Contains("0-dim"));
}
