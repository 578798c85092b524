// masked_softmax and scaled_dot_product_attention: the fused kernels against
// the same math composed from primitive ops, finite differences in float64,
// the all-blocked row, and errors.
#include <catch2/catch.hpp>
#include <limits>

#include "normlab.h"
#include "tests/core/core_test_helpers.h"
#include "tests/core/ops/norm_test_helpers.h"

using namespace normlab_test;
using nl_test::error_of;
using nl_test::values;

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

// (L, S) additive mask: −inf above the diagonal (key j > query i).
nl::Tensor causal_mask(int64_t L, int64_t S) {
  nl::Tensor m = nl::zeros({L, S}, nl::f64);
  for (int64_t i = 0; i < L; ++i)
    for (int64_t j = i + 1; j < S; ++j) m.data<double>()[i * S + j] = -kInf;
  return m;
}

// softmax(q·kᵀ/√E + mask)·v from primitives (the reference).
nl::Tensor composed_attention(const nl::Tensor& q, const nl::Tensor& k, const nl::Tensor& v, const nl::Tensor& mask) {
  nl::Tensor scores = nl::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(q.size(-1)));
  if (mask.defined()) scores = scores + mask;
  return nl::matmul(nl::softmax(scores, -1), v);
}
}  // namespace

TEST_CASE("masked_softmax: without blocked entries it is softmax", "[ops][attention]") {
  nl::manual_seed(1);
  auto x = nl::randn({2, 3, 5}, nl::f64);
  require_fused_equals_reference([](const auto& in) { return nl::masked_softmax(in[0]); },
                                 [](const auto& in) { return nl::softmax(in[0], -1); }, {x}, 1e-14);
}

TEST_CASE("masked_softmax: causal equals softmax over scores with the future set to −inf", "[ops][attention]") {
  nl::manual_seed(2);
  auto x = nl::randn({2, 4, 4}, nl::f64);
  // x·1 keeps the graph while the mask adds −inf (gradient 0 there)
  require_fused_equals_reference([](const auto& in) { return nl::masked_softmax(in[0], true); },
                                 [](const auto& in) { return nl::softmax(in[0] + causal_mask(4, 4), -1); }, {x}, 1e-14);
  // rectangular (L < S): query i still sees keys 0..i
  auto y = nl::masked_softmax(nl::zeros({2, 3}, nl::f64), true);
  CHECK(values(y) == std::vector<double>{1, 0, 0, 0.5, 0.5, 0});
}

TEST_CASE("masked_softmax: a row with every key blocked gives zeros, not NaN, and zero gradient", "[ops][attention]") {
  auto x = nl::from_vector<double>({1, 2, -kInf, -kInf, 3, -kInf}, {2, 3}).requires_grad_(true);
  auto y = nl::masked_softmax(x);
  auto v = values(y);
  CHECK(v[2] == 0.0);
  CHECK(v[3] == 0.0);
  CHECK(v[4] == 1.0);
  auto blocked = nl::full({1, 4}, -kInf, nl::f64).requires_grad_(true);
  auto z = nl::masked_softmax(blocked);
  CHECK(values(z) == std::vector<double>(4, 0.0));
  (z * nl::randn({1, 4}, nl::f64)).sum().backward();
  CHECK(values(blocked.grad()) == std::vector<double>(4, 0.0));
}

TEST_CASE("masked_softmax: gradcheck, plain and causal, float32 matches float64", "[ops][attention][gradcheck]") {
  nl::manual_seed(3);
  auto x = nl::randn({2, 3, 4}, nl::f64);
  require_gradcheck([](const auto& in) { return nl::masked_softmax(in[0]); }, {x});
  require_gradcheck([](const auto& in) { return nl::masked_softmax(in[0], true); }, {x});
  CHECK(max_abs_diff(nl::masked_softmax(x.to(nl::f32), true).to(nl::f64), nl::masked_softmax(x, true)) < 1e-6);
}

TEST_CASE("masked_softmax: non-contiguous input and rows above the threading grain", "[ops][attention]") {
  nl::manual_seed(4);
  auto x = nl::randn({300, 2, 300}, nl::f64).transpose(0, 1);  // 600 rows of 300, strided
  require_fused_equals_reference([](const auto& in) { return nl::masked_softmax(in[0]); },
                                 [](const auto& in) { return nl::softmax(in[0], -1); }, {x}, 1e-14);
}

TEST_CASE("scaled_dot_product_attention equals its composition from primitives", "[ops][attention]") {
  nl::manual_seed(5);
  auto q = nl::randn({2, 3, 4, 8}, nl::f64), k = nl::randn({2, 3, 6, 8}, nl::f64), v = nl::randn({2, 3, 6, 5}, nl::f64);
  auto mask = nl::randn({4, 6}, nl::f64);  // a general additive mask, broadcast over batch and heads
  require_fused_equals_reference(
      [&](const auto& in) { return nl::scaled_dot_product_attention(in[0], in[1], in[2], mask); },
      [&](const auto& in) { return composed_attention(in[0], in[1], in[2], mask); }, {q, k, v}, 1e-12);
  auto qs = nl::randn({2, 5, 8}, nl::f64), ks = nl::randn({2, 5, 8}, nl::f64), vs = nl::randn({2, 5, 8}, nl::f64);
  require_fused_equals_reference(
      [&](const auto& in) { return nl::scaled_dot_product_attention(in[0], in[1], in[2], {}, true); },
      [&](const auto& in) { return composed_attention(in[0], in[1], in[2], causal_mask(5, 5)); }, {qs, ks, vs}, 1e-12);
}

TEST_CASE("scaled_dot_product_attention: gradcheck with a mask and causal", "[ops][attention][gradcheck]") {
  nl::manual_seed(6);
  auto q = nl::randn({2, 3, 4}, nl::f64), k = nl::randn({2, 3, 4}, nl::f64), v = nl::randn({2, 3, 2}, nl::f64);
  auto padding = nl::from_vector<double>({0, 0, -kInf, 0, 0, 0}, {2, 1, 3});  // batch 0's last key is padding
  require_gradcheck([&](const auto& in) { return nl::scaled_dot_product_attention(in[0], in[1], in[2], padding); },
                    {q, k, v});
  require_gradcheck([&](const auto& in) { return nl::scaled_dot_product_attention(in[0], in[1], in[2], {}, true); },
                    {q, k, v});
}

TEST_CASE("scaled_dot_product_attention: dropout is seeded and off in eval", "[ops][attention]") {
  nl::manual_seed(7);
  auto q = nl::randn({1, 4, 4}), k = nl::randn({1, 4, 4}), v = nl::randn({1, 4, 4});
  auto eval = nl::scaled_dot_product_attention(q, k, v, {}, false, 0.5, /*training=*/false);
  CHECK(max_abs_diff(eval, nl::scaled_dot_product_attention(q, k, v)) == 0.0);
  nl::manual_seed(8);
  auto a = nl::scaled_dot_product_attention(q, k, v, {}, false, 0.5, true);
  nl::manual_seed(8);
  auto b = nl::scaled_dot_product_attention(q, k, v, {}, false, 0.5, true);
  CHECK(max_abs_diff(a, b) == 0.0);
  CHECK(max_abs_diff(a, eval) > 1e-3);
}

TEST_CASE("attention ops: errors name the op and the shapes", "[ops][attention][errors]") {
  auto q = nl::randn({2, 4, 8}), k = nl::randn({2, 6, 8}), v = nl::randn({2, 6, 3});
  CHECK_THAT(error_of([&] {
               nl::scaled_dot_product_attention(q, nl::randn({2, 6, 7}), v);
             }),
             Catch::Contains("scaled_dot_product_attention") && Catch::Contains("[2,6,7]"));
  CHECK_THAT(error_of([&] {
               nl::scaled_dot_product_attention(q, k, nl::randn({2, 5, 3}));
             }),
             Catch::Contains("scaled_dot_product_attention") && Catch::Contains("[2,5,3]"));
  CHECK_THAT(error_of([&] {
               nl::scaled_dot_product_attention(q, k, v, nl::zeros({3, 6}));
             }),
             Catch::Contains("attn_mask") && Catch::Contains("[3,6]"));
  CHECK_THAT(error_of([&] { nl::masked_softmax(nl::randn({5})); }),
             Catch::Contains("masked_softmax") && Catch::Contains("[5]"));
  CHECK_THAT(error_of([&] { nl::masked_softmax(nl::zeros({2, 2}, nl::i64)); }), Catch::Contains("masked_softmax"));
}
