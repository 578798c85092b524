#pragma once
// Minibatches over in-memory tensors, as torch.utils.data.DataLoader over a
// TensorDataset: each epoch visits the samples in a permutation drawn from
// (seed, epoch) alone — its own generator, not the global one — so the batch
// order is the same on every run, machine and thread count, and does not
// shift when the model draws random numbers (dropout, init).
//
//   nl::data::DataLoader loader(mnist.train.images, mnist.train.labels,
//                               {.batch_size = 128, .shuffle = true, .seed = 0, .drop_last = true});
//   for (int64_t epoch = 0; epoch < epochs; ++epoch) {
//     loader.set_epoch(epoch);                  // a new permutation
//     for (const nl::data::Batch& batch : loader) train_step(batch.inputs, batch.targets);
//   }
//
// The last batch: with drop_last = false (the default, as PyTorch) an epoch
// ends with a partial batch of n mod batch_size samples when that is not 0;
// with drop_last = true it is dropped, so every batch has exactly batch_size
// samples (what BatchNorm experiments want: its statistics are then always
// over batch_size samples). With shuffling, the dropped samples differ per epoch.
#include <cstdint>
#include <iterator>
#include <vector>

#include "core/tensor.h"

namespace nl::data {

// 0..n−1 in an order drawn from (seed, epoch) by a Fisher–Yates shuffle.
std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed, int64_t epoch);

// The rows indices[i] of x along dim 0, copied into a new contiguous tensor
// (indices.size(), x.shape[1:]) of x's dtype. Indices are checked.
Tensor gather_rows(const Tensor& x, const std::vector<int64_t>& indices);

struct Batch {
  Tensor inputs;
  Tensor targets;
  std::vector<int64_t> indices;  // which samples (rows of the dataset) these are
};

struct DataLoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;
  uint64_t seed = 0;
  bool drop_last = false;
};

class DataLoader {
 public:
  // inputs and targets have the same size along dim 0 (the samples).
  DataLoader(Tensor inputs, Tensor targets, DataLoaderOptions options);

  // Picks the epoch's permutation (shuffle) — the identity order otherwise.
  void set_epoch(int64_t epoch);
  int64_t epoch() const { return epoch_; }
  int64_t num_samples() const { return inputs_.size(0); }
  int64_t size() const;               // batches per epoch
  Batch operator[](int64_t i) const;  // batch i of the current epoch

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    iterator(const DataLoader* loader, int64_t i) : loader_(loader), i_(i) {}
    Batch operator*() const { return (*loader_)[i_]; }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const iterator& other) const { return i_ == other.i_; }

   private:
    const DataLoader* loader_;
    int64_t i_;
  };
  iterator begin() const { return {this, 0}; }
  iterator end() const { return {this, size()}; }

  const DataLoaderOptions options;

 private:
  Tensor inputs_, targets_;
  std::vector<int64_t> order_;
  int64_t epoch_ = 0;
};

}  // namespace nl::data
