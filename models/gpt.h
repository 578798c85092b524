#pragma once
// GPT: a decoder-only transformer language model (Radford et al. 2018/2019)
// built from TransformerEncoderLayer blocks with a causal mask:
//
//   x = token_embedding(ids) + position_embedding(0..T−1)       (N, T, d)
//   x = block_l(x, causal)  for l = 0..layers−1                 (self-attention + MLP)
//   x = final_norm(x)                                            (pre only)
//   logits = head(x)  or, tied, x·token_embedding.weightᵀ        (N, T, vocab)
//
// The norm switch is the experiment: post (the original Transformer: LN after
// each residual sum), pre (LN at the start of each branch plus a final LN;
// trains without warmup, Xiong et al. 2020), none (no normalization at all).
// Initialization as GPT-2: weights N(0, 0.02²), biases 0, the projections
// that write into the residual stream (self_attn.out_proj, linear2) with std
// 0.02/√(2·layers) so the residual sum does not grow with depth.
#include <string>
#include <vector>

#include "layers/embedding.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "layers/module_list.h"
#include "layers/transformer.h"

namespace nl::models {

struct GPTConfig {
  int64_t vocab_size = 96;
  int64_t block_size = 64;  // the longest context
  int64_t d_model = 128;
  int64_t num_heads = 4;
  int64_t num_layers = 4;
  int64_t dim_feedforward = 0;  // 0: 4·d_model
  double dropout = 0.0;
  layers::NormPlacement norm = layers::NormPlacement::pre;
  std::string activation = "gelu";
  bool tie_weights = false;  // head shares token_embedding.weight
  DType dtype = f32;
};

class GPT : public layers::Layer<GPT> {
 public:
  explicit GPT(GPTConfig config);
  // Continues prompt by n sampled ids, each conditioned on the last
  // block_size ids; eval mode, no graph. See models::sample_next.
  std::vector<int64_t> generate(const std::vector<int64_t>& prompt, int64_t n, double temperature = 1.0,
                                int64_t top_k = 0);

  const GPTConfig config;
  std::shared_ptr<layers::Embedding> token_embedding, position_embedding;
  std::shared_ptr<layers::ModuleList<layers::TransformerEncoderLayer>> blocks;
  std::shared_ptr<layers::LayerNorm> final_norm;  // pre only
  std::shared_ptr<layers::Linear> head;           // null when tied

 protected:
  friend layers::Layer<GPT>;
  // gpt(ids): ids (N, T) int64 with T <= block_size -> logits (N, T, vocab_size).
  Tensor forward(const Tensor& ids) override;
  std::string extra_repr() const override;
};

layers::NormPlacement parse_norm_placement(const std::string& s);  // "post", "pre", "none"
const char* to_string(layers::NormPlacement p);

}  // namespace nl::models
