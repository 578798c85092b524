// Tensor: factories, dtypes, element access, views and storage sharing,
// copies, in-place updates and printing (core/tensor.h, factories.cpp, print.cpp).
#include <catch2/catch.hpp>
#include <cmath>

#include "core/core_test_helpers.h"
#include "normlab.h"

using Catch::Matchers::Contains;
using nl::Shape;
using nl::Tensor;
using nl_test::error_of;
using nl_test::values;
using V = std::vector<double>;

// ---- factories -------------------------------------------------------------------------

TEST_CASE("zeros, ones, full: shape, default float32 and values", "[core][tensor]") {
  Tensor z = nl::zeros({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.dtype() == nl::DType::float32);
  CHECK(z.numel() == 6);
  CHECK(values(z) == V(6, 0.0));
  CHECK(values(nl::ones({4})) == V(4, 1.0));
  Tensor f = nl::full({2, 2}, -2.5, nl::f64);
  CHECK(f.dtype() == nl::f64);
  CHECK(values(f) == V(4, -2.5));
  CHECK(nl::full({3}, 2.7, nl::i64).to_vector<int64_t>() == std::vector<int64_t>{2, 2, 2});  // truncates
  CHECK(nl::ones({0, 5}).numel() == 0);
}

TEST_CASE("zeros_like, ones_like, scalar_tensor, empty", "[core][tensor]") {
  Tensor base = nl::full({3, 1}, 5.0, nl::i64);
  Tensor z = nl::zeros_like(base), o = nl::ones_like(base);
  CHECK(z.shape() == base.shape());
  CHECK(z.dtype() == nl::i64);
  CHECK(values(z) == V{0, 0, 0});
  CHECK(values(o) == V{1, 1, 1});
  Tensor s = nl::scalar_tensor(4.25, nl::f64);
  CHECK(s.dim() == 0);
  CHECK(s.numel() == 1);
  CHECK(s.item<double>() == 4.25);
  Tensor e = nl::empty({2, 5}, nl::f64);
  CHECK(e.shape() == Shape{2, 5});
  CHECK(e.is_contiguous());
}

TEST_CASE("arange: integer default dtype and the one-argument form", "[core][tensor]") {
  Tensor a = nl::arange(5);
  CHECK(a.dtype() == nl::i64);
  CHECK(a.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK(nl::arange(2.0, 6.0).to_vector<int64_t>() == std::vector<int64_t>{2, 3, 4, 5});
  CHECK(values(nl::arange(4, nl::f32)) == V{0, 1, 2, 3});
  CHECK(nl::arange(4, nl::f32).dtype() == nl::f32);
}

TEST_CASE("arange: fractional steps give torch.arange's element count", "[core][tensor]") {
  Tensor a = nl::arange(0.0, 1.0, 0.1, nl::f64);
  REQUIRE(a.numel() == 10);
  for (int i = 0; i < 10; ++i) CHECK(a.to_vector<double>()[size_t(i)] == Approx(0.1 * i).margin(1e-12));
  CHECK(nl::arange(0.0, 0.3, 0.1, nl::f64).numel() == 3);  // 0.3/0.1 = 2.9999999999999996
  CHECK(nl::arange(1.0, 2.0, 0.25, nl::f32).numel() == 4);
  CHECK(values(nl::arange(1.0, 2.0, 0.25, nl::f32)) == V{1.0, 1.25, 1.5, 1.75});
  // int64 (the default) truncates the fractional values
  CHECK(nl::arange(0.0, 2.5, 0.5).to_vector<int64_t>() == std::vector<int64_t>{0, 0, 1, 1, 2});
}

TEST_CASE("arange: negative steps count down", "[core][tensor]") {
  CHECK(values(nl::arange(5.0, 0.0, -1.5, nl::f64)) == V{5.0, 3.5, 2.0, 0.5});
  CHECK(nl::arange(3.0, 0.0, -1.0).to_vector<int64_t>() == std::vector<int64_t>{3, 2, 1});
  CHECK(nl::arange(0.0, -1.0, -0.5, nl::f32).numel() == 2);
}

TEST_CASE("arange: empty ranges and invalid arguments", "[core][tensor]") {
  CHECK(nl::arange(0).shape() == Shape{0});
  CHECK(nl::arange(2.0, 2.0, 0.5, nl::f64).shape() == Shape{0});
  CHECK(nl::arange(0.0, 0.0, -1.0).numel() == 0);
  CHECK(error_of([] { nl::arange(0.0, 1.0, 0.0); }) ==
        "arange: expected finite start, end and a non-zero step, got (0, 1, 0)");
  CHECK_THROWS_AS(nl::arange(0.0, INFINITY), nl::Error);
  CHECK_THROWS_AS(nl::arange(NAN, 1.0), nl::Error);
  CHECK_THROWS_WITH(nl::arange(0.0, 1e15, 1e-3), Contains("too many elements"));
}

TEST_CASE("eye: square and rectangular identity", "[core][tensor]") {
  Tensor e = nl::eye(3);
  CHECK(e.shape() == Shape{3, 3});
  CHECK(e.dtype() == nl::f32);
  CHECK(values(e) == V{1, 0, 0, 0, 1, 0, 0, 0, 1});
  CHECK(values(nl::eye(2, 3, nl::f64)) == V{1, 0, 0, 0, 1, 0});
  CHECK(values(nl::eye(3, 2, nl::i64)) == V{1, 0, 0, 1, 0, 0});
  CHECK(nl::eye(0).numel() == 0);
}

TEST_CASE("rand and randn: shape and dtype", "[core][tensor]") {
  Tensor r = nl::rand({3, 4});
  CHECK(r.shape() == Shape{3, 4});
  CHECK(r.dtype() == nl::f32);
  CHECK(nl::rand({2}, nl::f64).dtype() == nl::f64);
  Tensor n = nl::randn({5, 1}, nl::f64);
  CHECK(n.shape() == Shape{5, 1});
  CHECK(n.dtype() == nl::f64);
  CHECK(nl::randn({0}).numel() == 0);
}

TEST_CASE("from_vector: dtype from T, default 1-D shape, values copied", "[core][tensor]") {
  std::vector<float> v{1.f, 2.f, 3.f, 4.f};
  Tensor a = nl::from_vector(v);
  CHECK(a.dtype() == nl::f32);
  CHECK(a.shape() == Shape{4});
  v[0] = 100.f;  // the tensor owns a copy
  CHECK(a.to_vector<float>() == std::vector<float>{1.f, 2.f, 3.f, 4.f});
  Tensor b = nl::from_vector<double>({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  CHECK(b.dtype() == nl::f64);
  CHECK(b.shape() == Shape{2, 3});
  CHECK(b.strides() == Shape{3, 1});
  Tensor c = nl::from_vector<int64_t>({7}, Shape{});
  CHECK(c.dtype() == nl::i64);
  CHECK(c.dim() == 0);
  CHECK(c.item<int64_t>() == 7);
}

TEST_CASE("from_vector: a size mismatch names the counts and the shape", "[core][tensor]") {
  CHECK(error_of([] {
          nl::from_vector<float>({1, 2, 3}, Shape{2, 2});
        }) == "from_vector: 3 values do not fill shape [2,2] (4 elements)");
  CHECK_THROWS_AS(nl::from_vector<int64_t>({1, 2}, Shape{}), nl::Error);
}

// ---- element access --------------------------------------------------------------------

TEST_CASE("item<T>: reads the single element and converts it", "[core][tensor]") {
  CHECK(nl::scalar_tensor(2.5).item<float>() == 2.5f);
  CHECK(nl::scalar_tensor(2.5).item<double>() == 2.5);
  CHECK(nl::scalar_tensor(-2.7, nl::f64).item<int64_t>() == -2);  // C++ conversion truncates
  CHECK(nl::full({1, 1, 1}, 3.0, nl::i64).item<double>() == 3.0);
  Tensor m = nl::from_vector<float>({1, 2, 3, 4}, Shape{2, 2});
  CHECK(m.select(0, 1).select(0, 0).item<float>() == 3.f);  // on a view with an offset
}

TEST_CASE("item<T>: more or fewer than one element is an error", "[core][tensor]") {
  CHECK(error_of([] { nl::zeros({2}).item<float>(); }) == "item: expected a tensor with one element, got shape [2]");
  CHECK(error_of([] { nl::zeros({0}).item<float>(); }) == "item: expected a tensor with one element, got shape [0]");
}

TEST_CASE("data<T>: exact dtype required, points at the view's first element", "[core][tensor]") {
  Tensor x = nl::from_vector<double>({0, 1, 2, 3, 4, 5});
  CHECK(x.data<double>()[2] == 2.0);
  Tensor s = x.slice(0, 3, 6);
  CHECK(s.offset() == 3);
  CHECK(s.data<double>()[0] == 3.0);
  CHECK(error_of([&] { x.data<float>(); }) == "data: tensor has dtype float64, but float32 was requested");
  CHECK_THROWS_AS(nl::arange(3).data<double>(), nl::Error);
}

TEST_CASE("to_vector<T>: row-major order of views, converted", "[core][tensor]") {
  Tensor m = nl::from_vector<float>({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  CHECK(m.t().to_vector<float>() == std::vector<float>{1, 4, 2, 5, 3, 6});
  CHECK(m.slice(1, 0, 3, 2).to_vector<int64_t>() == std::vector<int64_t>{1, 3, 4, 6});
  CHECK(nl::from_vector<float>({1.9f, -1.9f}).to_vector<int64_t>() == std::vector<int64_t>{1, -1});
  CHECK(nl::zeros({0, 3}).to_vector<float>().empty());
}

TEST_CASE("metadata: dim, size with negative dims, strides, undefined tensors", "[core][tensor]") {
  Tensor x = nl::zeros({2, 3, 4});
  CHECK(x.dim() == 3);
  CHECK(x.size(0) == 2);
  CHECK(x.size(-1) == 4);
  CHECK(x.size(-3) == 2);
  CHECK(x.strides() == Shape{12, 4, 1});
  CHECK(x.offset() == 0);
  CHECK(x.is_floating_point());
  CHECK_FALSE(nl::arange(2).is_floating_point());
  CHECK(error_of([&] { x.size(3); }) == "size: dim 3 out of range for a tensor of rank 3 (expected -3..2)");
  Tensor u;
  CHECK_FALSE(u.defined());
  CHECK_THAT(error_of([&] { u.shape(); }), Contains("use of an undefined tensor"));
}

TEST_CASE("size(d) of a 0-dim tensor is an error, as in PyTorch", "[core][tensor]") {
  // Regression (fixed in core/tensor.cpp, Tensor::size): normalize_dim accepts dims 0 and -1
  // for rank 0, so size(0) reads past the shape: 0 for a fresh scalar, and the
  // stale size of the erased dim for a select() result (5 below).
  CHECK_THROWS_AS(nl::scalar_tensor(1.0).size(0), nl::Error);
  CHECK_THROWS_AS(nl::arange(5).select(0, 2).size(0), nl::Error);
  CHECK_THROWS_AS(nl::arange(5).select(0, 2).size(-1), nl::Error);
}

// ---- views share storage -------------------------------------------------------------------

TEST_CASE("reshape/view: writes go both ways", "[core][tensor][views]") {
  Tensor x = nl::zeros({2, 3});
  Tensor r = x.reshape({3, -1});
  CHECK(r.shape() == Shape{3, 2});
  CHECK(r.storage() == x.storage());
  r.select(0, 2).fill_(7);  // elements 4, 5
  CHECK(values(x) == V{0, 0, 0, 0, 7, 7});
  x.select(0, 0).fill_(1);
  CHECK(values(r) == V{1, 1, 1, 0, 7, 7});
  Tensor v = x.view({6});
  v.slice(0, 3, 4).fill_(-1);
  CHECK(values(x) == V{1, 1, 1, -1, 7, 7});
}

TEST_CASE("transpose/t/permute: writes through the view land in the base", "[core][tensor][views]") {
  Tensor x = nl::zeros({2, 3});
  Tensor t = x.t();
  CHECK(t.shape() == Shape{3, 2});
  CHECK(t.strides() == Shape{1, 3});
  t.select(0, 1).copy_(nl::from_vector<float>({5, 6}));  // column 1 of x
  CHECK(values(x) == V{0, 5, 0, 0, 6, 0});
  x.fill_(2);
  CHECK(values(t) == V(6, 2));
  Tensor y = nl::zeros({2, 3, 4});
  Tensor p = y.permute({2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  p.select(0, 3).fill_(1);  // y[:, :, 3]
  CHECK(y.select(2, 3).sum().item<float>() == 6.f);
  CHECK(y.sum().item<float>() == 6.f);
}

TEST_CASE("slice: strided views share storage both ways", "[core][tensor][views]") {
  Tensor x = nl::arange(0.0, 10.0, 1.0, nl::f64);
  Tensor s = x.slice(0, 1, 8, 3);  // 1, 4, 7
  CHECK(s.shape() == Shape{3});
  CHECK(s.strides() == Shape{3});
  CHECK(s.offset() == 1);
  CHECK(values(s) == V{1, 4, 7});
  s.fill_(-1);
  CHECK(values(x) == V{0, -1, 2, 3, -1, 5, 6, -1, 8, 9});
  x.copy_(nl::zeros({1}, nl::f64));
  CHECK(values(s) == V{0, 0, 0});
  CHECK(values(x.slice(0, -3, 100)) == V{0, 0, 0});  // python-style clamping
  CHECK(x.slice(0, 5, 2).numel() == 0);
}

TEST_CASE("select: row and column views share storage", "[core][tensor][views]") {
  Tensor x = nl::zeros({3, 3}, nl::i64);
  x.select(0, -1).fill_(4);  // last row
  x.select(1, 0).fill_(9);   // first column
  CHECK(x.to_vector<int64_t>() == std::vector<int64_t>{9, 0, 0, 9, 0, 0, 9, 4, 4});
  Tensor row = x.select(0, 1);
  x.add_(nl::ones({3, 3}, nl::i64));
  CHECK(row.to_vector<int64_t>() == std::vector<int64_t>{10, 1, 1});
  CHECK(error_of([&] { x.select(0, 3); }) == "select: index 3 out of range for dim 0 of size 3 (shape [3,3])");
}

TEST_CASE("expand: stride-0 views see the base, and writes reach it", "[core][tensor][views]") {
  Tensor x = nl::from_vector<float>({1, 2, 3}, Shape{1, 3});
  Tensor e = x.expand({4, -1});
  CHECK(e.shape() == Shape{4, 3});
  CHECK(e.strides() == Shape{0, 1});
  CHECK(e.storage() == x.storage());
  x.select(1, 2).fill_(30);
  CHECK(values(e.select(0, 3)) == V{1, 2, 30});
  e.select(1, 0).fill_(-5);  // every row aliases the same element
  CHECK(values(x) == V{-5, 2, 30});
  Tensor s = nl::scalar_tensor(2.0).expand({2, 2});
  CHECK(s.strides() == Shape{0, 0});
  CHECK_THROWS_WITH(x.expand({4, 2}), Contains("cannot expand"));
}

TEST_CASE("unsqueeze/squeeze/flatten/detach: views over the same storage", "[core][tensor][views]") {
  Tensor x = nl::zeros({2, 3});
  Tensor u = x.unsqueeze(1);
  CHECK(u.shape() == Shape{2, 1, 3});
  CHECK(x.unsqueeze(-1).shape() == Shape{2, 3, 1});
  u.select(0, 1).fill_(3);
  CHECK(values(x) == V{0, 0, 0, 3, 3, 3});
  Tensor sq = u.squeeze();
  CHECK(sq.shape() == Shape{2, 3});
  sq.select(1, 0).fill_(8);
  CHECK(values(x) == V{8, 0, 0, 8, 3, 3});
  CHECK(u.squeeze(1).shape() == Shape{2, 3});
  CHECK(u.squeeze(0).shape() == Shape{2, 1, 3});  // size != 1: unchanged
  Tensor f = x.flatten();
  f.fill_(1);
  CHECK(values(x) == V(6, 1));
  Tensor d = x.detach();
  d.select(0, 0).fill_(0);
  CHECK(values(x) == V{0, 0, 0, 1, 1, 1});
}

TEST_CASE("view refuses non-viewable strides, reshape then copies", "[core][tensor][views]") {
  Tensor x = nl::zeros({2, 3});
  CHECK(error_of([&] { x.t().view({6}); }) ==
        "view: a tensor of shape [3,2] with strides [1,3] cannot be viewed as [6] without copying; use reshape()");
  Tensor r = x.t().reshape({6});
  CHECK(r.storage() != x.storage());
  r.fill_(1);
  CHECK(values(x) == V(6, 0));
  CHECK_THROWS_WITH(x.reshape({4, -1}), Contains("is invalid for a tensor of shape [2,3]"));
  CHECK_THROWS_WITH(x.reshape({-1, -1}), Contains("only one dimension can be -1"));
}

TEST_CASE("is_contiguous on views", "[core][tensor][views]") {
  Tensor x = nl::zeros({4, 5});
  CHECK(x.is_contiguous());
  CHECK_FALSE(x.t().is_contiguous());
  CHECK(x.t().t().is_contiguous());
  CHECK(x.slice(0, 1, 3).is_contiguous());  // whole rows, with an offset
  CHECK_FALSE(x.slice(1, 1, 3).is_contiguous());
  CHECK_FALSE(x.slice(0, 0, 4, 2).is_contiguous());
  CHECK(x.select(0, 2).is_contiguous());
  CHECK_FALSE(x.select(1, 2).is_contiguous());
  CHECK(x.unsqueeze(0).is_contiguous());
  CHECK(x.reshape({20}).is_contiguous());
  CHECK_FALSE(nl::zeros({1, 5}).expand({3, 5}).is_contiguous());
  CHECK(nl::zeros({5, 1}).t().is_contiguous());  // size-1 dims don't count
  CHECK(nl::scalar_tensor(1.0).is_contiguous());
}

// ---- copies ---------------------------------------------------------------------------------

TEST_CASE("contiguous(): the same tensor when contiguous, a copy otherwise", "[core][tensor]") {
  Tensor x = nl::from_vector<float>({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  CHECK(x.contiguous().is_same(x));
  CHECK(x.slice(0, 1, 2).contiguous().storage() == x.storage());
  Tensor t = x.t();
  Tensor c = t.contiguous();
  CHECK_FALSE(c.is_same(t));
  CHECK(c.storage() != x.storage());
  CHECK(c.is_contiguous());
  CHECK(c.strides() == Shape{2, 1});
  CHECK(values(c) == V{1, 4, 2, 5, 3, 6});
}

TEST_CASE("clone: a deep, contiguous copy", "[core][tensor]") {
  Tensor x = nl::from_vector<double>({1, 2, 3, 4}, Shape{2, 2});
  Tensor c = x.clone();
  CHECK(c.storage() != x.storage());
  CHECK(values(c) == values(x));
  c.fill_(0);
  CHECK(values(x) == V{1, 2, 3, 4});
  x.fill_(5);
  CHECK(values(c) == V(4, 0));
  Tensor ct = nl::from_vector<double>({1, 2, 3, 4}, Shape{2, 2}).t().clone();
  CHECK(ct.is_contiguous());
  CHECK(values(ct) == V{1, 3, 2, 4});
}

TEST_CASE("to(dtype): conversion values, and itself when the dtype matches", "[core][tensor]") {
  Tensor x = nl::from_vector<float>({1.75f, -1.75f, 0.5f, 3.f});
  CHECK(x.to(nl::f32).is_same(x));
  Tensor d = x.to(nl::f64);
  CHECK(d.dtype() == nl::f64);
  CHECK(values(d) == V{1.75, -1.75, 0.5, 3.0});
  CHECK(x.to(nl::i64).to_vector<int64_t>() == std::vector<int64_t>{1, -1, 0, 3});  // toward zero
  CHECK(values(nl::arange(3).to(nl::f32)) == V{0, 1, 2});
  Tensor third = nl::full({1}, 1.0 / 3.0, nl::f64).to(nl::f32);
  CHECK(third.item<float>() == 1.0f / 3.0f);
  CHECK(x.to(nl::f64).storage() != x.storage());
}

// ---- in-place updates ------------------------------------------------------------------------

TEST_CASE("fill_ and zero_: every dtype, contiguous and strided, return *this", "[core][tensor][inplace]") {
  Tensor x = nl::zeros({2, 3}, nl::i64);
  CHECK(&x.fill_(7.9) == &x);
  CHECK(x.to_vector<int64_t>() == std::vector<int64_t>(6, 7));
  x.t().select(0, 0).zero_();
  CHECK(x.to_vector<int64_t>() == std::vector<int64_t>{0, 7, 7, 0, 7, 7});
  Tensor big = nl::empty({100000}, nl::f64);  // above the parallel grain
  big.fill_(0.5);
  CHECK(big.sum().item<double>() == 50000.0);
}

TEST_CASE("copy_: broadcasts the source and converts its dtype", "[core][tensor][inplace]") {
  Tensor x = nl::zeros({2, 3}, nl::f64);
  x.copy_(nl::from_vector<float>({1.5f, 2.5f, 3.5f}));
  CHECK(values(x) == V{1.5, 2.5, 3.5, 1.5, 2.5, 3.5});
  x.copy_(nl::from_vector<int64_t>({-1, 1}, Shape{2, 1}));
  CHECK(values(x) == V{-1, -1, -1, 1, 1, 1});
  Tensor i = nl::zeros({2}, nl::i64);
  i.copy_(nl::from_vector<double>({2.9, -2.9}));
  CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{2, -2});
  CHECK_THROWS_WITH(x.copy_(nl::zeros({4})), Contains("cannot be broadcast"));
  CHECK(error_of([&] {
          nl::zeros({3}).copy_(nl::zeros({2, 3}));
        }) == "copy_: source of shape [2,3] does not broadcast to destination shape [3]");
}

TEST_CASE("copy_ from an overlapping view of the same storage", "[core][tensor][inplace]") {
  // Regression (fixed in core/tensor.cpp, Tensor::copy_): no overlap check. Copying x[0:3]
  // into x[1:4] reads elements it has already overwritten and silently gives
  // [0,0,0,0]; PyTorch refuses ("unsupported operation: some elements of the
  // input tensor and the written-to tensor refer to a single memory location").
  Tensor x = nl::arange(0.0, 4.0, 1.0, nl::f32);
  std::string err = error_of([&] { x.slice(0, 1, 4).copy_(x.slice(0, 0, 3)); });
  if (err.empty()) CHECK(values(x) == V{0, 0, 1, 2});  // either the right values or an error
}

TEST_CASE("add_: alpha, broadcasting, dtype and shape checks", "[core][tensor][inplace]") {
  Tensor x = nl::ones({2, 2}, nl::f64);
  x.add_(nl::from_vector<double>({1, 2}));
  CHECK(values(x) == V{2, 3, 2, 3});
  x.add_(nl::full({2, 2}, 2.0, nl::f64), -0.5);
  CHECK(values(x) == V{1, 2, 1, 2});
  x.add_(x);  // aliasing the same elements is fine
  CHECK(values(x) == V{2, 4, 2, 4});
  CHECK(error_of([&] { x.add_(nl::ones({2})); }) == "add_: dtype mismatch, float64 += float32 (convert with .to())");
  CHECK(error_of([&] {
          x.add_(nl::ones({3, 2, 2}, nl::f64));
        }) == "add_: shape [3,2,2] does not broadcast to the destination's shape [2,2]");
}

TEST_CASE("mul_: scales in place, through views too", "[core][tensor][inplace]") {
  Tensor x = nl::from_vector<float>({1, 2, 3, 4}, Shape{2, 2});
  CHECK(&x.mul_(2.0) == &x);
  CHECK(values(x) == V{2, 4, 6, 8});
  x.t().select(0, 1).mul_(-1.0);  // column 1
  CHECK(values(x) == V{2, -4, 6, -8});
  Tensor i = nl::arange(4);
  i.mul_(3);
  CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{0, 3, 6, 9});
}

TEST_CASE("in-place ops refuse leaves that require grad while grad mode is on", "[core][tensor][inplace]") {
  Tensor w = nl::ones({2});
  w.requires_grad_();
  CHECK(error_of([&] { w.fill_(0); }) ==
        "fill_: in-place update of a tensor of shape [2] that requires grad would not be seen by autograd; "
        "wrap it in NoGradGuard (as optimizers do)");
  CHECK_THAT(error_of([&] { w.zero_(); }), Contains("fill_: in-place update"));
  CHECK_THAT(error_of([&] { w.copy_(nl::zeros({2})); }), Contains("copy_: in-place update"));
  CHECK_THAT(error_of([&] { w.add_(nl::ones({2})); }), Contains("add_: in-place update"));
  CHECK_THAT(error_of([&] { w.mul_(2); }), Contains("mul_: in-place update"));
  CHECK(values(w) == V{1, 1});
  {
    nl::NoGradGuard no_grad;
    w.mul_(3).add_(nl::ones({2}), 0.5);
  }
  CHECK(values(w) == V{3.5, 3.5});
  w.detach().fill_(0);  // a detached alias is not guarded
  CHECK(values(w) == V{0, 0});
}

// ---- printing -------------------------------------------------------------------------------------

TEST_CASE("print: float32 1-D and float64 2-D, padded to a common width", "[core][tensor][print]") {
  CHECK(nl::to_string(nl::from_vector<float>({1.5f, -2.f, 3.f})) == "tensor([ 1.5000, -2.0000,  3.0000])");
  CHECK(nl::to_string(nl::from_vector<double>({1.5, -2, 3, 4}, Shape{2, 2})) ==
        "tensor([[ 1.5000, -2.0000],\n"
        "        [ 3.0000,  4.0000]], dtype=float64)");
  CHECK(nl::to_string(nl::from_vector<float>({0.1f, 0.25f})) == "tensor([0.1000, 0.2500])");
}

TEST_CASE("print: int64 and 0-dim tensors", "[core][tensor][print]") {
  CHECK(nl::to_string(nl::from_vector<int64_t>({1, -20, 300})) == "tensor([  1, -20, 300], dtype=int64)");
  CHECK(nl::to_string(nl::scalar_tensor(3.5)) == "tensor(3.5000)");
  CHECK(nl::to_string(nl::scalar_tensor(-0.25, nl::f64)) == "tensor(-0.2500, dtype=float64)");
  CHECK(nl::to_string(nl::scalar_tensor(7, nl::i64)) == "tensor(7, dtype=int64)");
}

TEST_CASE("print: requires_grad on leaves, grad_fn on results", "[core][tensor][print]") {
  Tensor x = nl::from_vector<float>({1, 2});
  x.requires_grad_();
  CHECK(nl::to_string(x) == "tensor([1.0000, 2.0000], requires_grad=true)");
  CHECK(nl::to_string(x * x) == "tensor([1.0000, 4.0000], grad_fn=<mul>)");
  CHECK(nl::to_string(x.sum()) == "tensor(3.0000, grad_fn=<sum>)");
  CHECK(nl::to_string(x.to(nl::f64)) == "tensor([1.0000, 2.0000], dtype=float64, grad_fn=<to>)");
  CHECK(nl::to_string(x.detach()) == "tensor([1.0000, 2.0000])");
}

TEST_CASE("print: empty tensors, undefined, nan and inf", "[core][tensor][print]") {
  CHECK(nl::to_string(nl::zeros({0})) == "tensor([])");
  CHECK(nl::to_string(nl::zeros({0, 3})) == "tensor([], size=[0,3])");
  CHECK(nl::to_string(nl::zeros({0}, nl::i64)) == "tensor([], dtype=int64)");
  CHECK(nl::to_string(Tensor()) == "tensor(undefined)");
  CHECK(nl::to_string(nl::from_vector<float>({NAN, INFINITY, -INFINITY, 1.f})) ==
        "tensor([   nan,    inf,   -inf, 1.0000])");
}

TEST_CASE("print: scientific notation as PyTorch decides it", "[core][tensor][print]") {
  CHECK(nl::to_string(nl::from_vector<float>({1e-5f, 1.f})) == "tensor([1.0000e-05, 1.0000e+00])");
  CHECK(nl::to_string(nl::from_vector<float>({1e9f, 1.f})) == "tensor([1.0000e+09, 1.0000e+00])");
  CHECK(nl::to_string(nl::from_vector<float>({1.f, 999.f})) == "tensor([  1.0000, 999.0000])");
  CHECK(nl::to_string(nl::from_vector<float>({1.f, 1001.f})) == "tensor([1.0000e+00, 1.0010e+03])");
  CHECK(nl::to_string(nl::from_vector<float>({0.f, 0.f})) == "tensor([0.0000, 0.0000])");
}

TEST_CASE("print: 3-D uses a blank line between blocks, views print in logical order", "[core][tensor][print]") {
  CHECK(nl::to_string(nl::arange(0.0, 8.0, 1.0, nl::f32).reshape({2, 2, 2})) ==
        "tensor([[[0.0000, 1.0000],\n"
        "         [2.0000, 3.0000]],\n"
        "\n"
        "        [[4.0000, 5.0000],\n"
        "         [6.0000, 7.0000]]])");
  CHECK(nl::to_string(nl::arange(6).reshape({2, 3}).t()) ==
        "tensor([[0, 3],\n"
        "        [1, 4],\n"
        "        [2, 5]], dtype=int64)");
  CHECK(fmt::format("{}", nl::ones({2}, nl::f64)) == "tensor([1.0000, 1.0000], dtype=float64)");
}

TEST_CASE("print: over 1000 elements shows 3 edge items per dim around '...'", "[core][tensor][print]") {
  // PyTorch pads the 1-D ellipsis as ",  ...," (two spaces); normlab writes ", ...,".
  CHECK(nl::to_string(nl::arange(2000)) == "tensor([   0,    1,    2, ..., 1997, 1998, 1999], dtype=int64)");
  CHECK(nl::to_string(nl::arange(0.0, 2000.0, 1.0, nl::f32).reshape({1000, 2})) ==
        "tensor([[0.0000e+00, 1.0000e+00],\n"
        "        [2.0000e+00, 3.0000e+00],\n"
        "        [4.0000e+00, 5.0000e+00],\n"
        "        ...,\n"
        "        [1.9940e+03, 1.9950e+03],\n"
        "        [1.9960e+03, 1.9970e+03],\n"
        "        [1.9980e+03, 1.9990e+03]])");
  std::string wide = nl::to_string(nl::zeros({40, 40}));
  CHECK(wide.find("...") != std::string::npos);
  CHECK(wide.size() < 800);
}

TEST_CASE("print: exactly 1000 elements are all shown", "[core][tensor][print]") {
  std::string s = nl::to_string(nl::arange(1000));
  CHECK(s.find("...") == std::string::npos);
  CHECK_THAT(s, Contains(" 500, 501, "));
  CHECK(nl::to_string(nl::arange(1001)).find("...") != std::string::npos);
}

TEST_CASE("print: int64 values beyond 2^53 are printed exactly", "[core][tensor][print]") {
  // Regression (fixed in core/print.cpp, to_string): every value goes through to_vector<double>,
  // so 2^53+1 prints as 9007199254740992, and INT64_MAX overflows the
  // double->int64 conversion (undefined behaviour).
  CHECK(nl::to_string(nl::from_vector<int64_t>({9007199254740993})) == "tensor([9007199254740993], dtype=int64)");
  CHECK(nl::to_string(nl::from_vector<int64_t>({INT64_MAX})) == "tensor([9223372036854775807], dtype=int64)");
}
