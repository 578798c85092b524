#pragma once
// Dropout(p): in training, zeroes each element with probability p and scales
// the rest by 1/(1 − p) (inverted dropout); in eval, the identity.
#include <fmt/format.h>

#include "core/ops.h"
#include "layers/module.h"

namespace nl::layers {

class Dropout : public Layer<Dropout> {
 public:
  explicit Dropout(double p = 0.5) : Layer("Dropout"), p(p) {
    if (!(p >= 0 && p < 1)) fail("Dropout: p must be in [0, 1), got {}", p);
  }
  double p;

 protected:
  friend Layer<Dropout>;
  Tensor forward(const Tensor& x) override { return dropout(x, p, is_training()); }
  std::string extra_repr() const override { return fmt::format("p={}", p); }
};

}  // namespace nl::layers
