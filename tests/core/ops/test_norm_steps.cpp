// The fused norms step by step (nl::layer_norm_forward/backward,
// rms_norm_*, batch_norm_*): the saved statistics and the backward sums equal
// hand-computed values, and the pieces equal what the autograd ops compute.
#include <catch2/catch.hpp>
#include <cmath>

#include "normlab.h"
#include "tests/core/core_test_helpers.h"
#include "tests/core/ops/norm_test_helpers.h"

using nl_test::error_of;
using nl_test::values;
using normlab_test::max_abs_diff;

namespace {
// Gradients of nl::layer_norm etc. through autograd, for the same dy.
struct AutogradGrads {
  nl::Tensor y, dx, dw, db;
};
template <typename Op>
AutogradGrads through_autograd(Op op, const nl::Tensor& x, const nl::Tensor& w, const nl::Tensor& b,
                               const nl::Tensor& dy) {
  nl::Tensor xl = x.clone().requires_grad_(true), wl = w.clone().requires_grad_(true);
  nl::Tensor bl = b.defined() ? b.clone().requires_grad_(true) : b;
  nl::Tensor y = op(xl, wl, bl);
  y.backward(dy);
  return {y.detach(), xl.grad(), wl.grad(), bl.defined() ? bl.grad() : nl::Tensor()};
}
}  // namespace

TEST_CASE("layer_norm_forward: mean and rstd per row by hand, y equals nl::layer_norm", "[ops][norm_steps]") {
  auto x = nl::from_vector<double>({1, 2, 3, 4, -2, 0, 2, 8}, {2, 4});
  auto w = nl::from_vector<double>({1, 2, 0.5, -1}), b = nl::from_vector<double>({0, 1, 0, -1});
  nl::NormForward f = nl::layer_norm_forward(x, {4}, w, b, 1e-5);
  // row 0: mean 2.5, var 1.25; row 1: mean 2, var (16 + 4 + 0 + 36)/4 = 14
  CHECK(values(f.mean) == std::vector<double>{2.5, 2});
  CHECK(f.rstd.to_vector<double>()[0] == Approx(1 / std::sqrt(1.25 + 1e-5)).epsilon(1e-15));
  CHECK(f.rstd.to_vector<double>()[1] == Approx(1 / std::sqrt(14 + 1e-5)).epsilon(1e-15));
  CHECK(max_abs_diff(f.y, nl::layer_norm(x, {4}, w, b, 1e-5)) == 0.0);
  CHECK(!f.y.requires_grad());
}

TEST_CASE("layer_norm_backward: the sums by hand, dx/dw/db equal autograd through nl::layer_norm",
          "[ops][norm_steps]") {
  nl::manual_seed(1);
  auto x = nl::randn({3, 5}, nl::f64), w = nl::rand({5}, nl::f64, 0.5, 1.5), b = nl::randn({5}, nl::f64);
  auto dy = nl::randn({3, 5}, nl::f64);
  nl::NormForward f = nl::layer_norm_forward(x, {5}, w, b);
  nl::NormBackward g = nl::layer_norm_backward(dy, x, {5}, w, f.mean, f.rstd, {.sums = true});
  auto expected =
      through_autograd([](auto& x_, auto& w_, auto& b_) { return nl::layer_norm(x_, {5}, w_, b_); }, x, w, b, dy);
  CHECK(max_abs_diff(g.dx, expected.dx) == 0.0);
  CHECK(max_abs_diff(g.dweight, expected.dw) == 0.0);
  CHECK(max_abs_diff(g.dbias, expected.db) == 0.0);
  // Σ dxhat and Σ dxhat·xhat per row, with dxhat = dy·w and xhat = (x − mean)·rstd
  auto xhat = (x - f.mean.reshape({3, 1})) * f.rstd.reshape({3, 1});
  auto dxhat = dy * w;
  CHECK(max_abs_diff(g.sum_dxhat, dxhat.sum({1})) < 1e-14);
  CHECK(max_abs_diff(g.sum_dxhat_xhat, (dxhat * xhat).sum({1})) < 1e-14);
  // only what is asked for
  nl::NormBackward only_dx = nl::layer_norm_backward(dy, x, {5}, w, f.mean, f.rstd, {.weight = false, .bias = false});
  CHECK(only_dx.dx.defined());
  CHECK(!only_dx.dweight.defined());
  CHECK(!only_dx.sum_dxhat.defined());
}

TEST_CASE("rms_norm_forward/backward: zero mean, rstd by hand, equal autograd", "[ops][norm_steps]") {
  nl::manual_seed(2);
  auto x = nl::from_vector<double>({3, 4, 1, -1}, {2, 2});
  nl::NormForward f = nl::rms_norm_forward(x, {2}, nl::Tensor(), 0.0);
  CHECK(values(f.mean) == std::vector<double>{0, 0});
  CHECK(f.rstd.to_vector<double>()[0] == Approx(1 / std::sqrt(12.5)).epsilon(1e-15));
  CHECK(f.rstd.to_vector<double>()[1] == Approx(1.0).epsilon(1e-15));

  auto x2 = nl::randn({4, 6}, nl::f64), w = nl::rand({6}, nl::f64, 0.5, 1.5), dy = nl::randn({4, 6}, nl::f64);
  nl::NormForward f2 = nl::rms_norm_forward(x2, {6}, w);
  nl::NormBackward g = nl::rms_norm_backward(dy, x2, {6}, w, f2.rstd, {.sums = true});
  auto expected =
      through_autograd([](auto& x_, auto& w_, auto&) { return nl::rms_norm(x_, {6}, w_); }, x2, w, nl::Tensor(), dy);
  CHECK(max_abs_diff(f2.y, expected.y) == 0.0);
  CHECK(max_abs_diff(g.dx, expected.dx) == 0.0);
  CHECK(max_abs_diff(g.dweight, expected.dw) == 0.0);
  CHECK(!g.dbias.defined());
  CHECK(values(g.sum_dxhat) == std::vector<double>(4, 0.0));  // RMSNorm does not center
  auto xhat = x2 * f2.rstd.reshape({4, 1});
  CHECK(max_abs_diff(g.sum_dxhat_xhat, (dy * w * xhat).sum({1})) < 1e-14);
}

TEST_CASE("batch_norm_forward/backward: per-channel statistics and sums, training and eval", "[ops][norm_steps]") {
  nl::manual_seed(3);
  auto x = nl::randn({6, 3}, nl::f64) * 2.0 + 1.0, w = nl::rand({3}, nl::f64, 0.5, 1.5), b = nl::randn({3}, nl::f64);
  auto dy = nl::randn({6, 3}, nl::f64);
  nl::NormForward f = nl::batch_norm_forward(x, {}, {}, w, b, true, 0.1, 1e-5);
  CHECK(max_abs_diff(f.mean, x.mean({0})) < 1e-14);
  CHECK(max_abs_diff(f.rstd, nl::rsqrt(x.var({0}, false) + 1e-5)) < 1e-14);
  nl::NormBackward g = nl::batch_norm_backward(dy, x, w, f.mean, f.rstd, true, {.sums = true});
  auto expected = through_autograd(
      [](auto& x_, auto& w_, auto& b_) { return nl::batch_norm(x_, {}, {}, w_, b_, true, 0.1, 1e-5); }, x, w, b, dy);
  CHECK(max_abs_diff(f.y, expected.y) == 0.0);
  CHECK(max_abs_diff(g.dx, expected.dx) == 0.0);
  CHECK(max_abs_diff(g.dweight, expected.dw) == 0.0);
  CHECK(max_abs_diff(g.dbias, expected.db) == 0.0);
  auto xhat = (x - f.mean) * f.rstd;
  CHECK(max_abs_diff(g.sum_dxhat, (dy * w).sum({0})) < 1e-13);
  CHECK(max_abs_diff(g.sum_dxhat_xhat, (dy * w * xhat).sum({0})) < 1e-13);

  // eval: the running statistics are the mean and rstd; dx = rstd · dy · w
  auto rm = nl::from_vector<double>({0.5, -1, 2}), rv = nl::from_vector<double>({1, 4, 0.25});
  nl::NormForward e = nl::batch_norm_forward(x, rm, rv, w, b, false, 0.1, 0.0);
  CHECK(values(e.mean) == values(rm));
  CHECK(max_abs_diff(e.rstd, nl::from_vector<double>({1, 0.5, 2})) < 1e-15);
  nl::NormBackward ge = nl::batch_norm_backward(dy, x, w, e.mean, e.rstd, false);
  CHECK(max_abs_diff(ge.dx, dy * w * e.rstd) < 1e-15);
}

TEST_CASE("norm backward pieces: wrong statistics or gradient shapes name the op and the shapes",
          "[ops][norm_steps][errors]") {
  auto x = nl::randn({3, 4}, nl::f64), dy = nl::randn({3, 4}, nl::f64);
  nl::NormForward f = nl::layer_norm_forward(x, {4});
  CHECK_THAT(error_of([&] { nl::layer_norm_backward(dy, x, {4}, {}, f.mean.slice(0, 0, 2), f.rstd); }),
             Catch::Contains("layer_norm_backward") && Catch::Contains("mean") && Catch::Contains("[3]"));
  CHECK_THAT(error_of([&] { nl::layer_norm_backward(dy.t(), x, {4}, {}, f.mean, f.rstd); }),
             Catch::Contains("grad_output") && Catch::Contains("[4,3]"));
  CHECK_THAT(error_of([&] { nl::layer_norm_backward(dy, x, {4}, {}, f.mean, nl::Tensor()); }),
             Catch::Contains("rstd") && Catch::Contains("required"));
  CHECK_THAT(error_of([&] { nl::rms_norm_backward(dy, x, {4}, {}, f.rstd.to(nl::f32)); }),
             Catch::Contains("rms_norm_backward") && Catch::Contains("dtype"));
  CHECK_THAT(error_of([&] { nl::batch_norm_backward(dy, x, {}, f.mean, f.rstd); }),
             Catch::Contains("batch_norm_backward") && Catch::Contains("[4]"));
}
