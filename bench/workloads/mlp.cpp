// mlp_step_{none,ln,bn}_b{128,4}: one Adam (lr 1e-3) training step of the MLP
// 784-256-256-10 with the norm before each ReLU, on a fixed random batch.
//
// FLOPs counted: the three matmuls forward (2·B·Σ in·out), their weight
// gradients (the same again) and the input gradients of the two layers whose
// input requires grad (the first layer's input is data, so no dX there).
#include <fmt/format.h>

#include "bench/workloads/common.h"

namespace bench {
namespace {

double mlp_flops(int64_t batch) {
  double b = double(batch);
  double forward = 2 * b * (784.0 * 256 + 256.0 * 256 + 256.0 * 10);
  double input_grads = 2 * b * (256.0 * 256 + 256.0 * 10);
  return 2 * forward + input_grads;
}

Workload mlp_workload(const char* norm_name, nl::models::NormKind norm, int64_t batch) {
  return {fmt::format("mlp_step_{}_b{}", norm_name, batch),
          fmt::format("MLP 784-256-256-10, norm={}, batch {}: zero_grad, forward, cross-entropy, backward, Adam step",
                      norm_name, batch),
          {0, mlp_flops(batch)},
          [norm, batch] {
            auto model = std::make_shared<nl::models::MLP>(std::vector<int64_t>{784, 256, 256, 10}, norm);
            auto optimizer = std::make_shared<nl::optim::Adam>(model->parameters(), nl::optim::AdamOptions{.lr = 1e-3});
            nl::Tensor x = nl::randn({batch, 784});
            nl::Tensor y = random_indices({batch}, 10, 1);
            return training_step(model, optimizer, [model, x, y] { return nl::cross_entropy((*model)(x), y); });
          }};
}

struct RegisterAll {
  RegisterAll() {
    using nl::models::NormKind;
    for (int64_t batch : {128, 4})
      for (auto [name, kind] :
           {std::pair{"none", NormKind::none}, std::pair{"ln", NormKind::layer}, std::pair{"bn", NormKind::batch}})
        registry().push_back(mlp_workload(name, kind, batch));
  }
} register_all;

}  // namespace
}  // namespace bench
