#include "models/mlp.h"

#include "layers/activation.h"
#include "layers/batch_norm.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "layers/rms_norm.h"

namespace nl::models {

namespace {
std::shared_ptr<layers::Module> make_activation(const std::string& name) {
  if (name == "relu") return std::make_shared<layers::ReLU>();
  if (name == "tanh") return std::make_shared<layers::Tanh>();
  if (name == "gelu") return std::make_shared<layers::GELU>();
  if (name == "sigmoid") return std::make_shared<layers::Sigmoid>();
  fail("MLP: activation must be relu, tanh, gelu or sigmoid, got \"{}\"", name);
}
}  // namespace

MLP::MLP(const std::vector<int64_t>& sizes, NormKind norm_kind, const std::string& activation, DType dtype)
    : Sequential("MLP"), norm(norm_kind) {
  if (sizes.size() < 2) fail("MLP: need at least an input and an output size, got {} sizes", sizes.size());
  make_activation(activation);  // validates the name before building anything
  for (size_t i = 0; i + 1 < sizes.size(); ++i) {
    int64_t out = sizes[i + 1];
    push_back(std::make_shared<layers::Linear>(sizes[i], out, true, dtype));
    if (i + 2 == sizes.size()) break;  // the output layer
    switch (norm) {
      case NormKind::none: break;
      case NormKind::batch: push_back(std::make_shared<layers::BatchNorm1d>(out, 1e-5, 0.1, true, true, dtype)); break;
      case NormKind::layer: push_back(std::make_shared<layers::LayerNorm>(Shape{out}, 1e-5, true, true, dtype)); break;
      case NormKind::rms: push_back(std::make_shared<layers::RMSNorm>(Shape{out}, std::nullopt, true, dtype)); break;
      case NormKind::renorm:
        push_back(std::make_shared<layers::BatchRenorm1d>(out, 1e-5, 0.1, true, 1.0, 0.0, dtype));
        break;
    }
    push_back(make_activation(activation));
  }
}

}  // namespace nl::models
