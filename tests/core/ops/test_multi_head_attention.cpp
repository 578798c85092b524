// multi_head_attention and multi_head_self_attention: the fused per-head op
// against the same math composed from scaled_dot_product_attention on
// head-split views, finite differences in float64, threads, and errors.
#include <catch2/catch.hpp>
#include <limits>

#include "normlab.h"
#include "tests/core/core_test_helpers.h"
#include "tests/core/ops/norm_test_helpers.h"

using namespace normlab_test;
using nl_test::error_of;

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

// (N, len, E) -> (N, H, len, E/H) and back: the composed reference's layout.
nl::Tensor split_heads(const nl::Tensor& x, int64_t H) {
  return x.reshape({x.size(0), x.size(1), H, x.size(2) / H}).transpose(1, 2);
}
nl::Tensor merge_heads(const nl::Tensor& x) {
  return x.transpose(1, 2).reshape({x.size(0), x.size(2), x.size(1) * x.size(3)});
}
nl::Tensor composed(const nl::Tensor& q, const nl::Tensor& k, const nl::Tensor& v, int64_t H, const nl::Tensor& mask,
                    bool causal) {
  return merge_heads(
      nl::scaled_dot_product_attention(split_heads(q, H), split_heads(k, H), split_heads(v, H), mask, causal));
}
}  // namespace

TEST_CASE("multi_head_attention equals scaled_dot_product_attention per head", "[ops][attention]") {
  nl::manual_seed(11);
  const int64_t N = 2, L = 5, S = 7, E = 12, H = 3;
  auto q = nl::randn({N, L, E}, nl::f64), k = nl::randn({N, S, E}, nl::f64), v = nl::randn({N, S, E}, nl::f64);
  SECTION("no mask") {
    require_fused_equals_reference([&](const auto& in) { return nl::multi_head_attention(in[0], in[1], in[2], H); },
                                   [&](const auto& in) { return composed(in[0], in[1], in[2], H, {}, false); },
                                   {q, k, v}, 1e-12);
  }
  SECTION("a general (L, S) mask, causal on top") {
    auto mask = nl::randn({L, S}, nl::f64);
    require_fused_equals_reference(
        [&](const auto& in) { return nl::multi_head_attention(in[0], in[1], in[2], H, mask, true); },
        [&](const auto& in) { return composed(in[0], in[1], in[2], H, mask, true); }, {q, k, v}, 1e-12);
  }
  SECTION("key padding (N, 1, 1, S) with a fully blocked sample row, and a per-head mask") {
    auto padding = nl::zeros({N, 1, 1, S}, nl::f64);
    padding.data<double>()[S - 1] = -kInf;  // sample 0's last key is padding
    auto per_head = nl::randn({N, H, L, S}, nl::f64) + padding;
    require_fused_equals_reference(
        [&](const auto& in) { return nl::multi_head_attention(in[0], in[1], in[2], H, per_head); },
        [&](const auto& in) { return composed(in[0], in[1], in[2], H, per_head, false); }, {q, k, v}, 1e-12);
    auto all_blocked = nl::full({N, 1, 1, S}, -kInf, nl::f64);
    auto y = nl::multi_head_attention(q, k, v, H, all_blocked);
    CHECK(max_abs_diff(y, nl::zeros({N, L, E}, nl::f64)) == 0.0);  // zeros, as masked_softmax, not NaN
  }
}

TEST_CASE("multi_head_self_attention equals the separate op on the slices of qkv", "[ops][attention]") {
  nl::manual_seed(12);
  const int64_t N = 3, L = 6, E = 8, H = 2;
  auto qkv = nl::randn({N, L, 3 * E}, nl::f64);
  for (bool causal : {false, true}) {
    require_fused_equals_reference([&](const auto& in) { return nl::multi_head_self_attention(in[0], H, {}, causal); },
                                   [&](const auto& in) {
                                     return composed(in[0].slice(2, 0, E), in[0].slice(2, E, 2 * E),
                                                     in[0].slice(2, 2 * E, 3 * E), H, {}, causal);
                                   },
                                   {qkv}, 1e-12);
  }
}

// Causal self-attention longer than one row block (kCausalBlock = 64) goes by
// blocks and skips the upper triangle; 150 = 64 + 64 + 22 has a ragged last block.
TEST_CASE("multi_head_attention, causal by row blocks, equals the composed op", "[ops][attention]") {
  nl::manual_seed(15);
  const int64_t N = 2, L = 150, E = 8, H = 2;
  auto q = nl::randn({N, L, E}, nl::f64), k = nl::randn({N, L, E}, nl::f64), v = nl::randn({N, L, E}, nl::f64);
  SECTION("separate q, k, v") {
    require_fused_equals_reference(
        [&](const auto& in) { return nl::multi_head_attention(in[0], in[1], in[2], H, {}, true); },
        [&](const auto& in) { return composed(in[0], in[1], in[2], H, {}, true); }, {q, k, v}, 1e-12);
  }
  SECTION("with a per-head mask that blocks one sample's first keys") {
    auto mask = nl::randn({N, H, L, L}, nl::f64);
    for (int64_t i = 0; i < L; ++i)  // sample 1, head 0: keys 0 and 1 blocked; row 0 sees none
      for (int64_t j = 0; j < 2; ++j) mask.data<double>()[((1 * H + 0) * L + i) * L + j] = -kInf;
    require_fused_equals_reference(
        [&](const auto& in) { return nl::multi_head_attention(in[0], in[1], in[2], H, mask, true); },
        [&](const auto& in) { return composed(in[0], in[1], in[2], H, mask, true); }, {q, k, v}, 1e-12);
  }
  SECTION("packed qkv") {
    auto qkv = nl::cat({q, k, v}, 2);
    require_fused_equals_reference(
        [&](const auto& in) { return nl::multi_head_self_attention(in[0], H, {}, true); },
        [&](const auto& in) {
          return composed(in[0].slice(2, 0, E), in[0].slice(2, E, 2 * E), in[0].slice(2, 2 * E, 3 * E), H, {}, true);
        },
        {qkv}, 1e-12);
  }
  SECTION("float32 by blocks close to float64") {
    auto mask = nl::randn({L, L}, nl::f64);
    auto y32 = nl::multi_head_attention(q.to(nl::f32), k.to(nl::f32), v.to(nl::f32), H, mask.to(nl::f32), true);
    CHECK(max_abs_diff(y32.to(nl::f64), nl::multi_head_attention(q, k, v, H, mask, true)) < 1e-5);
  }
  SECTION("gradcheck across two blocks (L 65)") {
    auto q65 = nl::randn({1, 65, 2}, nl::f64), k65 = nl::randn({1, 65, 2}, nl::f64),
         v65 = nl::randn({1, 65, 2}, nl::f64);
    require_gradcheck([&](const auto& in) { return nl::multi_head_attention(in[0], in[1], in[2], 1, {}, true); },
                      {q65, k65, v65});
  }
}

TEST_CASE("multi_head_attention: gradcheck, float32 close to float64", "[ops][attention][gradcheck]") {
  nl::manual_seed(13);
  auto q = nl::randn({2, 3, 4}, nl::f64), k = nl::randn({2, 4, 4}, nl::f64), v = nl::randn({2, 4, 4}, nl::f64);
  auto padding = nl::from_vector<double>({0, 0, 0, -kInf, 0, 0, 0, 0}, {2, 1, 1, 4});
  require_gradcheck([&](const auto& in) { return nl::multi_head_attention(in[0], in[1], in[2], 2, padding, true); },
                    {q, k, v});
  auto qkv = nl::randn({2, 3, 6}, nl::f64);
  require_gradcheck([&](const auto& in) { return nl::multi_head_self_attention(in[0], 1, {}, true); }, {qkv});
  auto y32 = nl::multi_head_attention(q.to(nl::f32), k.to(nl::f32), v.to(nl::f32), 2, padding.to(nl::f32), true);
  CHECK(max_abs_diff(y32.to(nl::f64), nl::multi_head_attention(q, k, v, 2, padding, true)) < 1e-5);
}

TEST_CASE("multi_head_attention: the same numbers on 1 and 2 threads, with many heads, by blocks", "[ops][attention]") {
  nl::manual_seed(14);
  auto input = nl::randn({8, 130, 3 * 64});  // causal, longer than a row block
  auto run = [&](int threads) {
    nl_test::ThreadCount scope(threads);
    auto qkv = input.clone().requires_grad_(true);
    auto y = nl::multi_head_self_attention(qkv, 4, {}, true);
    y.backward(nl::ones(y.shape()));
    return std::pair{y.detach(), qkv.grad().clone()};
  };
  auto [y1, g1] = run(1);
  auto [y2, g2] = run(2);
  CHECK(nl_test::bitwise_equal(y1, y2));
  CHECK(nl_test::bitwise_equal(g1, g2));
}

TEST_CASE("multi_head_attention: errors name the op and the shapes", "[ops][attention][errors]") {
  auto q = nl::randn({2, 4, 8}), k = nl::randn({2, 6, 8}), v = nl::randn({2, 6, 8});
  CHECK_THAT(error_of([&] { nl::multi_head_attention(q, k, v, 3); }),
             Catch::Contains("multi_head_attention") && Catch::Contains("num_heads") && Catch::Contains("8"));
  CHECK_THAT(error_of([&] {
               nl::multi_head_attention(q, k, nl::randn({2, 5, 8}), 2);
             }),
             Catch::Contains("multi_head_attention") && Catch::Contains("[2,5,8]"));
  CHECK_THAT(error_of([&] {
               nl::multi_head_attention(q, k, v, 2, nl::zeros({3, 6}));
             }),
             Catch::Contains("attn_mask") && Catch::Contains("[3,6]"));
  CHECK_THAT(error_of([&] {
               nl::multi_head_attention(q, k, v, 2, nl::zeros({4, 6}, nl::f64));
             }),
             Catch::Contains("attn_mask") && Catch::Contains("float64"));
  CHECK_THAT(error_of([&] {
               nl::multi_head_attention(q, k, v, 2, nl::zeros({4, 6}).requires_grad_(true));
             }),
             Catch::Contains("requires grad"));
  CHECK_THAT(error_of([&] {
               nl::multi_head_self_attention(nl::randn({2, 4, 7}), 1);
             }),
             Catch::Contains("multi_head_self_attention") && Catch::Contains("[2,4,7]"));
  CHECK_THAT(error_of([&] {
               nl::multi_head_self_attention(nl::randn({2, 0, 6}), 1);
             }),
             Catch::Contains("multi_head_self_attention") && Catch::Contains("[2,0,6]"));
}
