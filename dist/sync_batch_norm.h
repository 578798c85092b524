#pragma once
// SyncBatchNorm: BatchNorm1d/2d whose batch statistics are those of the
// global batch, over every rank of a data-parallel job (torch.nn.SyncBatchNorm,
// for inputs (N, C) and (N, C, *); the same parameters and buffers as
// BatchNorm1d/2d, so checkpoints move between them).
//
// Training in a world of N > 1 processes costs two allreduces per layer and
// step, on the critical path (nothing can proceed without them): 1 + 2C
// doubles in forward, 2C in backward (what they sum, and the formula:
// core/ops/batch_norm.cpp). So every rank normalizes with the global mean and
// variance, its dx is the gradient of the global-batch loss, and the running
// statistics (global mean, unbiased global variance) stay identical on all
// ranks. weight and bias get local gradients that DataParallel averages like
// any other.
// In eval, or in a world of one process, it is exactly BatchNorm1d/2d (no
// communication). Plain BatchNorm1d/2d under DataParallel keeps per-rank
// statistics: the unsynchronized baseline.
#include <memory>

#include "layers/batch_norm.h"

namespace nl::dist {

class SyncBatchNorm : public layers::BatchNorm {
 public:
  explicit SyncBatchNorm(int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                         bool affine = true, bool track_running_stats = true, DType dtype = f32);

  // A SyncBatchNorm with bn's settings, a copy of its parameters and buffers, and its training mode.
  static std::shared_ptr<SyncBatchNorm> from_batch_norm(const layers::BatchNorm& bn);

 protected:
  // sync_bn(x) runs this through BatchNorm's call operator (Layer<BatchNorm>), hooks and all.
  Tensor forward(const Tensor& x) override;
};

// Swaps every BatchNorm1d and BatchNorm2d inside model (at any depth) for an equivalent
// SyncBatchNorm, as torch.nn.SyncBatchNorm.convert_sync_batchnorm; returns how
// many. Call it before DataParallel and before making the optimizer (the
// parameters are new tensors). A parent that keeps typed pointers to its
// BatchNorm children cannot swap them and throws (see Module::replace_module).
int convert_sync_batchnorm(layers::Module& model);

}  // namespace nl::dist
