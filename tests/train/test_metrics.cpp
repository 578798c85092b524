// accuracy: the fraction of rows whose argmax is the label, measured in
// evaluation mode (BatchNorm's running statistics, not the batch's) with the
// model's mode restored afterwards.
#include <catch2/catch.hpp>

#include "normlab.h"

namespace layers = nl::layers;

TEST_CASE("accuracy: the fraction of rows whose largest logit is at the label", "[train][metrics]") {
  layers::Linear identity(2, 2, /*bias=*/false, nl::f64);
  {
    nl::NoGradGuard no_grad;
    identity.weight.copy_(nl::from_vector<double>({1, 0, 0, 1}, {2, 2}));
  }
  nl::Tensor x = nl::from_vector<double>({1, 0, 0, 1, 2, 1, 0, 3}, {4, 2});  // argmax: 0, 1, 0, 1
  CHECK(nl::train::accuracy(identity, x, nl::from_vector<int64_t>({0, 1, 1, 0})) == 0.5);
  CHECK(nl::train::accuracy(identity, x, nl::from_vector<int64_t>({0, 1, 0, 1})) == 1.0);
  CHECK(nl::train::accuracy(identity, x.slice(0, 0, 0), nl::from_vector<int64_t>({})) == 0.0);  // no rows
  CHECK_THROWS_WITH(nl::train::accuracy(identity, x, nl::from_vector<int64_t>({0, 1})),
                    Catch::Contains("4 rows of logits but 2 labels"));
}

TEST_CASE("accuracy: evaluation mode, and the model's mode is kept", "[train][metrics]") {
  // In training mode BatchNorm would normalize feature 0 over these two rows to
  // (-1, 1) and feature 1 to (0, 0): argmax 1 for the first row. With its
  // initial running statistics (mean 0, variance 1) it keeps x: argmax 0 for both.
  layers::BatchNorm1d bn(2, 1e-5, 0.1, true, true, nl::f64);
  nl::Tensor x = nl::from_vector<double>({1, 0, 3, 0}, {2, 2});
  nl::Tensor labels = nl::from_vector<int64_t>({0, 0});
  REQUIRE(bn.is_training());
  CHECK(nl::train::accuracy(bn, x, labels) == 1.0);
  CHECK(bn.is_training());
  CHECK(bn.running_mean.to_vector<double>() == std::vector<double>{0, 0});  // not a training step
  bn.eval();
  CHECK(nl::train::accuracy(bn, x, labels) == 1.0);
  CHECK(!bn.is_training());
}
