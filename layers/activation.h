#pragma once
// Activation modules: stateless wrappers of the ops of the same name.
#include <string>

#include "core/ops.h"
#include "layers/module.h"

namespace nl::layers {

class ReLU : public Layer<ReLU> {
 public:
  ReLU() : Layer("ReLU") {}

 protected:
  friend Layer<ReLU>;
  Tensor forward(const Tensor& x) override { return relu(x); }
};

class Tanh : public Layer<Tanh> {
 public:
  Tanh() : Layer("Tanh") {}

 protected:
  friend Layer<Tanh>;
  Tensor forward(const Tensor& x) override { return tanh(x); }
};

class Sigmoid : public Layer<Sigmoid> {
 public:
  Sigmoid() : Layer("Sigmoid") {}

 protected:
  friend Layer<Sigmoid>;
  Tensor forward(const Tensor& x) override { return sigmoid(x); }
};

// approximate: "none" (exact, with erf) or "tanh", as torch.nn.GELU.
class GELU : public Layer<GELU> {
 public:
  explicit GELU(std::string approximate = "none") : Layer("GELU"), approximate(std::move(approximate)) {
    gelu(zeros({1}), this->approximate);  // rejects an unknown name now, not at the first forward
  }
  std::string approximate;

 protected:
  friend Layer<GELU>;
  Tensor forward(const Tensor& x) override { return gelu(x, approximate); }
  std::string extra_repr() const override { return "approximate='" + approximate + "'"; }
};

}  // namespace nl::layers
