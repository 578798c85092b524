#pragma once
// Adagrad (Duchi et al. 2011), as torch.optim.Adagrad. With t the step count:
//
//   g = grad + weight_decay·p
//   clr = lr / (1 + (t − 1)·lr_decay)
//   sum = sum + g²                 (sum starts at initial_accumulator_value)
//   p = p − clr · g / (√sum + eps)
#include "optim/optimizer.h"

namespace nl::optim {

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0;
  double weight_decay = 0;
  double initial_accumulator_value = 0;
  double eps = 1e-10;
};

class Adagrad : public Optimizer {
 public:
  Adagrad(std::vector<Tensor> params, AdagradOptions options)
      : Adagrad(std::vector<ParamGroup>{ParamGroup{.params = params}}, options) {}
  Adagrad(std::vector<ParamGroup> groups, AdagradOptions options);
  const AdagradOptions options;

 protected:
  void update(const Group& group, Tensor& p, const Tensor& grad, ParamState& state) override;
};

}  // namespace nl::optim
