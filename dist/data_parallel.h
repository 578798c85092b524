#pragma once
// DataParallel: synchronous data-parallel training of one model over the
// ranks of the world (as PyTorch's DistributedDataParallel, without overlap).
// Every rank holds the whole model and trains on its own shard of each global
// batch; after backward the gradients are averaged, so every rank takes the
// same optimizer step and the replicas stay identical.
//
//   nl::dist::Context dist(argc, argv);
//   auto model = std::make_shared<nl::models::MLP>(sizes, NormKind::batch);
//   nl::dist::convert_sync_batchnorm(*model);      // optional: BatchNorm1d -> SyncBatchNorm
//   nl::dist::DataParallel ddp(*model);            // same model everywhere, rank 0's weights
//   nl::optim::SGD opt(model->parameters(), {.lr = 0.1});
//   nl::dist::DistributedSampler sampler(train_size, {.seed = seed});
//   for (epoch ...) { sampler.set_epoch(epoch); ... per-rank batches of sampler.indices() ...
//     opt.zero_grad();
//     loss = cross_entropy((*model)(x), y);  loss.backward();
//     ddp.average_gradients();                     // grad ← mean over ranks
//     opt.step();
//   }
//
// Gradients travel in buckets: the parameters' gradients, in parameter order,
// are packed by dtype into flat buffers of at most bucket_bytes (25 MB, as
// PyTorch), one allreduce per bucket. In a world of one process nothing is
// communicated. The model must outlive the DataParallel.
#include <cstdint>

#include "dist/comm.h"
#include "layers/module.h"

namespace nl::dist {

struct DataParallelOptions {
  int64_t bucket_bytes = int64_t(25) << 20;
  bool broadcast_buffers = true;  // also copy rank 0's buffers (running statistics) at the start
};

class DataParallel {
 public:
  // Checks that every rank built the same model (names, shapes and dtypes of
  // parameters and buffers; a clear nl::Error on every rank otherwise), then
  // copies rank 0's parameters (and buffers) to all ranks.
  explicit DataParallel(layers::Module& model, DataParallelOptions options = {});

  // Rank 0's parameters (and buffers, when options say so) to every rank (Traffic::other).
  void broadcast_parameters();
  // Rank 0's buffers to every rank: with plain BatchNorm1d each rank's running
  // statistics follow its own shard; this makes all ranks evaluate (and
  // checkpoint) rank 0's. SyncBatchNorm's are identical anyway.
  void broadcast_buffers();
  // After loss.backward(), before optimizer.step(): every gradient becomes its
  // mean over the ranks (Traffic::gradients). A parameter without a gradient
  // counts as zero and gets one.
  void average_gradients();
  // Whether all ranks hold bitwise identical parameters (or buffers): one
  // small collective over a hash of their bytes (Traffic::other).
  bool parameters_in_sync() const;
  bool buffers_in_sync() const;

  // How many allreduce calls average_gradients makes, and their total bytes.
  int64_t num_buckets() const;
  int64_t gradient_bytes() const;

  layers::Module& module() const { return model_; }

 private:
  layers::Module& model_;
  DataParallelOptions options_;
};

}  // namespace nl::dist
