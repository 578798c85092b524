#pragma once
// SGD with momentum, dampening, Nesterov and weight decay, as torch.optim.SGD:
//
//   g = grad + weight_decay·p
//   buf = g (first step), then buf = momentum·buf + (1 − dampening)·g
//   g = g + momentum·buf (nesterov) or g = buf (momentum > 0)
//   p = p − lr·g
#include "optim/optimizer.h"

namespace nl::optim {

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, SGDOptions options)
      : SGD(std::vector<ParamGroup>{ParamGroup{.params = params}}, options) {}
  SGD(std::vector<ParamGroup> groups, SGDOptions options);
  const SGDOptions options;

 protected:
  void update(const Group& group, Tensor& p, const Tensor& grad, ParamState& state) override;
};

}  // namespace nl::optim
