#pragma once
// Minibatches drawn with replacement from a labelled set held in memory, the
// simplest sampler for synthetic data: each step takes batch_size rows at
// random (from the global generator), so a run is a function of its seed.
//
//   examples::RandomBatches batches(train_x, train_y);
//   auto [x, y] = batches.next(128);
#include <cstdint>
#include <utility>
#include <vector>

#include "normlab.h"

namespace examples {

class RandomBatches {
 public:
  // inputs (N, ...) and labels (N) int64.
  RandomBatches(nl::Tensor inputs, const nl::Tensor& labels)
      : inputs_(std::move(inputs)), labels_(labels.to_vector<int64_t>()) {}

  // batch_size rows and their labels; embedding() is exactly a row lookup.
  std::pair<nl::Tensor, nl::Tensor> next(int64_t batch_size) const {
    nl::Tensor index = (nl::rand({batch_size}, nl::f64) * double(inputs_.size(0))).to(nl::i64);
    std::vector<int64_t> picked;
    for (int64_t i : index.to_vector<int64_t>()) picked.push_back(labels_[size_t(i)]);
    return {nl::embedding(inputs_, index), nl::from_vector(picked)};
  }

 private:
  nl::Tensor inputs_;
  std::vector<int64_t> labels_;
};

}  // namespace examples
