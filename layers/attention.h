#pragma once
// MultiheadAttention, as torch.nn.MultiheadAttention:
//
//   q, k, v = query·W_qᵀ + b_q, key·W_kᵀ + b_k, value·W_vᵀ + b_v   (W_q|W_k|W_v = in_proj_weight)
//   split into num_heads heads of embed_dim / num_heads
//   head_h = softmax(q_h·k_hᵀ / √d + masks)·v_h                      (core/ops/attention.cpp)
//   out = concat(heads)·W_outᵀ + b_out                               (out_proj)
//
// Without need_weights and dropout (TransformerEncoderLayer's case) the heads
// run as one fused op, self-attention's q, k, v as one GEMM
// (core/ops/multi_head_attention.cpp); otherwise the ops are composed.
// Parameters as PyTorch's: in_proj_weight (3E, E) xavier-uniform,
// in_proj_bias (3E) zeros, out_proj.weight / out_proj.bias (a Linear, bias 0).
// Masks: attn_mask is additive (0 keeps, −inf blocks), (L, S) or
// (N·num_heads, L, S) as PyTorch's float masks; key_padding_mask (N, S) is
// nonzero where a key is padding (PyTorch's True). A query whose keys are all
// blocked gets a zero output row where PyTorch gives NaN.
#include "layers/linear.h"
#include "layers/module.h"

namespace nl::layers {

class MultiheadAttention : public Layer<MultiheadAttention> {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, double dropout = 0.0, bool bias = true,
                     bool batch_first = false, DType dtype = f32);

  // What mha(query, key, value, key_padding_mask, attn_mask, is_causal,
  // need_weights) returns; the hooks see query and `output`.
  struct Output {
    Tensor output;   // like query
    Tensor weights;  // (N, L, S): the attention weights averaged over heads; undefined without need_weights
  };

  const int64_t embed_dim, num_heads, head_dim;
  const double dropout;
  const bool batch_first;
  Tensor in_proj_weight, in_proj_bias;
  std::shared_ptr<Linear> out_proj;

 protected:
  friend Layer<MultiheadAttention>;
  // need_weights = false skips averaging the weights (as PyTorch's need_weights;
  // TransformerEncoderLayer passes false, as PyTorch's does).
  Output forward(const Tensor& query, const Tensor& key, const Tensor& value, const Tensor& key_padding_mask = Tensor(),
                 const Tensor& attn_mask = Tensor(), bool is_causal = false, bool need_weights = true);
  // mha(x): self-attention on x, the output alone.
  Tensor forward(const Tensor& x) override { return forward(x, x, x).output; }
  std::string extra_repr() const override;
};

}  // namespace nl::layers
