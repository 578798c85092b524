#pragma once
// Flatten, as torch.nn.Flatten: dims start_dim .. end_dim of the input become
// one (by default all but the batch dim: (N, C, H, W) -> (N, C·H·W)).
#include <fmt/format.h>

#include <string>

#include "layers/module.h"

namespace nl::layers {

class Flatten : public Layer<Flatten> {
 public:
  explicit Flatten(int64_t start_dim_ = 1, int64_t end_dim_ = -1)
      : Layer("Flatten"), start_dim(start_dim_), end_dim(end_dim_) {}
  int64_t start_dim, end_dim;

 protected:
  friend Layer<Flatten>;
  Tensor forward(const Tensor& x) override { return x.flatten(start_dim, end_dim); }
  std::string extra_repr() const override { return fmt::format("start_dim={}, end_dim={}", start_dim, end_dim); }
};

}  // namespace nl::layers
