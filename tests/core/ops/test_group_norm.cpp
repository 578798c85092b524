// group_norm: the fused op against its composed reference and finite
// differences (float64), its special cases (G = 1 is LayerNorm over (C, L),
// G = C is InstanceNorm) and errors. The module, with PyTorch parity, is
// tested in tests/layers/test_group_norm.cpp.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"

using namespace normlab_test;

namespace {
NormFn fused_gn(int64_t groups) {
  return [=](const std::vector<nl::Tensor>& in) { return nl::group_norm(in[0], groups, in[1], in[2]); };
}
NormFn reference_gn(int64_t groups) {
  return [=](const std::vector<nl::Tensor>& in) { return nl::reference::group_norm(in[0], groups, in[1], in[2]); };
}
std::vector<nl::Tensor> gn_inputs(const nl::Shape& shape, nl::DType dtype = nl::f64) {
  int64_t C = shape[1];
  return {nl::randn(shape, dtype) * 2.0 + 0.5, nl::rand({C}, dtype, 0.5, 1.5), nl::randn({C}, dtype)};
}
}  // namespace

TEST_CASE("group_norm: fused equals the composed reference, (N, C, L) and (N, C)", "[ops][group_norm]") {
  nl::manual_seed(1);
  for (auto [shape, groups] : {std::pair{nl::Shape{3, 6, 5}, 2}, std::pair{nl::Shape{2, 6, 1}, 3},
                               std::pair{nl::Shape{4, 6}, 6}, std::pair{nl::Shape{2, 4, 7}, 1}}) {
    INFO("input " << fmt::format("{}", shape) << ", " << groups << " groups");
    require_fused_equals_reference(fused_gn(groups), reference_gn(groups), gn_inputs(shape), 1e-10);
    require_fused_equals_reference(fused_gn(groups), reference_gn(groups), gn_inputs(shape, nl::f32), 1e-5);
  }
}

TEST_CASE("group_norm: gradcheck of input, weight and bias, without affine, strided input",
          "[ops][group_norm][gradcheck]") {
  nl::manual_seed(2);
  require_gradcheck(fused_gn(2), gn_inputs({2, 4, 3}));
  require_gradcheck([](const std::vector<nl::Tensor>& in) { return nl::group_norm(in[0], 3); },
                    {nl::randn({2, 6}, nl::f64)});
  require_gradcheck([](const std::vector<nl::Tensor>& in) { return nl::group_norm(in[0].transpose(1, 2), 2, in[1]); },
                    {nl::randn({2, 3, 4}, nl::f64), nl::rand({4}, nl::f64, 0.5, 1.5)});
}

TEST_CASE("group_norm: one group is LayerNorm over (C, L), C groups normalize each channel", "[ops][group_norm]") {
  nl::manual_seed(3);
  auto x = nl::randn({3, 4, 5}, nl::f64) * 3.0 + 2.0;
  CHECK(max_abs_diff(nl::group_norm(x, 1), nl::layer_norm(x, {4, 5})) < 1e-12);
  auto y = nl::group_norm(x, 4, nl::Tensor(), nl::Tensor(), 0.0);  // InstanceNorm
  for (double m : y.mean({2}).to_vector<double>()) CHECK(std::abs(m) < 1e-12);
  for (double v : y.var({2}, false).to_vector<double>()) CHECK(v == Approx(1).epsilon(1e-12));
}

TEST_CASE("group_norm: results identical with 1 and 2 threads", "[ops][group_norm]") {
  nl::manual_seed(4);
  // many group rows of a feature map (the rows split over the threads), and few long ones
  for (auto [shape, groups] : {std::pair{nl::Shape{16, 32, 14, 14}, 8}, std::pair{nl::Shape{2, 4, 100, 100}, 2}}) {
    auto x = nl::randn(shape).requires_grad_(true);
    auto w = nl::rand({shape[1]}, nl::f32, 0.5, 1.5).requires_grad_(true);
    auto b = nl::randn({shape[1]}).requires_grad_(true);
    auto g = nl::randn(shape);
    int before = nl::get_num_threads();
    std::vector<std::vector<float>> results[2];
    for (int threads : {1, 2}) {
      nl::set_num_threads(threads);
      for (nl::Tensor* t : {&x, &w, &b}) t->set_grad({});
      auto y = nl::group_norm(x, groups, w, b);
      y.backward(g);
      results[threads - 1] = {y.to_vector<float>(), x.grad().to_vector<float>(), w.grad().to_vector<float>(),
                              b.grad().to_vector<float>()};
    }
    nl::set_num_threads(before);
    for (int i = 0; i < 4; ++i) CHECK(results[0][i] == results[1][i]);
  }
}

TEST_CASE("group_norm: errors name the op, the groups and the shapes", "[ops][group_norm][errors]") {
  REQUIRE_THROWS_WITH(nl::group_norm(nl::randn({2, 6}), 4), Catch::Contains("group_norm") && Catch::Contains("4"));
  REQUIRE_THROWS_WITH(nl::group_norm(nl::randn({2, 6}), 2, nl::ones({5})),
                      Catch::Contains("weight") && Catch::Contains("[5]"));
  REQUIRE_THROWS_WITH(nl::group_norm(nl::randn({2, 6}), 2, nl::ones({6}, nl::f64)),
                      Catch::Contains("weight") && Catch::Contains("float64"));
  REQUIRE_THROWS_WITH(nl::group_norm(nl::zeros({2, 6}, nl::i64), 2), Catch::Contains("floating"));
  REQUIRE_THROWS_WITH(nl::group_norm(nl::randn({2, 6, 0}), 2), Catch::Contains("no values"));
  REQUIRE_THROWS_WITH(nl::group_norm(nl::randn({2, 6}), 2, {}, {}, -1.0), Catch::Contains("eps"));
}
