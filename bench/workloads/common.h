#pragma once
// Shared by the workload files: random class indices, one forward + backward
// of a layer, one training step.
#include <fmt/format.h>

#include <memory>
#include <random>
#include <vector>

#include "bench/harness.h"
#include "normlab.h"

namespace bench {

// int64 indices uniform in [0, classes), fixed seed (the data never changes between runs).
inline nl::Tensor random_indices(const nl::Shape& shape, int64_t classes, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> pick(0, classes - 1);
  std::vector<int64_t> values(size_t(nl::numel_of(shape)));
  for (int64_t& v : values) v = pick(rng);
  return nl::from_vector(values, shape);
}

// One forward + backward of `layer` on a fixed random x of `in_shape` with a
// fixed random upstream gradient of `out_shape`; gradients are dropped before
// each run (set to none), so every run does the same work.
inline std::function<void()> forward_backward(std::shared_ptr<nl::layers::Module> layer, const nl::Shape& in_shape,
                                              const nl::Shape& out_shape) {
  nl::Tensor x = nl::randn(in_shape).requires_grad_(true);
  nl::Tensor dy = nl::randn(out_shape);
  return [layer, x, dy] {
    layer->zero_grad();
    x.set_grad(nl::Tensor());
    (*layer)(x).backward(dy);
  };
}
// ... when the output has the input's shape (the norms, a convolution with "same" padding).
inline std::function<void()> forward_backward(std::shared_ptr<nl::layers::Module> layer, const nl::Shape& shape) {
  return forward_backward(std::move(layer), shape, shape);
}

// One optimizer step: zero_grad, loss = loss_fn(), backward, step.
template <typename Model, typename Optimizer, typename LossFn>
std::function<void()> training_step(std::shared_ptr<Model> model, std::shared_ptr<Optimizer> optimizer,
                                    LossFn loss_fn) {
  return [model, optimizer, loss_fn] {
    optimizer->zero_grad();
    nl::Tensor loss = loss_fn();
    loss.backward();
    optimizer->step();
  };
}

// Matmul FLOPs of a training step whose forward does `forward` FLOPs in
// matmuls, when every matmul also needs both gradients (dX and dW): 3×.
inline double train_flops(double forward) { return 3 * forward; }

}  // namespace bench
