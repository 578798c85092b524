// SyncBatchNorm as a layer and convert_sync_batchnorm (any world size).
#include "dist_test_helpers.h"

using namespace dist_test;
namespace dist = nl::dist;
namespace layers = nl::layers;

TEST_CASE("convert_sync_batchnorm swaps every BatchNorm1d of an MLP, keeping names, values and mode") {
  nl::manual_seed(1);
  nl::models::MLP mlp({8, 16, 16, 4}, nl::models::NormKind::batch);
  mlp.eval();
  nl::StateDict before = mlp.state_dict();
  CHECK(dist::convert_sync_batchnorm(mlp) == 2);
  CHECK(dist::convert_sync_batchnorm(mlp) == 0);  // already converted
  CHECK(mlp[1]->type_name() == "SyncBatchNorm");
  CHECK(mlp[4]->type_name() == "SyncBatchNorm");
  CHECK_FALSE(mlp[1]->is_training());
  CHECK(mlp.to_string().find("(1): SyncBatchNorm(16, eps=1e-05, momentum=0.1, affine=true") != std::string::npos);
  nl::StateDict after = mlp.state_dict();
  REQUIRE(after.size() == before.size());
  for (auto& [name, value] : before) {
    INFO(name);
    REQUIRE(after.count(name));
    CHECK(after.at(name).to_vector<double>() == value.to_vector<double>());
  }
  // the forward runs the new layers (Sequential took them in)
  mlp.train();
  dist::CommStats start = dist::stats();
  Tensor y = mlp(nl::randn({6, 8}));
  CHECK(y.shape() == nl::Shape{6, 4});
  int64_t expected_calls = dist::world_size() > 1 ? 2 : 0;  // two SyncBatchNorm forwards
  CHECK((dist::stats() - start).normalization.calls == expected_calls);
}

TEST_CASE("SyncBatchNorm in eval mode normalizes with running statistics and communicates nothing") {
  dist::SyncBatchNorm bn(3);
  bn.eval();
  dist::CommStats start = dist::stats();
  Tensor x = nl::randn({4, 3});
  CHECK(max_error({bn(x).to_vector<float>()}, {((x - 0.0) / std::sqrt(1.0 + 1e-5)).to_vector<float>()}) < 1e-6);
  CHECK((dist::stats() - start).total().calls == 0);
}

TEST_CASE("SyncBatchNorm has BatchNorm1d's parameters and buffers, and its errors") {
  dist::SyncBatchNorm bn(5, 1e-3, std::nullopt, true, true, nl::f64);
  std::vector<std::string> names;
  for (auto& [name, t] : bn.state_dict()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"bias", "num_batches_tracked", "running_mean", "running_var", "weight"});
  CHECK(bn.weight.dtype() == nl::f64);
  CHECK_THROWS_WITH(bn(nl::randn({4, 6}, nl::f64)), Catch::Contains("SyncBatchNorm: expected input (N, C) or (N, C, *) with C = 5"));
  CHECK_THROWS_WITH(dist::SyncBatchNorm(0), Catch::Contains("SyncBatchNorm: num_features must be > 0"));
  layers::BatchNorm1d plain(4, 1e-5, 0.2, false, false);
  auto copy = dist::SyncBatchNorm::from_batch_norm(plain);
  CHECK_FALSE(copy->weight.defined());
  CHECK_FALSE(copy->running_mean.defined());
  CHECK(copy->momentum == 0.2);
}

TEST_CASE("replace_module swaps children of a Sequential and refuses clearly elsewhere") {
  layers::Sequential seq{std::make_shared<layers::Linear>(2, 3), std::make_shared<layers::ReLU>()};
  seq.replace_module("1", std::make_shared<layers::Tanh>());
  CHECK(seq[1]->type_name() == "Tanh");
  Tensor y = seq(nl::full({1, 2}, 100.0));
  CHECK(y.to_vector<float>()[0] <= 1.0f);  // tanh now, not relu
  CHECK_THROWS_WITH(seq.replace_module("7", std::make_shared<layers::Tanh>()),
                    Catch::Contains("no submodule named \"7\""));
  CHECK_THROWS_WITH(seq.replace_module("0", nullptr), Catch::Contains("is null"));
  // a module holding typed pointers to its children cannot take a swap
  layers::TransformerEncoderLayer block(8, 2);
  CHECK_THROWS_WITH(block.replace_module("norm1", std::make_shared<layers::LayerNorm>(nl::Shape{8})),
                    Catch::Contains("cannot swap \"norm1\""));
  layers::BatchNorm1d alone(3);
  CHECK_THROWS_WITH(dist::convert_sync_batchnorm(alone), Catch::Contains("the model itself is a BatchNorm1d"));
}
