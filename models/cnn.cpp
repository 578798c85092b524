#include "models/cnn.h"

#include <fmt/format.h>

#include "layers/activation.h"
#include "layers/batch_norm.h"
#include "layers/conv.h"
#include "layers/flatten.h"
#include "layers/group_norm.h"
#include "layers/instance_norm.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "layers/pooling.h"
#include "layers/weight_norm.h"

namespace nl::models {

CNNNorm parse_cnn_norm(std::string_view s) {
  for (CNNNorm n : {CNNNorm::none, CNNNorm::batch, CNNNorm::group, CNNNorm::instance, CNNNorm::layer,
                    CNNNorm::batch_renorm, CNNNorm::weight})
    if (s == to_string(n)) return n;
  fail("CNN: norm must be none, batch, group, instance, layer, batch_renorm or weight, got \"{}\"", s);
}

const char* to_string(CNNNorm norm) {
  switch (norm) {
    case CNNNorm::none: return "none";
    case CNNNorm::batch: return "batch";
    case CNNNorm::group: return "group";
    case CNNNorm::instance: return "instance";
    case CNNNorm::layer: return "layer";
    case CNNNorm::batch_renorm: return "batch_renorm";
    case CNNNorm::weight: return "weight";
  }
  return "?";
}

namespace {

// The norm of a block's feature maps (C channels of size × size); null for none.
std::shared_ptr<layers::Module> make_norm(const CNNConfig& cfg, int64_t C, int64_t size) {
  switch (cfg.norm) {
    case CNNNorm::none:
    case CNNNorm::weight: return nullptr;  // weight: on the weights (CNN's constructor), not the activations
    case CNNNorm::batch: return std::make_shared<layers::BatchNorm2d>(C, 1e-5, 0.1, true, true, cfg.dtype);
    case CNNNorm::group:
      if (cfg.groups <= 0 || C % cfg.groups != 0)
        fail("CNN: norm group needs groups dividing every block's channels; {} does not divide {}", cfg.groups, C);
      return std::make_shared<layers::GroupNorm>(cfg.groups, C, 1e-5, true, cfg.dtype);
    case CNNNorm::instance: return std::make_shared<layers::InstanceNorm2d>(C, 1e-5, 0.1, true, false, cfg.dtype);
    case CNNNorm::layer: return std::make_shared<layers::LayerNorm>(Shape{C, size, size}, 1e-5, true, true, cfg.dtype);
    case CNNNorm::batch_renorm:
      return std::make_shared<layers::BatchRenorm2d>(C, 1e-5, 0.1, true, cfg.r_max, cfg.d_max, cfg.dtype);
  }
  return nullptr;
}

}  // namespace

CNN::CNN(const CNNConfig& cfg) : Sequential("CNN"), config(cfg) {
  if (cfg.channels.empty()) fail("CNN: channels must name at least one block, got none");
  if (cfg.in_channels <= 0 || cfg.num_classes <= 0)
    fail("CNN: in_channels and num_classes must be positive, got {} and {}", cfg.in_channels, cfg.num_classes);
  // every block but the last halves the size; the last block's maps must still have a pixel
  int64_t min_size = int64_t(1) << (cfg.channels.size() - 1);
  if (cfg.image_size < min_size)
    fail("CNN: {} blocks halve the image {} times: image_size must be at least {}, got {}", cfg.channels.size(),
         cfg.channels.size() - 1, min_size, cfg.image_size);
  int64_t in = cfg.in_channels, size = cfg.image_size;
  for (size_t b = 0; b < cfg.channels.size(); ++b) {
    int64_t C = cfg.channels[b];
    std::shared_ptr<layers::Module> norm = make_norm(cfg, C, size);
    bool conv_bias = !norm;  // a norm with its own shift makes the convolution's bias redundant
    push_back(std::make_shared<layers::Conv2d>(in, C, 3, 1, 1, 1, 1, conv_bias, cfg.dtype));
    if (norm) push_back(norm);
    push_back(std::make_shared<layers::ReLU>());
    if (b + 1 < cfg.channels.size()) {
      push_back(std::make_shared<layers::MaxPool2d>(2));
      size /= 2;
    }
    in = C;
  }
  push_back(std::make_shared<layers::AdaptiveAvgPool2d>(1));
  push_back(std::make_shared<layers::Flatten>());
  push_back(std::make_shared<layers::Linear>(in, cfg.num_classes, true, cfg.dtype));
  if (cfg.norm == CNNNorm::weight)  // one g per output channel (dim 0), as torch.nn.utils.weight_norm's default
    for (auto& [name, child] : named_children())
      if (!child->named_parameters().empty()) layers::weight_norm(*child);
}

void CNN::set_renorm_limits(double r_max, double d_max) { layers::set_renorm_limits(*this, r_max, d_max); }

}  // namespace nl::models
