#pragma once
// TransformerEncoderLayer, as torch.nn.TransformerEncoderLayer, with the
// norm placement as a switch:
//
//   post (PyTorch's norm_first=false, the original Transformer):
//       x = norm1(x + dropout1(self_attn(x)));  x = norm2(x + dropout2(ff(x)))
//   pre  (norm_first=true; trains without warmup, Xiong et al. 2020):
//       x = x + dropout1(self_attn(norm1(x)));  x = x + dropout2(ff(norm2(x)))
//   none (the unnormalized baseline): x = x + self_attn(x);  x = x + ff(x)
//
//   ff(x) = linear2(dropout(activation(linear1(x))))
// Submodules as PyTorch's: self_attn, linear1, linear2, norm1, norm2.
#include <string>

#include "layers/attention.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"

namespace nl::layers {

enum class NormPlacement { post, pre, none };

struct TransformerEncoderLayerOptions {
  int64_t dim_feedforward = 2048;
  double dropout = 0.1;
  std::string activation = "relu";  // or "gelu"
  NormPlacement norm = NormPlacement::post;
  double layer_norm_eps = 1e-5;
  bool batch_first = false;
  DType dtype = f32;
};

class TransformerEncoderLayer : public Layer<TransformerEncoderLayer> {
 public:
  TransformerEncoderLayer(int64_t d_model, int64_t nhead, TransformerEncoderLayerOptions options = {});

  const TransformerEncoderLayerOptions options;
  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<LayerNorm> norm1, norm2;  // null for NormPlacement::none

 protected:
  friend Layer<TransformerEncoderLayer>;
  // layer(src, src_mask, src_key_padding_mask, is_causal): src (L, N, E) or
  // with batch_first (N, L, E); masks as MultiheadAttention's.
  Tensor forward(const Tensor& src, const Tensor& src_mask, const Tensor& src_key_padding_mask = Tensor(),
                 bool is_causal = false);
  Tensor forward(const Tensor& src) override { return forward(src, Tensor()); }
};

}  // namespace nl::layers
