#pragma once
// Linear: y = x·Wᵀ + b, as torch.nn.Linear. weight is (out_features,
// in_features), bias (out_features); both start U(−1/√in, 1/√in).
#include "layers/module.h"

namespace nl::layers {

class Linear : public Layer<Linear> {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, DType dtype = f32);

  int64_t in_features, out_features;
  Tensor weight, bias;

 protected:
  friend Layer<Linear>;                      // linear(x) runs forward between the hooks
  Tensor forward(const Tensor& x) override;  // (..., in) -> (..., out)
  std::string extra_repr() const override;
};

}  // namespace nl::layers
