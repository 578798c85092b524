#pragma once
// Loss modules, as torch.nn: called with (input, target), mean reduction.
#include "core/ops.h"
#include "layers/module.h"

namespace nl::layers {

// Cross-entropy of logits (N, C) against int64 class indices (N); targets
// equal to ignore_index are left out of the loss and of the mean.
class CrossEntropyLoss : public Module {
 public:
  explicit CrossEntropyLoss(int64_t ignore_index = -100) : Module("CrossEntropyLoss"), ignore_index(ignore_index) {}
  Tensor forward(const Tensor& logits, const Tensor& targets) { return cross_entropy(logits, targets, ignore_index); }
  Tensor operator()(const Tensor& logits, const Tensor& targets) { return forward(logits, targets); }
  int64_t ignore_index;
};

// Mean squared error over all elements.
class MSELoss : public Module {
 public:
  MSELoss() : Module("MSELoss") {}
  Tensor forward(const Tensor& input, const Tensor& target) { return mse_loss(input, target); }
  Tensor operator()(const Tensor& input, const Tensor& target) { return forward(input, target); }
};

}  // namespace nl::layers
