#include "dist/distributed_sampler.h"

#include <numeric>

#include "core/error.h"
#include "core/random.h"
#include "dist/comm.h"

namespace nl::dist {

std::vector<int64_t> random_permutation(int64_t n, uint64_t seed) {
  if (n < 0) fail("random_permutation: n must be >= 0, got {}", n);
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), int64_t(0));
  Generator generator(seed);
  // Fisher–Yates: swap i with a uniform j in [0, i]; j = ⌊bits·(i+1) / 2⁶⁴⌋.
  for (int64_t i = n - 1; i > 0; --i) {
    uint64_t j = uint64_t((unsigned __int128)generator.bits(uint64_t(i)) * uint64_t(i + 1) >> 64);
    std::swap(perm[size_t(i)], perm[size_t(j)]);
  }
  return perm;
}

DistributedSampler::DistributedSampler(int64_t dataset_size, DistributedSamplerOptions options)
    : dataset_size_(dataset_size),
      options_(options),
      num_replicas_(options.num_replicas < 0 ? world_size() : options.num_replicas),
      rank_(options.rank < 0 ? dist::rank() : options.rank) {
  if (dataset_size < 0) fail("DistributedSampler: dataset size must be >= 0, got {}", dataset_size);
  if (num_replicas_ < 1) fail("DistributedSampler: num_replicas must be >= 1, got {}", num_replicas_);
  if (rank_ >= num_replicas_)
    fail("DistributedSampler: rank {} is not in [0, {}) (num_replicas)", rank_, num_replicas_);
  if (!options.drop_last && dataset_size == 0)
    fail("DistributedSampler: the dataset is empty (nothing to pad {} ranks with)", num_replicas_);
  // As PyTorch: drop_last rounds the per-rank count down, otherwise up.
  int64_t n = dataset_size, r = num_replicas_;
  num_samples_ = options.drop_last ? (n >= r ? (n - r + r - 1) / r : 0) : (n + r - 1) / r;
  if (options.drop_last && n % r == 0) num_samples_ = n / r;
}

std::vector<int64_t> DistributedSampler::indices() const {
  std::vector<int64_t> all;
  if (options_.shuffle) {
    all = random_permutation(dataset_size_, options_.seed + uint64_t(epoch_));
  } else {
    all.resize(size_t(dataset_size_));
    std::iota(all.begin(), all.end(), int64_t(0));
  }
  int64_t total = total_size();
  for (int64_t i = 0; int64_t(all.size()) < total; ++i) {  // pad from the front (cycling) ...
    int64_t again = all[size_t(i)];
    all.push_back(again);
  }
  all.resize(size_t(total));  // ... or drop the tail
  std::vector<int64_t> mine;
  mine.reserve(size_t(num_samples_));
  for (int64_t i = rank_; i < total; i += num_replicas_) mine.push_back(all[size_t(i)]);
  return mine;
}

}  // namespace nl::dist
