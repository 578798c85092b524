#pragma once
// RMSNorm (Zhang & Sennrich 2019), as torch.nn.RMSNorm: rescales each sample
// by the root mean square over its trailing dims, without centering:
//   y = x / √(mean(x²) + eps) · weight
// eps defaults (when absent) to the machine epsilon of the input's dtype, as
// PyTorch. use_reference: compose from primitive ops instead of the fused kernel.
#include <optional>

#include "layers/module.h"

namespace nl::layers {

class RMSNorm : public Layer<RMSNorm> {
 public:
  explicit RMSNorm(Shape normalized_shape, std::optional<double> eps = std::nullopt, bool elementwise_affine = true,
                   DType dtype = f32);

  Shape normalized_shape;
  std::optional<double> eps;
  Tensor weight;  // undefined without elementwise_affine
  bool use_reference = false;

 protected:
  friend Layer<RMSNorm>;
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
};

}  // namespace nl::layers
