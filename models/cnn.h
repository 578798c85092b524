#pragma once
// CNN(config): a small VGG-style network for images, with the normalization
// as the switch — the model of the image experiments. For each entry C of
// config.channels, a block
//   Conv2d(3×3, padding 1) → norm → ReLU → MaxPool2d(2)
// (the last block without the pool), then
//   AdaptiveAvgPool2d(1) → Flatten → Linear(channels.back(), num_classes).
// The default, channels {32, 64, 128} on 28×28 single-channel images
// (Fashion-MNIST), has 94,186 parameters with BatchNorm (93,962 with none:
// the convolutions keep their biases, no norm weights; 94,196 with weight:
// one g per output channel and class).
//
// The norms (CNNNorm), each on the convolution's output (N, C, H, W):
//   none          nothing; the convolutions keep their bias
//   batch         BatchNorm2d: per channel over N·H·W
//   group         GroupNorm(config.groups, C): per sample over groups of channels
//   instance      InstanceNorm2d(C, affine): per sample and channel (GroupNorm with G = C)
//   layer         LayerNorm({C, H, W}): per sample over the whole feature map
//   batch_renorm  BatchRenorm2d(C, r_max, d_max): BatchNorm corrected towards
//                 its running statistics (Ioffe 2017)
//   weight        no activation norm: weight normalization (Salimans & Kingma
//                 2016) of every convolution's and the Linear's weight,
//                 w = g · v / ‖v‖ per output channel (layers::weight_norm:
//                 parameters weight_g, weight_v); the convolutions keep their bias
// A convolution followed by a norm that shifts has no bias (the norm's bias
// replaces it), as in ResNet and VGG-BN.
//
// Children are named 0, 1, 2, ... as a torch.nn.Sequential of the same layers,
// so a PyTorch copy of the architecture loads the state dict and back
// (tests/models/test_cnn.cpp checks it against PyTorch).
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "layers/sequential.h"

namespace nl::models {

enum class CNNNorm { none, batch, group, instance, layer, batch_renorm, weight };
CNNNorm parse_cnn_norm(std::string_view s);
const char* to_string(CNNNorm norm);

struct CNNConfig {
  int64_t in_channels = 1;
  int64_t image_size = 28;                        // H = W
  std::vector<int64_t> channels = {32, 64, 128};  // one block each
  int64_t num_classes = 10;
  CNNNorm norm = CNNNorm::batch;
  int64_t groups = 8;               // group: GroupNorm's groups (must divide every block's channels)
  double r_max = 1.0, d_max = 0.0;  // batch_renorm: the initial limits (1, 0: BatchNorm); see set_renorm_limits
  DType dtype = f32;
};

class CNN : public layers::Sequential {
 public:
  explicit CNN(const CNNConfig& config);
  const CNNConfig config;

  // batch_renorm: the limits of r and d in every BatchRenorm2d, which the
  // paper relaxes during training (from 1 and 0 to 3 and 5); no-op otherwise.
  void set_renorm_limits(double r_max, double d_max);
};

}  // namespace nl::models
