#pragma once
// InstanceNorm (Ulyanov et al. 2016), as torch.nn.InstanceNorm1d/2d: each
// sample's channel normalized over its positions — GroupNorm with one channel
// per group; never across samples. PyTorch's defaults: no affine, no running
// statistics. With track_running_stats, training moves running_mean and
// running_var towards the batch's mean of the instance statistics, and eval
// normalizes with them; without, eval normalizes as training does. The
// formula: core/ops/instance_norm.cpp.
//
//   InstanceNorm1d  (N, C, L)
//   InstanceNorm2d  (N, C, H, W)
// Parameters weight (ones) and bias (zeros) when affine; buffers
// running_mean, running_var, num_batches_tracked when tracking (PyTorch's
// names; as PyTorch, the count is kept for state dicts but not advanced).
// use_reference: compose from primitive ops instead of the fused kernel.
#include "core/ops.h"
#include "layers/module.h"

namespace nl::layers {

class InstanceNorm : public Layer<InstanceNorm> {
 public:
  int64_t num_features;
  double eps, momentum;
  bool track_running_stats;
  Tensor weight, bias;                                    // undefined without affine
  Tensor running_mean, running_var, num_batches_tracked;  // undefined without tracking
  bool use_reference = false;

 protected:
  // type: the class name; rank: the input's (3 or 4), shown as `expected`.
  InstanceNorm(std::string type, int rank, const char* expected, int64_t num_features, double eps, double momentum,
               bool affine, bool track_running_stats, DType dtype);
  friend Layer<InstanceNorm>;
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

 private:
  int rank_;
  const char* expected_;
};

class InstanceNorm1d : public InstanceNorm {
 public:
  explicit InstanceNorm1d(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = false,
                          bool track_running_stats = false, DType dtype = f32);
};

class InstanceNorm2d : public InstanceNorm {
 public:
  explicit InstanceNorm2d(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = false,
                          bool track_running_stats = false, DType dtype = f32);
};

}  // namespace nl::layers
