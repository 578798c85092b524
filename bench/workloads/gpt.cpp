// gpt_step_d128_L4_t64_b32: one AdamW (lr 3e-4) step of a small GPT, composed
// from nl::layers: token Embedding(96, 128) + learned position Embedding(64,
// 128), 4 Pre-LN TransformerEncoderLayers (d 128, 4 heads, FF 512, GELU, no
// dropout, causal mask), a final LayerNorm and a Linear head to 96; 32
// sequences of 64 tokens, cross-entropy over every position.
//
// FLOPs counted (matmuls only, the causal half of the scores included, as
// both frameworks compute the full T×T product):
//   per layer, with R = B·T rows: QKV 2·R·d·3d, scores 2·B·T·T·d,
//   weights·V 2·B·T·T·d, output projection 2·R·d·d, feed-forward 2·2·R·d·4d;
//   head 2·R·d·96; training 3× the forward (every matmul needs dX and dW or
//   both operand gradients).
#include "bench/workloads/common.h"

namespace bench {
namespace {

constexpr int64_t kVocab = 96, kModel = 128, kHeads = 4, kLayers = 4, kFeedForward = 512, kSeq = 64, kBatch = 32;

class GPT : public nl::layers::Layer<GPT> {
 public:
  GPT() : Layer("GPT") {
    token_embedding = register_module("tok_emb", std::make_shared<nl::layers::Embedding>(kVocab, kModel));
    position_embedding = register_module("pos_emb", std::make_shared<nl::layers::Embedding>(kSeq, kModel));
    nl::layers::TransformerEncoderLayerOptions options{.dim_feedforward = kFeedForward,
                                                       .dropout = 0.0,
                                                       .activation = "gelu",
                                                       .norm = nl::layers::NormPlacement::pre,
                                                       .batch_first = true};
    // a Sequential only as the container that names them blocks.0, blocks.1, ...
    auto container = register_module("blocks", std::make_shared<nl::layers::Sequential>());
    for (int64_t i = 0; i < kLayers; ++i) {
      blocks.push_back(std::make_shared<nl::layers::TransformerEncoderLayer>(kModel, kHeads, options));
      container->push_back(blocks.back());
    }
    final_norm = register_module("ln_f", std::make_shared<nl::layers::LayerNorm>(nl::Shape{kModel}));
    head = register_module("head", std::make_shared<nl::layers::Linear>(kModel, kVocab));
    positions = nl::arange(kSeq);
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

constexpr double kRows = double(kBatch * kSeq), kD = double(kModel);
constexpr double kForwardFlops = kLayers * (2 * kRows * kD * 3 * kD + 2 * 2 * double(kBatch) * kSeq * kSeq * kD +
                                            2 * kRows * kD * kD + 2 * 2 * kRows * kD * kFeedForward) +
                                 2 * kRows * kD * kVocab;

Register gpt({"gpt_step_d128_L4_t64_b32",
              "GPT: vocab 96, learned positions, 4 Pre-LN layers d128 h4 FF512 GELU, causal; 32x64 tokens; AdamW step",
              {0, train_flops(kForwardFlops)},
              [] {
                auto model = std::make_shared<GPT>();
                auto optimizer =
                    std::make_shared<nl::optim::AdamW>(model->parameters(), nl::optim::AdamWOptions{.lr = 3e-4});
                nl::Tensor tokens = random_indices({kBatch, kSeq}, kVocab, 4);
                nl::Tensor targets = random_indices({kBatch * kSeq}, kVocab, 5);
                return training_step(model, optimizer,
                                     [model, tokens, targets] { return nl::cross_entropy((*model)(tokens), targets); });
              }});

}  // namespace
}  // namespace bench
