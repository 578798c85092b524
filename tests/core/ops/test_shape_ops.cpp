// Views, copies and joins (core/ops/shape.cpp): reshape view flatten transpose
// t permute slice select unsqueeze squeeze expand contiguous clone to cat
// stack detach — forward values and strides by hand, float64 gradchecks
// through each, and every error path.
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

Tensor f64v(std::vector<double> v, const Shape& shape) { return nl::from_vector(v, shape); }
Tensor f64v(std::vector<double> v) { return nl::from_vector(v); }

// [[1,2,3],[4,5,6]]
Tensor x23() { return f64v({1, 2, 3, 4, 5, 6}, {2, 3}); }

// value(i,j,k) = 12i + 4j + k, shape [2,3,4], float64
Tensor a234() { return nl::arange(0, 24, 1, f64).reshape({2, 3, 4}); }

bool shares_storage(const Tensor& a, const Tensor& b) { return a.storage() == b.storage(); }

}  // namespace

// ---- reshape / view / flatten -----------------------------------------------------------

TEST_CASE("reshape keeps row-major order, infers one -1 and is a view when it can be", "[ops][shape][reshape]") {
  Tensor x = x23();
  Tensor y = x.reshape({3, 2});
  CHECK(y.shape() == Shape{3, 2});
  check_values(y, {1, 2, 3, 4, 5, 6});
  CHECK(shares_storage(x, y));
  CHECK(x.reshape({-1}).shape() == Shape{6});
  CHECK(x.reshape({3, -1}).shape() == Shape{3, 2});
  CHECK(x.reshape({1, -1, 1}).shape() == Shape{1, 6, 1});
  CHECK(f64v({5}).reshape(Shape{}).shape() == Shape{});
  CHECK(nl::scalar_tensor(5.0).reshape({1, 1}).shape() == Shape{1, 1});
}

TEST_CASE("reshape of a non-contiguous tensor copies in logical order", "[ops][shape][reshape]") {
  Tensor t = x23().t();  // [[1,4],[2,5],[3,6]]
  Tensor y = t.reshape({6});
  check_values(y, {1, 4, 2, 5, 3, 6});
  CHECK_FALSE(shares_storage(t, y));
  check_values(t.reshape({2, 3}), {1, 4, 2, 5, 3, 6});
  Tensor e = f64v({1, 2}).expand({3, 2}).reshape({6});
  check_values(e, {1, 2, 1, 2, 1, 2});
}

TEST_CASE("reshape gradcheck on the view and the copy path", "[ops][shape][reshape][grad]") {
  Tensor x = nltest::randn64({2, 3, 4});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].reshape({4, -1}); }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].transpose(0, 2).reshape({-1}); }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].slice(2, 0, 4, 2).reshape({12}); }, {x});
}

TEST_CASE("reshape rejects an incompatible element count", "[ops][shape][reshape][error]") {
  Tensor x = x23();
  REQUIRE_THROWS_AS(x.reshape({4}), nl::Error);
  REQUIRE_THROWS_WITH(x.reshape({4}),
                      Catch::Contains("reshape: shape [4] is invalid for a tensor of shape [2,3] (6 elements)"));
  REQUIRE_THROWS_WITH(x.reshape({4, -1}),
                      Catch::Contains("reshape: shape [4,-1] is invalid for a tensor of shape [2,3]"));
  REQUIRE_THROWS_WITH(x.reshape({-1, -1}), Catch::Contains("reshape: only one dimension can be -1, got [-1,-1]"));
  REQUIRE_THROWS_WITH(x.reshape({-2, -3}), Catch::Contains("reshape: invalid size -2 in shape [-2,-3]"));
}

TEST_CASE("view shares storage and handles strided tensors that allow it", "[ops][shape][view]") {
  Tensor x = x23();
  Tensor v = x.view({3, 2});
  CHECK(shares_storage(x, v));
  check_values(v, {1, 2, 3, 4, 5, 6});
  Tensor big = nl::arange(0, 24, 1, f64).reshape({4, 6});
  Tensor rows = big.slice(0, 0, 4, 2);  // rows 0 and 2: strides [12,1]
  Tensor w = rows.view({2, 2, 3});
  CHECK(w.strides() == Shape{12, 3, 1});
  CHECK(shares_storage(big, w));
  check_values(w, {0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 16, 17});
  Tensor tv = x.t().view({3, 1, 2});
  check_values(tv, {1, 4, 2, 5, 3, 6});
}

TEST_CASE("view gradcheck", "[ops][shape][view][grad]") {
  Tensor x = nltest::randn64({4, 6});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].view({2, 12}); }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].slice(0, 0, 4, 2).view({2, 2, 3}); }, {x});
}

TEST_CASE("view rejects strides that need a copy", "[ops][shape][view][error]") {
  Tensor x = x23();
  REQUIRE_THROWS_WITH(
      x.t().view({6}),
      Catch::Contains("view: a tensor of shape [3,2] with strides [1,3] cannot be viewed as [6] without "
                      "copying; use reshape()"));
  REQUIRE_THROWS_WITH(x.view({5}),
                      Catch::Contains("view: shape [5] is invalid for a tensor of shape [2,3] (6 elements)"));
  REQUIRE_THROWS_WITH(nl::arange(0, 24, 1, f64).reshape({4, 6}).slice(1, 0, 3).view({12}),
                      Catch::Contains("view: a tensor of shape [4,3] with strides [6,1] cannot be viewed as [12]"));
}

TEST_CASE("flatten merges a range of dims", "[ops][shape][flatten]") {
  Tensor a = a234();
  CHECK(a.flatten().shape() == Shape{24});
  CHECK(a.flatten(1).shape() == Shape{2, 12});
  CHECK(a.flatten(0, 1).shape() == Shape{6, 4});
  CHECK(a.flatten(-2, -1).shape() == Shape{2, 12});
  check_values(a.transpose(1, 2).flatten(1).select(0, 0), {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  CHECK(nl::scalar_tensor(1.0).flatten().shape() == Shape{1});
  Tensor x = nltest::randn64({2, 3, 4});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].transpose(0, 1).flatten(1); }, {x});
  REQUIRE_THROWS_WITH(a.flatten(2, 1), Catch::Contains("flatten: start_dim 2 comes after end_dim 1 for shape [2,3,4]"));
}

// ---- transpose / t / permute --------------------------------------------------------------

TEST_CASE("transpose swaps shape and strides without copying", "[ops][shape][transpose]") {
  Tensor x = x23();
  Tensor y = x.transpose(0, 1);
  CHECK(y.shape() == Shape{3, 2});
  CHECK(y.strides() == Shape{1, 3});
  CHECK(shares_storage(x, y));
  CHECK_FALSE(y.is_contiguous());
  check_values(y, {1, 4, 2, 5, 3, 6});
  check_values(x.transpose(-1, -2), {1, 4, 2, 5, 3, 6});
  check_values(x.transpose(1, 1), {1, 2, 3, 4, 5, 6});
  Tensor a = a234().transpose(0, 2);  // [4,3,2], value(k,j,i) = 12i + 4j + k
  std::vector<double> expect;
  for (int k = 0; k < 4; ++k)
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 2; ++i) expect.push_back(12 * i + 4 * j + k);
  check_values(a, expect);
}

TEST_CASE("transpose gradcheck", "[ops][shape][transpose][grad]") {
  Tensor x = nltest::randn64({2, 3, 4});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].transpose(0, 2); }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].transpose(-1, 1) * in[0].transpose(1, 2); }, {x});
}

TEST_CASE("transpose rejects out-of-range dims", "[ops][shape][transpose][error]") {
  REQUIRE_THROWS_WITH(x23().transpose(0, 2),
                      Catch::Contains("transpose: dim 2 out of range for a tensor of rank 2 (expected -2..1)"));
  REQUIRE_THROWS_WITH(x23().transpose(-3, 0), Catch::Contains("transpose: dim -3 out of range for a tensor of rank 2"));
}

TEST_CASE("t transposes 2-D, leaves 1-D alone, rejects 3-D", "[ops][shape][t]") {
  check_values(x23().t(), {1, 4, 2, 5, 3, 6});
  CHECK(x23().t().shape() == Shape{3, 2});
  Tensor v = f64v({1, 2, 3});
  CHECK(v.t().is_same(v));
  Tensor x = nltest::randn64({3, 2});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].t(); }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return nl::matmul(in[0].t(), in[0]); }, {x});
  REQUIRE_THROWS_WITH(a234().t(), Catch::Contains("t: expects a tensor with at most 2 dims, got shape [2,3,4]"));
}

TEST_CASE("permute reorders dims (negative dims allowed)", "[ops][shape][permute]") {
  Tensor p = a234().permute({2, 0, 1});  // [4,2,3], value(k,i,j) = 12i + 4j + k
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.strides() == Shape{1, 12, 4});
  std::vector<double> expect;
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) expect.push_back(12 * i + 4 * j + k);
  check_values(p, expect);
  check_values(a234().permute({-1, 0, -2}), expect);
  check_values(a234().permute({0, 1, 2}), nl::arange(0, 24, 1, f64).to_vector<double>());
}

TEST_CASE("permute gradcheck", "[ops][shape][permute][grad]") {
  Tensor x = nltest::randn64({2, 3, 4});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].permute({2, 0, 1}); }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].permute({1, 2, 0}).permute({1, 0, 2}); }, {x});
}

TEST_CASE("permute rejects wrong counts, repeats and out-of-range dims", "[ops][shape][permute][error]") {
  Tensor a = a234();
  REQUIRE_THROWS_WITH(a.permute({1, 0}), Catch::Contains("permute: 2 dims given for a tensor of shape [2,3,4]"));
  REQUIRE_THROWS_WITH(a.permute({0, -3, 1}), Catch::Contains("permute: dim 0 repeated in [0,-3,1]"));
  REQUIRE_THROWS_WITH(a.permute({0, 1, 3}), Catch::Contains("permute: dim 3 out of range for a tensor of rank 3"));
}

// ---- slice / select ---------------------------------------------------------------------------

TEST_CASE("slice with steps, negative and clamped bounds", "[ops][shape][slice]") {
  Tensor r = nl::arange(0, 10, 1, f64);
  check_values(r.slice(0, 2, 8, 3), {2, 5});
  check_values(r.slice(0, -3, 10), {7, 8, 9});
  check_values(r.slice(0, 5, 100), {5, 6, 7, 8, 9});
  check_values(r.slice(0, -100, 2), {0, 1});
  CHECK(r.slice(0, 7, 3).shape() == Shape{0});
  CHECK(r.slice(0, 12, 20).shape() == Shape{0});
  Tensor x = x23();
  Tensor c = x.slice(1, 1, 3);
  check_values(c, {2, 3, 5, 6});
  CHECK(c.offset() == 1);
  CHECK(c.strides() == Shape{3, 1});
  CHECK(shares_storage(x, c));
  check_values(x.slice(-1, 0, 3, 2), {1, 3, 4, 6});
  check_values(x.slice(0, 1, 2), {4, 5, 6});
  check_values(x.slice(1, 1, 3).slice(1, 1, 2), {3, 6});
}

TEST_CASE("slice gradcheck: steps, negative starts, slices of slices", "[ops][shape][slice][grad]") {
  Tensor x = nltest::randn64({4, 5});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].slice(1, 1, 4); }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].slice(0, 0, 4, 2); }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].slice(-1, -3, 5, 2); }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].slice(1, 1, 5).slice(0, 1, 3).t(); }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].slice(1, 0, 3) * in[0].slice(1, 2, 5); }, {x});  // overlapping
}

TEST_CASE("slice rejects bad dims, steps and 0-D tensors", "[ops][shape][slice][error]") {
  REQUIRE_THROWS_WITH(x23().slice(2, 0, 1),
                      Catch::Contains("slice: dim 2 out of range for a tensor of rank 2 (expected -2..1)"));
  REQUIRE_THROWS_WITH(x23().slice(-3, 0, 1), Catch::Contains("slice: dim -3 out of range for a tensor of rank 2"));
  REQUIRE_THROWS_WITH(x23().slice(0, 0, 1, 0), Catch::Contains("slice: step must be positive, got 0"));
  REQUIRE_THROWS_WITH(x23().slice(0, 1, 0, -1), Catch::Contains("slice: step must be positive, got -1"));
  REQUIRE_THROWS_WITH(nl::scalar_tensor(1.0).slice(0, 0, 1), Catch::Contains("slice: cannot slice a 0-dim tensor"));
}

TEST_CASE("select drops a dim, negative indices count from the end", "[ops][shape][select]") {
  Tensor x = x23();
  Tensor r = x.select(0, 1);
  CHECK(r.shape() == Shape{3});
  check_values(r, {4, 5, 6});
  CHECK(shares_storage(x, r));
  check_values(x.select(1, -1), {3, 6});
  check_values(x.select(-1, 0), {1, 4});
  check_values(x.select(0, -2), {1, 2, 3});
  Tensor s = a234().select(1, 2);  // [2,4], value(i,k) = 12i + 8 + k
  CHECK(s.shape() == Shape{2, 4});
  check_values(s, {8, 9, 10, 11, 20, 21, 22, 23});
  CHECK(f64v({7}).select(0, 0).shape() == Shape{});
}

TEST_CASE("select gradcheck", "[ops][shape][select][grad]") {
  Tensor x = nltest::randn64({3, 4, 2});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].select(1, 2); }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].select(-1, -1); }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].select(0, 0) * in[0].select(0, 2); }, {x});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].transpose(0, 2).select(1, 3); }, {x});
}

TEST_CASE("select rejects out-of-range indices and dims", "[ops][shape][select][error]") {
  Tensor x = nl::zeros({3, 2});
  REQUIRE_THROWS_WITH(x.select(0, 3),
                      Catch::Contains("select: index 3 out of range for dim 0 of size 3 (shape [3,2])"));
  REQUIRE_THROWS_WITH(x.select(-1, -3),
                      Catch::Contains("select: index -3 out of range for dim 1 of size 2 (shape [3,2])"));
  REQUIRE_THROWS_WITH(x.select(2, 0), Catch::Contains("select: dim 2 out of range for a tensor of rank 2"));
  REQUIRE_THROWS_WITH(nl::scalar_tensor(1.0).select(0, 0),
                      Catch::Contains("select: cannot select from a 0-dim tensor"));
}

// ---- unsqueeze / squeeze ------------------------------------------------------------------

TEST_CASE("unsqueeze inserts a size-1 dim at any position", "[ops][shape][unsqueeze]") {
  Tensor x = x23();
  CHECK(x.unsqueeze(0).shape() == Shape{1, 2, 3});
  CHECK(x.unsqueeze(1).shape() == Shape{2, 1, 3});
  CHECK(x.unsqueeze(2).shape() == Shape{2, 3, 1});
  CHECK(x.unsqueeze(-1).shape() == Shape{2, 3, 1});
  CHECK(x.unsqueeze(-3).shape() == Shape{1, 2, 3});
  check_values(x.unsqueeze(1), {1, 2, 3, 4, 5, 6});
  CHECK(x.unsqueeze(1).is_contiguous());
  CHECK(shares_storage(x, x.unsqueeze(0)));
  CHECK(nl::scalar_tensor(3.0).unsqueeze(0).shape() == Shape{1});
  check_values(x.t().unsqueeze(1), {1, 4, 2, 5, 3, 6});
  Tensor g = nltest::randn64({2, 3});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].unsqueeze(1); }, {g});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].unsqueeze(-1) * in[0].t().unsqueeze(0); }, {g});
}

TEST_CASE("unsqueeze rejects dims beyond rank + 1", "[ops][shape][unsqueeze][error]") {
  // a rank-2 tensor accepts dims -3..2 (the result has rank 3)
  REQUIRE_THROWS_WITH(x23().unsqueeze(3),
                      Catch::Contains("unsqueeze: dim 3 out of range for a tensor of rank 3 (expected -3..2)"));
  REQUIRE_THROWS_WITH(x23().unsqueeze(-4), Catch::Contains("unsqueeze: dim -4 out of range"));
}

TEST_CASE("squeeze removes size-1 dims, a non-1 dim is left alone", "[ops][shape][squeeze]") {
  Tensor x = nl::zeros({1, 2, 1, 3});
  CHECK(x.squeeze().shape() == Shape{2, 3});
  CHECK(x.squeeze(0).shape() == Shape{2, 1, 3});
  CHECK(x.squeeze(1).shape() == Shape{1, 2, 1, 3});
  CHECK(x.squeeze(-2).shape() == Shape{1, 2, 3});
  CHECK(nl::zeros({1, 1}).squeeze().shape() == Shape{});
  CHECK(nl::scalar_tensor(2.0).squeeze(0).shape() == Shape{});
  Tensor v = x23().unsqueeze(0).unsqueeze(-1);
  check_values(v.squeeze(), {1, 2, 3, 4, 5, 6});
  check_values(x23().t().unsqueeze(1).squeeze(1), {1, 4, 2, 5, 3, 6});
  Tensor g = nltest::randn64({1, 3, 1, 2});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].squeeze(); }, {g});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].squeeze(-2); }, {g});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].squeeze(1); }, {g});
}

TEST_CASE("squeeze rejects an out-of-range dim", "[ops][shape][squeeze][error]") {
  REQUIRE_THROWS_WITH(nl::zeros({1, 2, 1}).squeeze(3),
                      Catch::Contains("squeeze: dim 3 out of range for a tensor of rank 3 (expected -3..2)"));
  REQUIRE_THROWS_WITH(nl::zeros({1, 2, 1}).squeeze(-4),
                      Catch::Contains("squeeze: dim -4 out of range for a tensor of rank 3"));
}

// ---- expand ----------------------------------------------------------------------------------

TEST_CASE("expand broadcasts with stride 0, keeps dims with -1, adds leading dims", "[ops][shape][expand]") {
  Tensor v = f64v({1, 2, 3});
  Tensor e = v.expand({2, 3});
  CHECK(e.shape() == Shape{2, 3});
  CHECK(e.strides() == Shape{0, 1});
  CHECK(shares_storage(v, e));
  check_values(e, {1, 2, 3, 1, 2, 3});
  Tensor c = f64v({1, 2}, {2, 1});
  check_values(c.expand({-1, 3}), {1, 1, 1, 2, 2, 2});
  CHECK(c.expand({2, 2, 3}).shape() == Shape{2, 2, 3});
  check_values(c.expand({2, 2, 3}).select(0, 1), {1, 1, 1, 2, 2, 2});
  CHECK(c.expand_as(nl::zeros({4, 2, 5})).shape() == Shape{4, 2, 5});
  CHECK(nl::scalar_tensor(4.0).expand({2, 2}).to_vector<double>() == std::vector<double>(4, 4.0));
  CHECK(c.expand({2, 0}).shape() == Shape{2, 0});
}

TEST_CASE("expand gradcheck sums the gradient over broadcast dims", "[ops][shape][expand][grad]") {
  Tensor c = nltest::randn64({3, 1}), v = nltest::randn64({1}, 2), m = nltest::randn64({2, 3}, 3);
  CHECK_GRADCHECK([](const Ts& in) { return in[0].expand({2, 3, 4}); }, {c});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].expand({5}); }, {v});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].expand({-1, 4}) * in[0].t().expand({3, 3}).slice(1, 0, 1); }, {c});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].t().expand({2, 3, 2}); }, {m});
  Tensor leaf = f64v({1, 2}, {2, 1});
  leaf.requires_grad_(true);
  nl::sum(leaf.expand({3, 2, 4})).backward();
  check_values(leaf.grad(), {12, 12});
}

TEST_CASE("expand rejects incompatible shapes", "[ops][shape][expand][error]") {
  Tensor x = nl::zeros({2, 3});
  REQUIRE_THROWS_WITH(x.expand({2, 4}),
                      Catch::Contains("expand: dim 1 of size 3 cannot expand to 4 (shape [2,3] to [2,4])"));
  REQUIRE_THROWS_WITH(x.expand({3}),
                      Catch::Contains("expand: target shape [3] has fewer dims than the tensor's shape [2,3]"));
  REQUIRE_THROWS_WITH(x.expand({-1, 2, 3}),
                      Catch::Contains("expand: new leading dim 0 cannot be -1 (target [-1,2,3])"));
  REQUIRE_THROWS_WITH(nl::zeros({2, 1}).expand({4, 1}),
                      Catch::Contains("expand: dim 0 of size 2 cannot expand to 4 (shape [2,1] to [4,1])"));
}

// ---- contiguous / clone / to ---------------------------------------------------------------

TEST_CASE("contiguous returns the tensor itself or a row-major copy", "[ops][shape][contiguous]") {
  Tensor x = x23();
  CHECK(x.contiguous().is_same(x));
  Tensor c = x.t().contiguous();
  CHECK(c.is_contiguous());
  CHECK(c.strides() == Shape{2, 1});
  CHECK_FALSE(shares_storage(x, c));
  check_values(c, {1, 4, 2, 5, 3, 6});
  check_values(f64v({1, 2}).expand({2, 2}).contiguous(), {1, 2, 1, 2});
  Tensor g = nltest::randn64({3, 4});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].t().contiguous(); }, {g});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].slice(1, 0, 4, 3).contiguous(); }, {g});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].select(0, 1).expand({2, 4}).contiguous(); }, {g});
}

TEST_CASE("clone copies into new storage and passes the gradient through", "[ops][shape][clone]") {
  Tensor x = x23();
  Tensor c = x.clone();
  CHECK_FALSE(shares_storage(x, c));
  check_values(c, {1, 2, 3, 4, 5, 6});
  c.fill_(0.0);
  check_values(x, {1, 2, 3, 4, 5, 6});
  Tensor ct = x.t().clone();
  CHECK(ct.is_contiguous());
  check_values(ct, {1, 4, 2, 5, 3, 6});
  Tensor g = nltest::randn64({2, 3});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].clone(); }, {g});
  CHECK_GRADCHECK([](const Ts& in) { return in[0].t().clone() * in[0].t(); }, {g});
}

TEST_CASE("to converts dtypes, the gradient comes back in the source dtype", "[ops][shape][to]") {
  Tensor x = f64v({1.5, -2.7, 3.0});
  Tensor f = x.to(f32);
  CHECK(f.dtype() == f32);
  CHECK(f.to_vector<float>() == std::vector<float>{1.5f, -2.7f, 3.0f});
  CHECK(x.to(i64).to_vector<int64_t>() == std::vector<int64_t>{1, -2, 3});
  CHECK(x.to(f64).is_same(x));
  check_values(x23().t().to(f32), {1, 4, 2, 5, 3, 6});
  Tensor leaf = f64v({1, 2, 3});
  leaf.requires_grad_(true);
  nl::sum(leaf.to(f32) * 2.0).backward();
  CHECK(leaf.grad().dtype() == f64);
  check_values(leaf.grad(), {2, 2, 2});
  Tensor leaf32 = nl::from_vector(std::vector<float>{1, 2});
  leaf32.requires_grad_(true);
  nl::sum(leaf32.to(f64) * 3.0).backward();
  CHECK(leaf32.grad().dtype() == f32);
  check_values(leaf32.grad(), {3, 3});
  CHECK_FALSE(leaf.to(i64).requires_grad());
}

TEST_CASE("to gradcheck through a float32 round trip", "[ops][shape][to][grad]") {
  Tensor x = nltest::randn64({2, 3});
  // float32 rounding makes tiny finite differences meaningless; the map is linear, so a big eps is exact
  CHECK_GRADCHECK([](const Ts& in) { return in[0].to(f32).to(f64); }, {x}, 1e-2, 1e-4, 1e-3);
  CHECK_GRADCHECK([](const Ts& in) { return in[0].t().to(f32).to(f64) * 3.0; }, {x}, 1e-2, 1e-4, 1e-3);
  CHECK_GRADCHECK([](const Ts& in) { return in[0].to(f64) * in[0]; }, {x});
}

// ---- cat / stack ---------------------------------------------------------------------------

TEST_CASE("cat joins along an existing dim", "[ops][shape][cat]") {
  Tensor a = f64v({1, 2, 3, 4}, {2, 2});
  Tensor y = nl::cat({a, f64v({5, 6}, {1, 2})}, 0);
  CHECK(y.shape() == Shape{3, 2});
  check_values(y, {1, 2, 3, 4, 5, 6});
  Tensor c = f64v({7, 8}, {2, 1});
  check_values(nl::cat({a, c}, 1), {1, 2, 7, 3, 4, 8});
  check_values(nl::cat({c, a, c}, -1), {7, 1, 2, 7, 8, 3, 4, 8});
  check_values(nl::cat({a.t(), a}), {1, 3, 2, 4, 1, 2, 3, 4});
  check_values(nl::cat({f64v({1}), nl::zeros({0}, f64), f64v({2, 3})}), {1, 2, 3});
  check_values(nl::cat({a}), {1, 2, 3, 4});
  CHECK(nl::cat({nl::arange(3), nl::arange(2)}).dtype() == i64);
}

TEST_CASE("cat gradcheck: several inputs, dims, views, constants", "[ops][shape][cat][grad]") {
  Tensor a = nltest::randn64({2, 3}, 1), b = nltest::randn64({1, 3}, 2), c = nltest::randn64({2, 2}, 3);
  CHECK_GRADCHECK([](const Ts& in) { return nl::cat({in[0], in[1], in[0]}, 0); }, {a, b});
  CHECK_GRADCHECK([](const Ts& in) { return nl::cat({in[1].t(), in[0].t()}, -1); }, {a, b});
  CHECK_GRADCHECK([](const Ts& in) { return nl::cat({in[0].slice(1, 0, 2), in[1]}, 1); }, {a, c});
  CHECK_GRADCHECK([](const Ts& in) { return nl::cat({in[0], in[1]}, 0); }, {a, b.detach()});  // b constant
}

TEST_CASE("cat rejects empty lists, mismatched shapes, dtypes and dims", "[ops][shape][cat][error]") {
  REQUIRE_THROWS_WITH(nl::cat({}), Catch::Contains("cat: expected at least one tensor"));
  REQUIRE_THROWS_WITH(nl::cat({nl::zeros({2, 3}), nl::zeros({2, 4})}, 0),
                      Catch::Contains("cat: tensor 1 has shape [2,4], incompatible with tensor 0's [2,3] along dim 0"));
  REQUIRE_THROWS_WITH(nl::cat({nl::zeros({2, 3}), nl::zeros({3})}),
                      Catch::Contains("cat: tensor 1 has shape [3], incompatible with tensor 0's [2,3] along dim 0"));
  REQUIRE_THROWS_WITH(nl::cat({nl::zeros({2}), nl::zeros({2}, f64)}),
                      Catch::Contains("cat: tensor 1 has dtype float64, tensor 0 has float32"));
  REQUIRE_THROWS_WITH(nl::cat({nl::scalar_tensor(1.0), nl::scalar_tensor(2.0)}),
                      Catch::Contains("cat: zero-dimensional tensors cannot be concatenated (use stack)"));
  REQUIRE_THROWS_WITH(nl::cat({nl::zeros({2})}, 1), Catch::Contains("cat: dim 1 out of range for a tensor of rank 1"));
}

TEST_CASE("stack joins along a new dim", "[ops][shape][stack]") {
  Tensor a = f64v({1, 2}), b = f64v({3, 4}), c = f64v({5, 6});
  Tensor s0 = nl::stack({a, b, c});
  CHECK(s0.shape() == Shape{3, 2});
  check_values(s0, {1, 2, 3, 4, 5, 6});
  Tensor s1 = nl::stack({a, b, c}, 1);
  CHECK(s1.shape() == Shape{2, 3});
  check_values(s1, {1, 3, 5, 2, 4, 6});
  check_values(nl::stack({a, b, c}, -1), {1, 3, 5, 2, 4, 6});
  Tensor m = nl::stack({x23(), x23().t().t() * 10.0}, 1);
  CHECK(m.shape() == Shape{2, 2, 3});
  check_values(m, {1, 2, 3, 10, 20, 30, 4, 5, 6, 40, 50, 60});
  CHECK(nl::stack({nl::scalar_tensor(1.0), nl::scalar_tensor(2.0)}).shape() == Shape{2});
}

TEST_CASE("stack gradcheck", "[ops][shape][stack][grad]") {
  Tensor a = nltest::randn64({2, 3}, 1), b = nltest::randn64({3, 2}, 2);
  CHECK_GRADCHECK([](const Ts& in) { return nl::stack({in[0], in[1].t()}, 0); }, {a, b});
  CHECK_GRADCHECK([](const Ts& in) { return nl::stack({in[0], in[0] * in[0], in[1].t()}, -1); }, {a, b});
  CHECK_GRADCHECK([](const Ts& in) { return nl::stack({in[0].select(1, 0), in[1].select(0, 2)}, 1); }, {a, b});
}

TEST_CASE("stack rejects different shapes, empty lists and bad dims", "[ops][shape][stack][error]") {
  REQUIRE_THROWS_WITH(nl::stack({nl::zeros({2}), nl::zeros({3})}),
                      Catch::Contains("stack: tensor 1 has shape [3], tensor 0 has [2]; all must match"));
  REQUIRE_THROWS_WITH(nl::stack({nl::zeros({2, 3}), nl::zeros({2, 3}), nl::zeros({3, 2})}, 1),
                      Catch::Contains("stack: tensor 2 has shape [3,2], tensor 0 has [2,3]; all must match"));
  REQUIRE_THROWS_WITH(nl::stack({}), Catch::Contains("stack: expected at least one tensor"));
  REQUIRE_THROWS_WITH(nl::stack({nl::zeros({2})}, 2),
                      Catch::Contains("stack: dim 2 out of range for a tensor of rank 2"));
  // a dtype mismatch surfaces from the cat that stack calls
  REQUIRE_THROWS_WITH(nl::stack({nl::zeros({2}), nl::zeros({2}, f64)}), Catch::Contains("dtype float64"));
}

// ---- detach, views sharing storage, chains -----------------------------------------------------

TEST_CASE("detach shares storage and cuts the graph", "[ops][shape][detach]") {
  Tensor x = nltest::randn64({3});
  Tensor d = x.detach();
  CHECK(shares_storage(x, d));
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  Tensor y = x * 2.0;
  CHECK_FALSE(y.detach().requires_grad());
  CHECK(y.detach().grad_fn() == nullptr);
  nl::sum(x * x.detach()).backward();
  check_values(x.grad(), x.detach().to_vector<double>());  // d/dx (x · const) = const, not 2x
  // gradcheck sees the cut: the analytic gradient (x) is not the numeric one (2x)
  nl::GradcheckResult r = nl::gradcheck([](const Ts& in) { return in[0] * in[0].detach(); }, {nltest::randn64({3})});
  CHECK_FALSE(r.ok);
}

TEST_CASE("writes through a view are seen by the base", "[ops][shape][views]") {
  Tensor x = nl::zeros({2, 3}, f64);
  x.select(0, 1).fill_(7.0);
  check_values(x, {0, 0, 0, 7, 7, 7});
  x.t().slice(0, 0, 1).fill_(1.0);  // column 0
  check_values(x, {1, 0, 0, 1, 7, 7});
  x.reshape({6}).slice(0, 1, 6, 4).copy_(f64v({-1, -2}));
  check_values(x, {1, -1, 0, 1, 7, -2});
}

TEST_CASE("gradcheck through a chain of views and copies", "[ops][shape][grad]") {
  Tensor x = nltest::randn64({3, 4, 2});
  CHECK_GRADCHECK(
      [](const Ts& in) {
        Tensor v = in[0].transpose(0, 2).slice(1, 1, 4).reshape({2, 3, 3}).select(2, 1).unsqueeze(0);
        return nl::cat({v.expand({2, 2, 3}), v.squeeze(0).unsqueeze(0).clone()}, 0).permute({2, 1, 0});
      },
      {x});
}
