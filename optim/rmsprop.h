#pragma once
// RMSprop (Hinton's lecture 6e), as torch.optim.RMSprop:
//
//   g = grad + weight_decay·p
//   s = α·s + (1 − α)·g²
//   centered: a = α·a + (1 − α)·g,  d = √(s − a²) + eps;  else d = √s + eps
//   momentum > 0: buf = momentum·buf + g/d,  p = p − lr·buf;  else p = p − lr·g/d
#include "optim/optimizer.h"

namespace nl::optim {

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
};

class RMSprop : public Optimizer {
 public:
  RMSprop(std::vector<Tensor> params, RMSpropOptions options)
      : RMSprop(std::vector<ParamGroup>{ParamGroup{.params = params}}, options) {}
  RMSprop(std::vector<ParamGroup> groups, RMSpropOptions options);
  const RMSpropOptions options;

 protected:
  void update(const Group& group, Tensor& p, const Tensor& grad, ParamState& state) override;
};

}  // namespace nl::optim
