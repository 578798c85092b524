#include "layers/attention.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "core/ops.h"
#include "layers/init.h"

namespace nl::layers {

MultiheadAttention::MultiheadAttention(int64_t embed, int64_t heads, double dropout_p, bool bias, bool batch_first_,
                                       DType dtype)
    : Layer("MultiheadAttention"),
      embed_dim(embed),
      num_heads(heads),
      head_dim(heads > 0 ? embed / heads : 0),
      dropout(dropout_p),
      batch_first(batch_first_) {
  if (embed <= 0 || heads <= 0 || embed % heads != 0)
    fail("MultiheadAttention: embed_dim ({}) must be a positive multiple of num_heads ({})", embed, heads);
  if (!(dropout_p >= 0 && dropout_p < 1)) fail("MultiheadAttention: dropout must be in [0, 1), got {}", dropout_p);
  // xavier_uniform_: U(−a, a), a = √(6 / (fan_in + fan_out)) for the (3E, E) matrix
  in_proj_weight = empty({3 * embed, embed}, dtype);
  init::uniform_(in_proj_weight, std::sqrt(6.0 / double(4 * embed)));
  register_parameter("in_proj_weight", in_proj_weight);
  if (bias) in_proj_bias = zeros({3 * embed}, dtype);
  register_parameter("in_proj_bias", in_proj_bias);
  out_proj = register_module("out_proj", std::make_shared<Linear>(embed, embed, bias, dtype));
  if (bias) out_proj->bias.detach().zero_();
}

MultiheadAttention::Output MultiheadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                                       const Tensor& key_padding_mask, const Tensor& attn_mask,
                                                       bool is_causal, bool need_weights) {
  auto check = [&](const char* name, const Tensor& t) {
    if (t.dim() != 3 || t.size(2) != embed_dim)
      fail("MultiheadAttention: {} must be {} with E = {}, got {}", name, batch_first ? "(N, L, E)" : "(L, N, E)",
           embed_dim, t.shape());
  };
  check("query", query);
  check("key", key);
  check("value", value);
  // work batch-first: (N, L, E)
  Tensor q_in = batch_first ? query : query.transpose(0, 1), k_in = batch_first ? key : key.transpose(0, 1),
         v_in = batch_first ? value : value.transpose(0, 1);
  int64_t N = q_in.size(0), L = q_in.size(1), S = k_in.size(1), E = embed_dim, H = num_heads, d = head_dim;
  if (k_in.size(0) != N || v_in.size(0) != N || v_in.size(1) != S)
    fail("MultiheadAttention: query {}, key {} and value {} disagree on batch or length", query.shape(), key.shape(),
         value.shape());

  auto project = [&](const Tensor& x, int64_t part) {  // x·W_partᵀ + b_part: (N, len, E)
    Tensor w = in_proj_weight.slice(0, part * E, (part + 1) * E);
    Tensor b = in_proj_bias.defined() ? in_proj_bias.slice(0, part * E, (part + 1) * E) : Tensor();
    return linear(x, w, b);
  };

  // One additive mask broadcasting to the scores (N, H, L, S).
  Tensor mask;
  if (attn_mask.defined()) {
    if (attn_mask.dtype() != query.dtype())
      fail("MultiheadAttention: attn_mask must be {} (additive), got {}", query.dtype(), attn_mask.dtype());
    if (attn_mask.dim() == 2 && attn_mask.shape() == Shape{L, S})
      mask = attn_mask;
    else if (attn_mask.dim() == 3 && attn_mask.shape() == Shape{N * H, L, S})
      mask = attn_mask.reshape({N, H, L, S});
    else
      fail("MultiheadAttention: attn_mask must be ({}, {}) or ({}, {}, {}), got {}", L, S, N * H, L, S,
           attn_mask.shape());
  }
  if (key_padding_mask.defined()) {
    if (!(key_padding_mask.shape() == Shape{N, S}))
      fail("MultiheadAttention: key_padding_mask must be ({}, {}), got {}", N, S, key_padding_mask.shape());
    Tensor blocked = full({}, -std::numeric_limits<double>::infinity(), query.dtype());
    Tensor padding = where(key_padding_mask.to(query.dtype()), blocked, zeros({}, query.dtype())).reshape({N, 1, 1, S});
    mask = mask.defined() ? mask + padding : padding;
  }

  // The fused op (core/ops/multi_head_attention.cpp) unless the weights are
  // wanted, dropout is active, the mask wants a gradient or a size is 0: then
  // the same math from scaled_dot_product_attention on head-split views.
  bool fused = !need_weights && !(dropout > 0 && is_training()) && !(mask.defined() && mask.requires_grad()) && N > 0 &&
               L > 0 && S > 0;
  Tensor merged, weights;                                   // merged: concat(heads), (N, L, E)
  if (fused && query.is_same(key) && key.is_same(value)) {  // self-attention: q, k, v in one GEMM
    merged = multi_head_self_attention(linear(q_in, in_proj_weight, in_proj_bias), H, mask, is_causal);
  } else if (fused) {
    merged = multi_head_attention(project(q_in, 0), project(k_in, 1), project(v_in, 2), H, mask, is_causal);
  } else {
    auto split = [&](const Tensor& x) { return x.reshape({N, x.size(1), H, d}).transpose(1, 2); };  // (N, H, len, d)
    auto attended =
        scaled_dot_product_attention_with_weights(split(project(q_in, 0)), split(project(k_in, 1)),
                                                  split(project(v_in, 2)), mask, is_causal, dropout, is_training());
    merged = attended.output.transpose(1, 2).reshape({N, L, E});
    weights = attended.weights;
  }
  Tensor out = (*out_proj)(merged);
  return {batch_first ? out : out.transpose(0, 1), need_weights ? weights.mean({1}) : Tensor()};
}

std::string MultiheadAttention::extra_repr() const {
  return fmt::format("embed_dim={}, num_heads={}, dropout={}, batch_first={}", embed_dim, num_heads, dropout,
                     batch_first);
}

}  // namespace nl::layers
