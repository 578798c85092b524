// gpt_step_d128_L4_t64_b32: one AdamW (lr 3e-4) step of a small GPT, composed
// from nl::layers: token Embedding(96, 128) + learned position Embedding(64,
// 128), 4 Pre-LN TransformerEncoderLayers (d 128, 4 heads, FF 512, GELU, no
// dropout, causal mask), a final LayerNorm and a Linear head to 96; 32
// sequences of 64 tokens, cross-entropy over every position.
//
// sweep_gpt_step_t<T>_d<d> (normlab-bench --sweep, bench/compare --sweep): the
// same step as the work grows, T in {64, 128, 256, 512} at d 128 and d in {64,
// 128, 256, 512} at T 64. Heads of 32 dimensions (d / 32 of them), FF 4·d,
// and always 2048 tokens (B = 2048 / T): the matmuls of the rows stay fixed
// along T while attention's T² part grows.
//
// FLOPs counted (matmuls only, the causal half of the scores included, as
// both frameworks compute the full T×T product):
//   per layer, with R = B·T rows: QKV 2·R·d·3d, scores 2·B·T·T·d,
//   weights·V 2·B·T·T·d, output projection 2·R·d·d, feed-forward 2·2·R·d·4d;
//   head 2·R·d·96; training 3× the forward (every matmul needs dX and dW or
//   both operand gradients).
//
// gpt_linears_d128_L4_t64_b32: the same step's linear layers' matrix products
// and nothing else (bench/workloads/linear_products.h), every layer with its
// own x, W and dy. These are 92% of the step's counted FLOPs (attention's T²
// products are the rest), so their rate is the most the step can reach
// through BLAS with everything else free.
//
// gpt_attention_d128_L4_t64_b32: the same step's causal self-attention cores
// alone, forward and backward: multi_head_self_attention (softmax(q·kᵀ/√dh +
// causal mask)·v per head, the fused op the step's layers call) on each
// layer's own packed qkv (32, 64, 384), 4 heads. FLOPs: its two T×T products
// forward, each twice backward, counted as gpt_step counts them. With
// gpt_linears and gelu_fwd_bwd, a floor under the step (bench/compare's FLOORS).
#include "bench/workloads/common.h"
#include "bench/workloads/linear_products.h"

namespace bench {
namespace {

constexpr int64_t kVocab = 96;

struct GPTShape {
  int64_t d = 128, heads = 4, layers = 4, feed_forward = 512, seq = 64, batch = 32;
};

class GPT : public nl::layers::Layer<GPT> {
 public:
  explicit GPT(const GPTShape& shape) : Layer("GPT") {
    token_embedding = register_module("tok_emb", std::make_shared<nl::layers::Embedding>(kVocab, shape.d));
    position_embedding = register_module("pos_emb", std::make_shared<nl::layers::Embedding>(shape.seq, shape.d));
    nl::layers::TransformerEncoderLayerOptions options{.dim_feedforward = shape.feed_forward,
                                                       .dropout = 0.0,
                                                       .activation = "gelu",
                                                       .norm = nl::layers::NormPlacement::pre,
                                                       .batch_first = true};
    // a Sequential only as the container that names them blocks.0, blocks.1, ...
    auto container = register_module("blocks", std::make_shared<nl::layers::Sequential>());
    for (int64_t i = 0; i < shape.layers; ++i) {
      blocks.push_back(std::make_shared<nl::layers::TransformerEncoderLayer>(shape.d, shape.heads, options));
      container->push_back(blocks.back());
    }
    final_norm = register_module("ln_f", std::make_shared<nl::layers::LayerNorm>(nl::Shape{shape.d}));
    head = register_module("head", std::make_shared<nl::layers::Linear>(shape.d, kVocab));
    positions = nl::arange(shape.seq);
  }
  std::shared_ptr<nl::layers::Embedding> token_embedding, position_embedding;
  std::vector<std::shared_ptr<nl::layers::TransformerEncoderLayer>> blocks;
  std::shared_ptr<nl::layers::LayerNorm> final_norm;
  std::shared_ptr<nl::layers::Linear> head;
  nl::Tensor positions;

 protected:
  friend Layer<GPT>;
  // tokens (B, T) -> logits (B·T, vocab)
  nl::Tensor forward(const nl::Tensor& tokens) override {
    nl::Tensor x = (*token_embedding)(tokens) + (*position_embedding)(positions);
    for (auto& block : blocks) x = (*block)(x, nl::Tensor(), nl::Tensor(), /*is_causal=*/true);
    return (*head)((*final_norm)(x)).reshape({-1, kVocab});
  }
};

// Matmul FLOPs of the forward's linear layers: QKV, output projection, the two
// feed-forward layers per block, and the head.
double linear_forward_flops(const GPTShape& s) {
  double rows = double(s.batch * s.seq), d = double(s.d);
  return double(s.layers) * (2 * rows * d * 3 * d + 2 * rows * d * d + 2 * 2 * rows * d * double(s.feed_forward)) +
         2 * rows * d * kVocab;
}

// Matmul FLOPs of one forward (see the top of the file): the linear layers and
// attention's scores and weights·V.
double forward_flops(const GPTShape& s) {
  return linear_forward_flops(s) + double(s.layers) * 2 * 2 * double(s.batch) * double(s.seq * s.seq) * double(s.d);
}

// One AdamW step of GPT(shape) on fixed random tokens.
std::function<void()> gpt_step(const GPTShape& shape) {
  auto model = std::make_shared<GPT>(shape);
  auto optimizer = std::make_shared<nl::optim::AdamW>(model->parameters(), nl::optim::AdamWOptions{.lr = 3e-4});
  nl::Tensor tokens = random_indices({shape.batch, shape.seq}, kVocab, 4);
  nl::Tensor targets = random_indices({shape.batch * shape.seq}, kVocab, 5);
  return training_step(model, optimizer,
                       [model, tokens, targets] { return nl::cross_entropy((*model)(tokens), targets); });
}

// The linear layers' products of one training step of GPT(shape), alone.
std::function<void()> gpt_linears(const GPTShape& s) {
  const int64_t rows = s.batch * s.seq;
  std::vector<LinearProducts> linears;
  for (int64_t i = 0; i < s.layers; ++i) {
    linears.emplace_back(rows, s.d, 3 * s.d);         // QKV
    linears.emplace_back(rows, s.d, s.d);             // output projection
    linears.emplace_back(rows, s.d, s.feed_forward);  // feed-forward in
    linears.emplace_back(rows, s.feed_forward, s.d);  // feed-forward out
  }
  linears.emplace_back(rows, s.d, kVocab);  // head
  return [linears] {
    for (const LinearProducts& l : linears) l.forward();                          // forward, in the step's order
    for (auto it = linears.rbegin(); it != linears.rend(); ++it) it->backward();  // backward, in reverse
  };
}

// The attention cores of the step alone (see the top of the file).
std::function<void()> gpt_attention(const GPTShape& s) {
  std::vector<nl::Tensor> qkv, dout;
  for (int64_t i = 0; i < s.layers; ++i) {
    qkv.push_back(nl::randn({s.batch, s.seq, 3 * s.d}).requires_grad_(true));
    dout.push_back(nl::randn({s.batch, s.seq, s.d}));
  }
  return [qkv, dout, heads = s.heads] {
    for (size_t i = 0; i < qkv.size(); ++i) {
      qkv[i].set_grad(nl::Tensor());
      nl::multi_head_self_attention(qkv[i], heads, nl::Tensor(), /*is_causal=*/true).backward(dout[i]);
    }
  };
}

// Attention's FLOPs in one step: the step's counted FLOPs less its linear layers'.
double attention_flops(const GPTShape& s) { return train_flops(forward_flops(s) - linear_forward_flops(s)); }

Register gpt({"gpt_step_d128_L4_t64_b32",
              "GPT: vocab 96, learned positions, 4 Pre-LN layers d128 h4 FF512 GELU, causal; 32x64 tokens; AdamW step",
              {0, train_flops(forward_flops(GPTShape{}))},
              [] { return gpt_step(GPTShape{}); }});
Register gpt_linears_only({"gpt_linears_d128_L4_t64_b32",
                           "the linear layers' products of one gpt_step_d128_L4_t64_b32 step alone (kernels::gemm, "
                           "as linear and its backward call it)",
                           {0, train_flops(linear_forward_flops(GPTShape{}))},
                           [] { return gpt_linears(GPTShape{}); }});

Register gpt_attention_only({"gpt_attention_d128_L4_t64_b32",
                             "the causal self-attention cores of one gpt_step_d128_L4_t64_b32 step alone (4 layers' "
                             "multi_head_self_attention, forward + backward)",
                             {0, attention_flops(GPTShape{})},
                             [] { return gpt_attention(GPTShape{}); }});

// The sweep's points: T at d 128, d at T 64 (t64_d128 is on both curves, registered once).
const bool sweep_registered = [] {
  auto add = [](int64_t seq, int64_t d) {
    GPTShape shape{.d = d, .heads = d / 32, .layers = 4, .feed_forward = 4 * d, .seq = seq, .batch = 2048 / seq};
    Register({fmt::format("sweep_gpt_step_t{}_d{}", seq, d),
              fmt::format("GPT step as gpt_step_d128_L4_t64_b32 with T {}, d {}, {} heads, FF {}, batch {}", seq, d,
                          shape.heads, shape.feed_forward, shape.batch),
              {0, train_flops(forward_flops(shape))},
              [shape] { return gpt_step(shape); }});
  };
  for (int64_t seq : {64, 128, 256, 512}) add(seq, 128);
  for (int64_t d : {64, 256, 512}) add(64, d);
  return true;
}();

}  // namespace
}  // namespace bench
