#include "layers/transformer.h"

#include "core/ops.h"

namespace nl::layers {

TransformerEncoderLayer::TransformerEncoderLayer(int64_t d_model, int64_t nhead, TransformerEncoderLayerOptions o)
    : Layer("TransformerEncoderLayer"), options(o) {
  if (o.activation != "relu" && o.activation != "gelu")
    fail("TransformerEncoderLayer: activation must be relu or gelu, got \"{}\"", o.activation);
  if (!(o.dropout >= 0 && o.dropout < 1)) fail("TransformerEncoderLayer: dropout must be in [0, 1), got {}", o.dropout);
  self_attn = register_module(
      "self_attn", std::make_shared<MultiheadAttention>(d_model, nhead, o.dropout, true, o.batch_first, o.dtype));
  linear1 = register_module("linear1", std::make_shared<Linear>(d_model, o.dim_feedforward, true, o.dtype));
  linear2 = register_module("linear2", std::make_shared<Linear>(o.dim_feedforward, d_model, true, o.dtype));
  if (o.norm != NormPlacement::none) {
    norm1 =
        register_module("norm1", std::make_shared<LayerNorm>(Shape{d_model}, o.layer_norm_eps, true, true, o.dtype));
    norm2 =
        register_module("norm2", std::make_shared<LayerNorm>(Shape{d_model}, o.layer_norm_eps, true, true, o.dtype));
  }
}

Tensor TransformerEncoderLayer::forward(const Tensor& src, const Tensor& src_mask, const Tensor& src_key_padding_mask,
                                        bool is_causal) {
  double p = options.dropout;
  bool training = is_training();
  auto attention = [&](const Tensor& x) {
    Tensor a = (*self_attn)(x, x, x, src_key_padding_mask, src_mask, is_causal, /*need_weights=*/false).output;
    return dropout(a, p, training);
  };
  auto feed_forward = [&](const Tensor& x) {
    Tensor h = (*linear1)(x);
    h = options.activation == "gelu" ? gelu(h) : relu(h);
    return dropout((*linear2)(dropout(h, p, training)), p, training);
  };
  Tensor x = src;
  switch (options.norm) {
    case NormPlacement::post: x = (*norm1)(x + attention(x)); return (*norm2)(x + feed_forward(x));
    case NormPlacement::pre: x = x + attention((*norm1)(x)); return x + feed_forward((*norm2)(x));
    case NormPlacement::none: x = x + attention(x); return x + feed_forward(x);
  }
  return x;
}

}  // namespace nl::layers
