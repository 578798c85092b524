#pragma once
// Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019), as
// torch.optim.Adam / AdamW. With t the step count:
//
//   Adam:  g = grad + weight_decay·p           (L2 penalty in the gradient)
//   AdamW: p = p · (1 − lr·weight_decay)       (decoupled decay), g = grad
//   m = β1·m + (1 − β1)·g,   v = β2·v + (1 − β2)·g²
//   v̂ = max(v̂, v) with amsgrad, else v̂ = v
//   p = p − lr/(1 − β1ᵗ) · m / (√v̂ / √(1 − β2ᵗ) + eps)
#include <utility>

#include "optim/optimizer.h"

namespace nl::optim {

struct AdamOptions {
  double lr = 1e-3;
  std::pair<double, double> betas{0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;  // AdamW's default is 1e-2 (see AdamW below)
  bool amsgrad = false;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, AdamOptions options)
      : Adam(std::vector<ParamGroup>{ParamGroup{.params = params}}, options) {}
  Adam(std::vector<ParamGroup> groups, AdamOptions options) : Adam("Adam", std::move(groups), options, false) {}
  const AdamOptions options;

 protected:
  Adam(const char* name, std::vector<ParamGroup> groups, AdamOptions options, bool decoupled_weight_decay);
  void update(const Group& group, Tensor& p, const Tensor& grad, ParamState& state) override;
  const bool decoupled_weight_decay;
};

// AdamW's options: Adam's, with PyTorch's AdamW default weight_decay = 1e-2.
struct AdamWOptions {
  double lr = 1e-3;
  std::pair<double, double> betas{0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
  operator AdamOptions() const { return {lr, betas, eps, weight_decay, amsgrad}; }
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, AdamWOptions options)
      : AdamW(std::vector<ParamGroup>{ParamGroup{.params = params}}, options) {}
  AdamW(std::vector<ParamGroup> groups, AdamWOptions options) : Adam("AdamW", std::move(groups), options, true) {}
};

}  // namespace nl::optim
