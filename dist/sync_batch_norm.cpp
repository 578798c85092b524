#include "dist/sync_batch_norm.h"

#include "dist/comm.h"

namespace nl::dist {

SyncBatchNorm::SyncBatchNorm(int64_t num_features, double eps, std::optional<double> momentum, bool affine,
                             bool track_running_stats, DType dtype)
    : BatchNorm1d("SyncBatchNorm", num_features, eps, momentum, affine, track_running_stats, dtype) {}

Tensor SyncBatchNorm::forward(const Tensor& x) {
  // As PyTorch: synchronize only batch statistics in training mode, and only
  // when there is another process to synchronize with.
  bool sync = is_training() && uses_batch_statistics() && world_size() > 1;
  if (!sync) return forward_batch_norm(x, CrossProcessSum());
  return forward_batch_norm(x, [](double* values, int64_t n) { allreduce_sum(values, n, Traffic::normalization); });
}

std::shared_ptr<SyncBatchNorm> SyncBatchNorm::from_batch_norm(const layers::BatchNorm1d& bn) {
  DType dtype = bn.weight.defined() ? bn.weight.dtype() : bn.running_mean.defined() ? bn.running_mean.dtype() : f32;
  auto sync = std::make_shared<SyncBatchNorm>(bn.num_features, bn.eps, bn.momentum, bn.weight.defined(),
                                              bn.track_running_stats, dtype);
  sync->load_state_dict(bn.state_dict());
  sync->train(bn.is_training());
  return sync;
}

namespace {
int convert_children(layers::Module& parent) {
  int converted = 0;
  for (auto& [name, child] : parent.named_children()) {
    auto* bn = dynamic_cast<layers::BatchNorm1d*>(child.get());
    if (bn && !dynamic_cast<SyncBatchNorm*>(bn)) {
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
  if (dynamic_cast<layers::BatchNorm1d*>(&model) && !dynamic_cast<SyncBatchNorm*>(&model))
    fail(
        "convert_sync_batchnorm: the model itself is a BatchNorm1d and cannot replace itself; make a "
        "SyncBatchNorm (SyncBatchNorm::from_batch_norm) instead");
  return convert_children(model);
}

}  // namespace nl::dist
