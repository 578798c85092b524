#pragma once
// Activation modules: stateless wrappers of the ops of the same name.
#include <string>

#include "core/ops.h"
#include "layers/module.h"

namespace nl::layers {

class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}
  Tensor forward(const Tensor& x) override { return relu(x); }
};

class Tanh : public Module {
 public:
  Tanh() : Module("Tanh") {}
  Tensor forward(const Tensor& x) override { return tanh(x); }
};

class Sigmoid : public Module {
 public:
  Sigmoid() : Module("Sigmoid") {}
  Tensor forward(const Tensor& x) override { return sigmoid(x); }
};

// approximate: "none" (exact, with erf) or "tanh", as torch.nn.GELU.
class GELU : public Module {
 public:
  explicit GELU(std::string approximate = "none") : Module("GELU"), approximate(std::move(approximate)) {
    gelu(zeros({1}), this->approximate);  // rejects an unknown name now, not at the first forward
  }
  Tensor forward(const Tensor& x) override { return gelu(x, approximate); }
  std::string approximate;

 protected:
  std::string extra_repr() const override { return "approximate='" + approximate + "'"; }
};

}  // namespace nl::layers
