#pragma once
// Loss modules, as torch.nn: called with (input, target), mean reduction.
// The hooks see input (the logits) and the loss.
#include "core/ops.h"
#include "layers/module.h"

namespace nl::layers {

// Cross-entropy of logits (N, C) against int64 class indices (N); targets
// equal to ignore_index are left out of the loss and of the mean.
class CrossEntropyLoss : public Layer<CrossEntropyLoss> {
 public:
  explicit CrossEntropyLoss(int64_t ignore_index = -100) : Layer("CrossEntropyLoss"), ignore_index(ignore_index) {}
  int64_t ignore_index;

 protected:
  friend Layer<CrossEntropyLoss>;
  Tensor forward(const Tensor& logits, const Tensor& targets) { return cross_entropy(logits, targets, ignore_index); }
};

// Mean squared error over all elements.
class MSELoss : public Layer<MSELoss> {
 public:
  MSELoss() : Layer("MSELoss") {}

 protected:
  friend Layer<MSELoss>;
  Tensor forward(const Tensor& input, const Tensor& target) { return mse_loss(input, target); }
};

}  // namespace nl::layers
