#pragma once
// DistributedSampler: which samples of a dataset this rank trains on, epoch by
// epoch, as torch.utils.data.DistributedSampler.
//
// Every rank draws the same permutation of 0 .. size−1 from (seed + epoch)
// (shuffle), or takes them in order; then
//   drop_last = false: pads the list with its own first entries until it
//                      divides evenly (some samples appear twice per epoch),
//   drop_last = true:  cuts the tail so it divides evenly,
// and rank r takes every num_replicas-th entry starting at r. So each rank gets
// num_samples() indices, the ranks' shares are disjoint (up to the padding),
// and per-rank batch b of size B across all ranks is the global batch
// perm[b·B·N .. (b+1)·B·N) of a single process with batch B·N.
//
//   nl::dist::DistributedSampler sampler(train_size, {.seed = cfg.seed});
//   for (int64_t epoch = 0; ...; ++epoch) {
//     sampler.set_epoch(epoch);                   // a new shuffle each epoch
//     std::vector<int64_t> mine = sampler.indices();
//     for (size_t i = 0; i + B <= mine.size(); i += B) ... rows mine[i .. i+B) ...
//   }
#include <cstdint>
#include <vector>

namespace nl::dist {

struct DistributedSamplerOptions {
  bool shuffle = true;
  uint64_t seed = 0;
  bool drop_last = false;
  int num_replicas = -1;  // −1: world_size()
  int rank = -1;          // −1: rank()
};

class DistributedSampler {
 public:
  explicit DistributedSampler(int64_t dataset_size, DistributedSamplerOptions options = {});
  void set_epoch(int64_t epoch) { epoch_ = epoch; }
  int64_t epoch() const { return epoch_; }
  // This rank's indices for the current epoch, num_samples() of them.
  std::vector<int64_t> indices() const;
  int64_t num_samples() const { return num_samples_; }  // per rank and epoch
  int64_t total_size() const { return num_samples_ * num_replicas_; }
  int num_replicas() const { return num_replicas_; }
  int rank() const { return rank_; }

 private:
  int64_t dataset_size_;
  DistributedSamplerOptions options_;
  int num_replicas_, rank_;
  int64_t num_samples_;
  int64_t epoch_ = 0;
};

// A permutation of 0 .. n−1 that depends only on seed (Fisher–Yates over
// nl::Generator's counter-based bits): the same on every rank and machine.
std::vector<int64_t> random_permutation(int64_t n, uint64_t seed);

}  // namespace nl::dist
