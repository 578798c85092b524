#pragma once
// Shared by the workload files: random class indices and one training step.
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
