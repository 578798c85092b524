#include "models/gpt.h"

#include <fmt/format.h>

#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"
#include "layers/init.h"
#include "models/sampling.h"

namespace nl::models {

using layers::NormPlacement;

GPT::GPT(GPTConfig c) : Layer("GPT"), config(c) {
  if (c.vocab_size <= 0 || c.block_size <= 0 || c.d_model <= 0 || c.num_layers < 0)
    fail("GPT: vocab_size ({}), block_size ({}), d_model ({}) must be > 0 and num_layers ({}) >= 0", c.vocab_size,
         c.block_size, c.d_model, c.num_layers);
  token_embedding =
      register_module("token_embedding", std::make_shared<layers::Embedding>(c.vocab_size, c.d_model, c.dtype));
  position_embedding =
      register_module("position_embedding", std::make_shared<layers::Embedding>(c.block_size, c.d_model, c.dtype));
  layers::TransformerEncoderLayerOptions block_options;
  block_options.dim_feedforward = c.dim_feedforward > 0 ? c.dim_feedforward : 4 * c.d_model;
  block_options.dropout = c.dropout;
  block_options.activation = c.activation;
  block_options.norm = c.norm;
  block_options.batch_first = true;
  block_options.dtype = c.dtype;
  blocks = register_module("blocks", std::make_shared<layers::ModuleList<layers::TransformerEncoderLayer>>());
  for (int64_t l = 0; l < c.num_layers; ++l)
    blocks->push_back(std::make_shared<layers::TransformerEncoderLayer>(c.d_model, c.num_heads, block_options));
  if (c.norm == NormPlacement::pre)
    final_norm =
        register_module("final_norm", std::make_shared<layers::LayerNorm>(Shape{c.d_model}, 1e-5, true, true, c.dtype));
  if (!c.tie_weights)
    head = register_module("head", std::make_shared<layers::Linear>(c.d_model, c.vocab_size, false, c.dtype));

  // GPT-2 initialization (see the header); LayerNorms keep weight 1, bias 0.
  double residual_std = 0.02 / std::sqrt(2.0 * double(std::max<int64_t>(c.num_layers, 1)));
  for (auto& [name, p] : named_parameters()) {
    bool is_norm = name.find("norm") != std::string::npos;
    if (is_norm) continue;
    bool is_bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
    if (is_bias) {
      NoGradGuard no_grad;
      p.zero_();
    } else {
      bool writes_residual =
          name.find("out_proj.weight") != std::string::npos || name.find("linear2.weight") != std::string::npos;
      layers::init::normal_(p, writes_residual ? residual_std : 0.02);
    }
  }
}

Tensor GPT::forward(const Tensor& ids) {
  if (ids.dim() != 2 || ids.dtype() != i64) fail("GPT: expected int64 ids (N, T), got {} {}", ids.dtype(), ids.shape());
  int64_t T = ids.size(1);
  if (T > config.block_size || T == 0)
    fail("GPT: sequence length {} must be in [1, block_size = {}] (ids {})", T, config.block_size, ids.shape());
  Tensor x = (*token_embedding)(ids) + (*position_embedding)(arange(T));  // (N, T, d) + (T, d)
  x = dropout(x, config.dropout, is_training());
  for (auto& block : *blocks) x = (*block)(x, Tensor(), Tensor(), /*is_causal=*/true);
  if (final_norm) x = (*final_norm)(x);
  return head ? (*head)(x) : matmul(x, token_embedding->weight.t());
}

std::vector<int64_t> GPT::generate(const std::vector<int64_t>& prompt, int64_t n, double temperature, int64_t top_k) {
  if (prompt.empty()) fail("GPT::generate: the prompt is empty");
  bool was_training = is_training();
  eval();
  NoGradGuard no_grad;
  std::vector<int64_t> out = prompt;
  for (int64_t k = 0; k < n; ++k) {
    size_t context = std::min<size_t>(out.size(), size_t(config.block_size));
    std::vector<int64_t> window(out.end() - std::ptrdiff_t(context), out.end());
    Tensor logits = (*this)(from_vector(window, {1, int64_t(context)}));  // (1, T, V)
    out.push_back(sample_next(logits.select(0, 0).select(0, int64_t(context) - 1), temperature, top_k));
  }
  train(was_training);
  return out;
}

std::string GPT::extra_repr() const {
  return fmt::format("vocab_size={}, block_size={}, d_model={}, heads={}, layers={}, norm={}, tied={}",
                     config.vocab_size, config.block_size, config.d_model, config.num_heads, config.num_layers,
                     models::to_string(config.norm), config.tie_weights);
}

NormPlacement parse_norm_placement(const std::string& s) {
  if (s == "post") return NormPlacement::post;
  if (s == "pre") return NormPlacement::pre;
  if (s == "none") return NormPlacement::none;
  fail("norm placement must be post, pre or none, got \"{}\"", s);
}

const char* to_string(NormPlacement p) {
  switch (p) {
    case NormPlacement::post: return "post";
    case NormPlacement::pre: return "pre";
    case NormPlacement::none: return "none";
  }
  return "?";
}

}  // namespace nl::models
