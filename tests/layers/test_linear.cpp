// Linear: PyTorch's layout and default init, the forward formula, gradients.
#include <catch2/catch.hpp>
#include <cmath>

#include "normlab.h"

namespace layers = nl::layers;

TEST_CASE("Linear: weight (out, in), bias (out), init bound 1/sqrt(in)", "[layers][linear]") {
  nl::manual_seed(1);
  layers::Linear fc(400, 30);
  CHECK(fc.weight.shape() == nl::Shape{30, 400});
  CHECK(fc.bias.shape() == nl::Shape{30});
  double bound = 1 / std::sqrt(400.0);
  auto w = fc.weight.to_vector<float>();
  double lo = 1, hi = -1, mean = 0;
  for (float v : w) lo = std::min<double>(lo, v), hi = std::max<double>(hi, v), mean += v;
  mean /= double(w.size());
  CHECK(lo >= -bound);
  CHECK(hi < bound);
  CHECK(hi - lo > 1.9 * bound);  // spreads over the whole range
  CHECK(std::abs(mean) < 0.1 * bound);
  for (float v : fc.bias.to_vector<float>()) CHECK(std::abs(v) <= bound);
}

TEST_CASE("Linear: same seed, same weights", "[layers][linear]") {
  nl::manual_seed(7);
  layers::Linear a(5, 3);
  nl::manual_seed(7);
  layers::Linear b(5, 3);
  CHECK(a.weight.to_vector<float>() == b.weight.to_vector<float>());
  CHECK(a.bias.to_vector<float>() == b.bias.to_vector<float>());
}

TEST_CASE("Linear: y = x W^T + b by hand", "[layers][linear]") {
  layers::Linear fc(2, 2, true, nl::f64);
  fc.load_state_dict(
      {{"weight", nl::from_vector<double>({1, 2, 3, 4}, {2, 2})}, {"bias", nl::from_vector<double>({0.5, -1})}});
  auto y = fc(nl::from_vector<double>({1, 1, 2, -1}, {2, 2})).to_vector<double>();
  // [1,1]: [1+2+0.5, 3+4-1] ; [2,-1]: [2-2+0.5, 6-4-1]
  CHECK(y == std::vector<double>{3.5, 6, 0.5, 1});
}

TEST_CASE("Linear: batched (..., in) inputs and no bias", "[layers][linear]") {
  nl::manual_seed(2);
  layers::Linear fc(4, 3, false);
  CHECK(fc.named_parameters().size() == 1);
  auto x = nl::randn({2, 5, 4});
  auto y = fc(x);
  CHECK(y.shape() == nl::Shape{2, 5, 3});
  auto row = fc(x.select(0, 1).select(0, 2).unsqueeze(0)).to_vector<float>();
  auto from_batch = y.select(0, 1).select(0, 2).to_vector<float>();
  for (int i = 0; i < 3; ++i) CHECK(row[i] == Approx(from_batch[i]).epsilon(1e-6));
}

TEST_CASE("Linear: gradcheck through the layer", "[layers][linear][gradcheck]") {
  nl::manual_seed(3);
  layers::Linear fc(3, 2, true, nl::f64);
  auto x = nl::randn({4, 3}, nl::f64).requires_grad_(true);
  auto result = nl::gradcheck([&](const std::vector<nl::Tensor>& in) { return nl::matmul(in[0], in[1].t()) + in[2]; },
                              {x, fc.weight, fc.bias});
  INFO(result.message);
  CHECK(result.ok);
  // and the module's gradients equal the formula's: dW = gᵀx, db = Σg
  auto g = nl::randn({4, 2}, nl::f64);
  fc(x).backward(g);
  auto dW = nl::matmul(g.t(), x.detach()).to_vector<double>(), got = fc.weight.grad().to_vector<double>();
  for (size_t i = 0; i < dW.size(); ++i) CHECK(got[i] == Approx(dW[i]).epsilon(1e-12));
  auto db = g.sum({0}).to_vector<double>(), got_b = fc.bias.grad().to_vector<double>();
  for (size_t i = 0; i < db.size(); ++i) CHECK(got_b[i] == Approx(db[i]).epsilon(1e-12));
}

TEST_CASE("Linear: wrong input width names the layer and shapes", "[layers][linear][errors]") {
  layers::Linear fc(4, 2);
  REQUIRE_THROWS_WITH(fc(nl::randn({3, 5})),
                      Catch::Contains("Linear") && Catch::Contains("[3,5]") && Catch::Contains("4"));
  REQUIRE_THROWS_WITH(layers::Linear(-1, 2), Catch::Contains("in_features=-1"));
}
