#pragma once
// The BatchNorm family (Ioffe & Szegedy 2015), as torch.nn's: each channel
// (dim 1) normalized over the batch and every other dim.
//   training: batch statistics normalize; running_mean and running_var
//             follow them with `momentum`
//             (absent momentum: a cumulative average, factor 1/num_batches_tracked)
//   eval:     running_mean and running_var normalize (when tracked)
// The formula, forward and backward: core/ops/batch_norm.cpp.
//
//   BatchNorm1d     (N, C) or (N, C, L)      torch.nn.BatchNorm1d
//   BatchNorm2d     (N, C, H, W)             torch.nn.BatchNorm2d
//   BatchRenorm1d/2d  the same inputs, Batch Renormalization (Ioffe 2017):
//                   in training the batch-normalized value is corrected
//                   towards the running statistics by r and d, clipped to
//                   r_max and d_max (core/ops/batch_renorm.cpp)
// All have PyTorch's parameters (weight, bias) and buffers (running_mean,
// running_var, num_batches_tracked), so state dicts move between them and
// PyTorch. BatchNorm is their base (PyTorch's _BatchNorm): the parameters,
// buffers and the update of the running statistics; the subclasses check the
// input's rank. nl::dist::SyncBatchNorm derives from it too.
// use_reference: compose from primitive ops instead of the fused kernel.
#include <optional>

#include "core/ops.h"
#include "layers/module.h"

namespace nl::layers {

class BatchNorm : public Layer<BatchNorm> {
 public:
  int64_t num_features;
  double eps;
  std::optional<double> momentum;
  bool track_running_stats;
  Tensor weight, bias;                                    // undefined without affine
  Tensor running_mean, running_var, num_batches_tracked;  // undefined without tracking
  bool use_reference = false;

 protected:
  // type: the class name ("BatchNorm2d"); weight starts at 1, bias at 0 (when affine).
  BatchNorm(std::string type, int64_t num_features, double eps, std::optional<double> momentum, bool affine,
            bool track_running_stats, DType dtype);
  // Virtual: bn(x) runs a subclass's through Layer<BatchNorm>.
  friend Layer<BatchNorm>;
  Tensor forward(const Tensor& x) override = 0;
  // The input's rank must be one of `ranks` (shown as `expected`) and dim 1 num_features.
  void check_input(const Tensor& x, std::initializer_list<int> ranks, const char* expected) const;
  // In training with tracked statistics, counts the batch and returns the
  // running statistics' update factor (momentum, or 1/num_batches_tracked); else 0.
  double update_factor();
  // forward with batch statistics summed across processes by `sum` (empty: local).
  Tensor forward_batch_norm(const Tensor& x, const CrossProcessSum& sum);
  // Whether this forward normalizes with batch statistics (training, or nothing tracked).
  bool uses_batch_statistics() const { return is_training() || !track_running_stats; }
  std::string extra_repr() const override;
};

// Inputs (N, C) or (N, C, L).
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                       bool affine = true, bool track_running_stats = true, DType dtype = f32);

 protected:
  Tensor forward(const Tensor& x) override;
};

// Inputs (N, C, H, W): statistics per channel over N·H·W values.
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                       bool affine = true, bool track_running_stats = true, DType dtype = f32);

 protected:
  Tensor forward(const Tensor& x) override;
};

// Batch Renormalization: BatchNorm's parameters and buffers, plus r_max and
// d_max, which a training loop may change between steps (the paper starts at
// 1 and 0, BatchNorm, and relaxes them to 3 and 5). Running statistics are
// always tracked: r and d are measured against them. Without momentum the
// cumulative average of BatchNorm.
class BatchRenorm : public BatchNorm {
 public:
  double r_max, d_max;

 protected:
  BatchRenorm(std::string type, int64_t num_features, double eps, std::optional<double> momentum, bool affine,
              double r_max, double d_max, DType dtype);
  Tensor forward_batch_renorm(const Tensor& x);
  std::string extra_repr() const override;
};

// Every BatchRenorm in module's tree (the module itself included) gets the
// limits r_max ≥ 1 and d_max ≥ 0: what a training loop calls between steps to
// relax them (examples/common/renorm_schedule.h). Returns how many it set.
int64_t set_renorm_limits(Module& module, double r_max, double d_max);

// Inputs (N, C) or (N, C, L).
class BatchRenorm1d : public BatchRenorm {
 public:
  explicit BatchRenorm1d(int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                         bool affine = true, double r_max = 1.0, double d_max = 0.0, DType dtype = f32);

 protected:
  Tensor forward(const Tensor& x) override;
};

// Inputs (N, C, H, W).
class BatchRenorm2d : public BatchRenorm {
 public:
  explicit BatchRenorm2d(int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                         bool affine = true, double r_max = 1.0, double d_max = 0.0, DType dtype = f32);

 protected:
  Tensor forward(const Tensor& x) override;
};

}  // namespace nl::layers
