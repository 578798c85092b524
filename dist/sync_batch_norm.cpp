#include "dist/sync_batch_norm.h"

#include "dist/comm.h"

namespace nl::dist {

SyncBatchNorm::SyncBatchNorm(int64_t num_features, double eps, std::optional<double> momentum, bool affine,
                             bool track_running_stats, DType dtype)
    : BatchNorm("SyncBatchNorm", num_features, eps, momentum, affine, track_running_stats, dtype) {}

Tensor SyncBatchNorm::forward(const Tensor& x) {
  check_input(x, {2, 3, 4, 5}, "(N, C) or (N, C, *)");
  // As PyTorch: synchronize only batch statistics in training mode, and only
  // when there is another process to synchronize with.
  bool sync = is_training() && uses_batch_statistics() && world_size() > 1;
  if (!sync) return forward_batch_norm(x, CrossProcessSum());
  return forward_batch_norm(x, [](double* values, int64_t n) { allreduce_sum(values, n, Traffic::normalization); });
}

std::shared_ptr<SyncBatchNorm> SyncBatchNorm::from_batch_norm(const layers::BatchNorm& bn) {
  DType dtype = bn.weight.defined() ? bn.weight.dtype() : bn.running_mean.defined() ? bn.running_mean.dtype() : f32;
  auto sync = std::make_shared<SyncBatchNorm>(bn.num_features, bn.eps, bn.momentum, bn.weight.defined(),
                                              bn.track_running_stats, dtype);
  sync->load_state_dict(bn.state_dict());
  sync->train(bn.is_training());
  return sync;
}

namespace {
// What convert_sync_batchnorm swaps: BatchNorm1d and BatchNorm2d (not
// SyncBatchNorm, and not Batch Renormalization, whose r and d have no
// cross-process path); null for anything else.
layers::BatchNorm* plain_batch_norm(layers::Module* module) {
  if (auto* bn = dynamic_cast<layers::BatchNorm1d*>(module)) return bn;
  return dynamic_cast<layers::BatchNorm2d*>(module);
}

int convert_children(layers::Module& parent) {
  int converted = 0;
  for (auto& [name, child] : parent.named_children()) {
    if (layers::BatchNorm* bn = plain_batch_norm(child.get())) {
      parent.replace_module(name, SyncBatchNorm::from_batch_norm(*bn));
      ++converted;
    } else {
      converted += convert_children(*child);
    }
  }
  return converted;
}
}  // namespace

int convert_sync_batchnorm(layers::Module& model) {
  if (plain_batch_norm(&model))
    fail(
        "convert_sync_batchnorm: the model itself is a {} and cannot replace itself; make a SyncBatchNorm "
        "(SyncBatchNorm::from_batch_norm) instead",
        model.type_name());
  return convert_children(model);
}

}  // namespace nl::dist
