#pragma once
// Shared by the nl::dist tests: a tiny classification task, a tiny MLP with a
// choice of normalization, one training step on one process (the reference)
// and on this rank's shard under DataParallel, and comparisons.
#include <catch2/catch.hpp>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "dist/dist.h"
#include "normlab.h"

namespace dist_test {

using nl::Tensor;

constexpr int64_t kSamples = 128, kFeatures = 8, kHidden = 16, kClasses = 4;

struct Batch {
  Tensor x;  // (n, kFeatures) float32
  Tensor y;  // (n) int64
};

// kSamples points whose class is the argmax of a fixed random projection;
// features have mean ≠ 0 so that normalization has something to do.
inline Batch make_data(uint64_t seed) {
  nl::manual_seed(seed);
  Tensor x = nl::randn({kSamples, kFeatures}) * 2.0 + 0.5;
  Tensor projection = nl::randn({kFeatures, kClasses});
  return {x, nl::matmul(x, projection).argmax(1)};
}

// The rows `indices` of a batch.
inline Batch rows(const Batch& b, const std::vector<int64_t>& indices) {
  std::vector<float> x = b.x.to_vector<float>(), xs;
  std::vector<int64_t> y = b.y.to_vector<int64_t>(), ys;
  for (int64_t i : indices) {
    xs.insert(xs.end(), x.begin() + i * kFeatures, x.begin() + (i + 1) * kFeatures);
    ys.push_back(y[size_t(i)]);
  }
  return {nl::from_vector(xs, {int64_t(indices.size()), kFeatures}), nl::from_vector(ys)};
}

enum class Norm { layer, batch, sync_batch };

// Linear → norm → ReLU → Linear; the same weights for the same seed. sync_batch
// builds BatchNorm1d and converts it, as a user would.
inline std::shared_ptr<nl::layers::Sequential> make_model(Norm norm, uint64_t seed = 1) {
  namespace layers = nl::layers;
  nl::manual_seed(seed);
  auto model = std::make_shared<layers::Sequential>();
  model->push_back(std::make_shared<layers::Linear>(kFeatures, kHidden));
  if (norm == Norm::layer)
    model->push_back(std::make_shared<layers::LayerNorm>(nl::Shape{kHidden}));
  else
    model->push_back(std::make_shared<layers::BatchNorm1d>(kHidden));
  model->push_back(std::make_shared<layers::ReLU>());
  model->push_back(std::make_shared<layers::Linear>(kHidden, kClasses));
  if (norm == Norm::sync_batch) REQUIRE(nl::dist::convert_sync_batchnorm(*model) == 1);
  return model;
}

// Loss, gradients and buffers after one forward/backward.
struct Step {
  double loss = 0;
  std::vector<std::vector<float>> grads, buffers;
};

inline Step snapshot(const nl::layers::Module& model, double loss) {
  Step s{loss, {}, {}};
  for (const Tensor& p : model.parameters()) s.grads.push_back(p.grad().to_vector<float>());
  for (auto& [name, b] : model.named_buffers())
    if (b.is_floating_point()) s.buffers.push_back(b.to_vector<float>());
  return s;
}

// One process, the whole batch (what the distributed step must reproduce).
inline Step reference_step(Norm norm, const Batch& data) {
  auto model = make_model(norm == Norm::sync_batch ? Norm::batch : norm);
  Tensor loss = nl::cross_entropy((*model)(data.x), data.y);
  loss.backward();
  return snapshot(*model, loss.item<double>());
}

// This rank's shard (from DistributedSampler) under DataParallel; the loss is
// the mean of the ranks' losses (equal shard sizes: the global-batch loss).
inline Step distributed_step(nl::layers::Module& model, nl::dist::DataParallel& ddp, const Batch& data,
                             uint64_t sampler_seed = 7) {
  nl::dist::DistributedSampler sampler(kSamples, {.seed = sampler_seed});
  Batch shard = rows(data, sampler.indices());
  model.zero_grad();
  Tensor loss = nl::cross_entropy(model(shard.x), shard.y);
  loss.backward();
  ddp.average_gradients();
  return snapshot(model, nl::dist::allreduce_mean(loss.item<double>()));
}

// Largest |a − b| / (1e-5 + |b|)-style error over all values: 0 when equal.
inline double max_error(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t t = 0; t < a.size(); ++t) {
    REQUIRE(a[t].size() == b[t].size());
    for (size_t i = 0; i < a[t].size(); ++i)
      worst = std::max(worst, std::abs(double(a[t][i]) - double(b[t][i])) / (1e-3 + std::abs(double(b[t][i]))));
  }
  return worst;
}

}  // namespace dist_test
