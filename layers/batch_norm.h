#pragma once
// BatchNorm1d (Ioffe & Szegedy 2015), as torch.nn.BatchNorm1d, for inputs
// (N, C) or (N, C, L): normalizes each channel over the batch (and length).
//   training: batch statistics normalize; running_mean and running_var
//             follow them with `momentum`
//             (absent momentum: a cumulative average, factor 1/num_batches_tracked)
//   eval:     running_mean and running_var normalize (when tracked)
// The formula, forward and backward: core/ops/batch_norm.cpp.
// use_reference: compose from primitive ops instead of the fused kernel.
#include <optional>

#include "core/ops.h"
#include "layers/module.h"

namespace nl::layers {

class BatchNorm1d : public Layer<BatchNorm1d> {
 public:
  explicit BatchNorm1d(int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                       bool affine = true, bool track_running_stats = true, DType dtype = f32);

  int64_t num_features;
  double eps;
  std::optional<double> momentum;
  bool track_running_stats;
  Tensor weight, bias;                                    // undefined without affine
  Tensor running_mean, running_var, num_batches_tracked;  // undefined without tracking
  bool use_reference = false;

 protected:
  // Virtual: bn(x) runs a subclass's (SyncBatchNorm's) through Layer<BatchNorm1d>.
  friend Layer<BatchNorm1d>;
  Tensor forward(const Tensor& x) override;
  // For subclasses (nl::dist::SyncBatchNorm): their own type name, the same
  // parameters and buffers.
  BatchNorm1d(std::string type, int64_t num_features, double eps, std::optional<double> momentum, bool affine,
              bool track_running_stats, DType dtype);
  // forward with batch statistics summed across processes by `sum` (empty: local).
  Tensor forward_batch_norm(const Tensor& x, const CrossProcessSum& sum);
  // Whether this forward normalizes with batch statistics (training, or nothing tracked).
  bool uses_batch_statistics() const { return is_training() || !track_running_stats; }
  std::string extra_repr() const override;
};

}  // namespace nl::layers
