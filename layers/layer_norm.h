#pragma once
// LayerNorm (Ba, Kiros & Hinton 2016), as torch.nn.LayerNorm: normalizes each
// sample over its trailing dims normalized_shape, then scales and shifts:
//   y = (x − mean) / √(var + eps) · weight + bias   (biased var, per sample)
// The same computation in training and eval; no dependence on the batch.
// weight starts at 1, bias at 0. forward runs the fused kernel
// (core/ops/layer_norm.cpp); use_reference switches to its composition from
// primitive ops, nl::reference::layer_norm (slower; for teaching and testing).
#include "layers/module.h"

namespace nl::layers {

class LayerNorm : public Layer<LayerNorm> {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true, bool bias = true,
                     DType dtype = f32);

  Shape normalized_shape;
  double eps;
  Tensor weight, bias;  // undefined without elementwise_affine
  bool use_reference = false;

 protected:
  friend Layer<LayerNorm>;
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
};

}  // namespace nl::layers
