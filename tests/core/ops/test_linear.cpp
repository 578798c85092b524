// linear (the fused x·Wᵀ + b): finite differences, equality with matmul + add,
// degenerate sizes, errors.
#include "tests/core/core_test_helpers.h"

using nl::Tensor;

TEST_CASE("linear: gradients of x, weight and bias match finite differences (3-D input)", "[ops][linear]") {
  nl::manual_seed(21);
  std::vector<Tensor> in = {nl::randn({2, 3, 4}, nl::f64), nl::randn({5, 4}, nl::f64), nl::randn({5}, nl::f64)};
  for (Tensor& t : in) t.requires_grad_(true);
  nl::GradcheckResult r = nl::gradcheck([](const std::vector<Tensor>& v) { return nl::linear(v[0], v[1], v[2]); }, in);
  INFO(r.message);
  CHECK(r.ok);
  nl::GradcheckResult no_bias =
      nl::gradcheck([](const std::vector<Tensor>& v) { return nl::linear(v[0], v[1]); }, {in[0], in[1]});
  INFO(no_bias.message);
  CHECK(no_bias.ok);
}

TEST_CASE("linear: equals matmul(x, W.t()) + b, values and gradients, strided input", "[ops][linear]") {
  nl::manual_seed(22);
  Tensor x0 = nl::randn({6, 7}, nl::f64), w0 = nl::randn({3, 6}, nl::f64), b0 = nl::randn({3}, nl::f64);
  auto leaf = [](const Tensor& t) { return t.clone().requires_grad_(true); };
  Tensor xa = leaf(x0), wa = leaf(w0), ba = leaf(b0), xb = leaf(x0), wb = leaf(w0), bb = leaf(b0);
  Tensor seed = nl::randn({7, 3}, nl::f64);
  Tensor fused = nl::linear(xa.t(), wa, ba);  // x.t() is not contiguous
  Tensor reference = nl::matmul(xb.t(), wb.t()) + bb;
  CHECK(nl::max(nl::abs(fused - reference)).item<double>() < 1e-12);
  (fused * seed).sum().backward();
  (reference * seed).sum().backward();
  CHECK(nl::max(nl::abs(xa.grad() - xb.grad())).item<double>() < 1e-12);
  CHECK(nl::max(nl::abs(wa.grad() - wb.grad())).item<double>() < 1e-12);
  CHECK(nl::max(nl::abs(ba.grad() - bb.grad())).item<double>() < 1e-12);
  CHECK(wa.grad().is_contiguous());
}

TEST_CASE("linear: zero rows or zero input features", "[ops][linear]") {
  Tensor w = nl::randn({3, 0}).requires_grad_(true), b = nl::randn({3}).requires_grad_(true);
  Tensor y = nl::linear(nl::zeros({2, 0}), w, b);  // no inputs: y is the bias
  CHECK(y.to_vector<float>() == std::vector<float>{b.to_vector<float>()[0], b.to_vector<float>()[1],
                                                   b.to_vector<float>()[2], b.to_vector<float>()[0],
                                                   b.to_vector<float>()[1], b.to_vector<float>()[2]});
  y.sum().backward();
  CHECK(b.grad().to_vector<float>() == std::vector<float>{2, 2, 2});
  Tensor w2 = nl::randn({3, 4}).requires_grad_(true);
  nl::linear(nl::zeros({0, 4}), w2).sum().backward();  // no rows: zero weight gradient
  CHECK(nl::sum(nl::abs(w2.grad())).item<float>() == 0);
}

TEST_CASE("linear: mismatched shapes and dtypes are clear errors", "[ops][linear]") {
  CHECK_THAT(nl_test::error_of([] {
               nl::linear(nl::zeros({2, 3}), nl::zeros({4, 5}));
             }),
             Catch::Contains("linear: expected input (..., 5) for weight [4,5], got [2,3]"));
  CHECK_THAT(nl_test::error_of([] {
               nl::linear(nl::zeros({2, 3}), nl::zeros({4, 3}), nl::zeros({3}));
             }),
             Catch::Contains("bias must have shape [4]"));
  CHECK_THAT(nl_test::error_of([] {
               nl::linear(nl::zeros({2, 3}), nl::zeros({4, 3}, nl::f64));
             }),
             Catch::Contains("dtype"));
}
