// The image workloads: one 3×3 convolution alone, and training steps of the
// small VGG-style models::CNN.
//
// conv2d_fwd_bwd_n32_c64_h28_k3: Conv2d(64, 64, 3, padding 1) with bias,
// forward + backward on x (32, 64, 28, 28) with a fixed upstream gradient;
// grads for x, weight, bias.
//
// cnn_step_{none,bn,gn}_b128, cnn_step_bn_b4: one SGD step (lr 0.05,
// momentum 0.9) of models::CNN with the default CNNConfig — 1×28×28 input,
// blocks Conv2d(3×3, padding 1) → norm → ReLU → MaxPool2d(2) of 32, 64 and
// 128 channels (no pool after the last), AdaptiveAvgPool2d(1), Flatten,
// Linear(128, 10) — with no norm, BatchNorm2d or GroupNorm(8, C), on a fixed
// random batch (randn images, random labels).
//
// FLOPs counted (the products only, as the GEMMs of im2col compute them; the
// bias, norms, pools and the optimizer are left out): a convolution with
// C_in → C_out channels, a k×k kernel and H_out×W_out outputs per image does
// 2·N·C_out·H_out·W_out·C_in·k·k in the forward, the same again for dW and
// for dX; a Linear 2·N·in·out each. A training step counts all three for
// every layer but the first convolution, whose input is data (no dX).
#include <fmt/format.h>

#include "bench/workloads/common.h"

namespace bench {
namespace {

// Forward FLOPs of a k×k convolution, `size`×`size` outputs per image (padding
// keeps the size).
double conv_flops(int64_t batch, int64_t in, int64_t out, int64_t size, int64_t k = 3) {
  return 2.0 * double(batch) * double(out) * double(size * size) * double(in) * double(k * k);
}

// ---- conv2d alone ---------------------------------------------------------------------

constexpr int64_t kImages = 32, kChannels = 64, kSize = 28;

Register conv2d_fwd_bwd({"conv2d_fwd_bwd_n32_c64_h28_k3",
                         "Conv2d(64, 64, 3, padding 1) with bias, forward + backward on (32, 64, 28, 28), grads for "
                         "x, weight, bias",
                         {0, train_flops(conv_flops(kImages, kChannels, kChannels, kSize))},
                         [] {
                           auto conv = std::make_shared<nl::layers::Conv2d>(kChannels, kChannels, 3, 1, 1);
                           nl::Shape shape{kImages, kChannels, kSize, kSize};
                           return forward_backward(conv, shape);
                         }});

// ---- models::CNN training steps -------------------------------------------------------

// The default CNNConfig's products per step: each block's convolution at the
// block's size (28, 14, 7: every block but the last halves it), then the head.
double cnn_flops(int64_t batch) {
  nl::models::CNNConfig config;
  double forward = 0, input_grads = 0;
  int64_t in = config.in_channels, size = config.image_size;
  for (size_t b = 0; b < config.channels.size(); ++b) {
    int64_t out = config.channels[b];
    forward += conv_flops(batch, in, out, size);
    if (b > 0) input_grads += conv_flops(batch, in, out, size);  // the first block's input is data
    if (b + 1 < config.channels.size()) size /= 2;
    in = out;
  }
  double head = 2.0 * double(batch) * double(in) * double(config.num_classes);
  return 2 * (forward + head) + input_grads + head;  // forward and dW of all, dX of all but the first
}

Workload cnn_workload(const char* norm_name, nl::models::CNNNorm norm, int64_t batch) {
  return {fmt::format("cnn_step_{}_b{}", norm_name, batch),
          fmt::format("CNN 1x28x28 -> {{32, 64, 128}} -> 10, norm={}, batch {}: zero_grad, forward, cross-entropy, "
                      "backward, SGD step (lr 0.05, momentum 0.9)",
                      nl::models::to_string(norm), batch),
          {0, cnn_flops(batch)},
          [norm, batch] {
            nl::models::CNNConfig config;
            config.norm = norm;  // GroupNorm: config.groups = 8
            auto model = std::make_shared<nl::models::CNN>(config);
            auto optimizer = std::make_shared<nl::optim::SGD>(model->parameters(),
                                                              nl::optim::SGDOptions{.lr = 0.05, .momentum = 0.9});
            nl::Tensor x = nl::randn({batch, config.in_channels, config.image_size, config.image_size});
            nl::Tensor y = random_indices({batch}, config.num_classes, 1);
            return training_step(model, optimizer, [model, x, y] { return nl::cross_entropy((*model)(x), y); });
          }};
}

struct RegisterAll {
  RegisterAll() {
    using nl::models::CNNNorm;
    for (auto [name, kind] :
         {std::pair{"none", CNNNorm::none}, std::pair{"bn", CNNNorm::batch}, std::pair{"gn", CNNNorm::group}})
      registry().push_back(cnn_workload(name, kind, 128));
    registry().push_back(cnn_workload("bn", CNNNorm::batch, 4));
  }
} register_all;

}  // namespace
}  // namespace bench
