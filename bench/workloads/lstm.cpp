// lstm_lm_step_h256_t64_b32: one Adam step of a character LSTM language
// model, Embedding(96, 64) → LSTM(64, 256) (plain cell) → Linear(256, 96),
// on 32 sequences of 64 tokens (time-major), cross-entropy over all 64·32
// positions.
//
// charlm_step_{lnlstm,bnlstm}_h256_t64_b32: the same step with the
// normalized cells (layers::LSTMCell::layer_norm / batch_norm, layers/lstm.h),
// the performance issue's normalized char LM; the same FLOPs are counted (the
// norms are elementwise work and left out, as the cell's is).
//
// sweep_lstm_step_h<H> (normlab-bench --sweep, bench/compare --sweep): the
// plain step with hidden H in {64, 128, 256, 512, 1024}.
//
// FLOPs counted (matmuls only; the cell's elementwise work is left out):
//   forward: input projection 2·T·B·64·4H, recurrence 2·T·B·H·4H, head 2·T·B·H·96
//   training: 3× that (every matmul also gives dX and dW; the embedding
//   output requires grad, so even the input projection needs its dX).
#include "bench/workloads/common.h"

namespace bench {
namespace {

constexpr int64_t kVocab = 96, kEmbed = 64, kHidden = 256, kSteps = 64, kBatch = 32;

class LanguageModel : public nl::layers::Layer<LanguageModel> {
 public:
  LanguageModel(nl::layers::LSTMCell cell, int64_t hidden) : Layer("LSTMLanguageModel") {
    embed = register_module("embed", std::make_shared<nl::layers::Embedding>(kVocab, kEmbed));
    lstm = register_module("lstm",
                           std::make_shared<nl::layers::LSTM>(kEmbed, hidden, nl::layers::LSTMOptions{.cell = cell}));
    head = register_module("head", std::make_shared<nl::layers::Linear>(hidden, kVocab));
  }
  std::shared_ptr<nl::layers::Embedding> embed;
  std::shared_ptr<nl::layers::LSTM> lstm;
  std::shared_ptr<nl::layers::Linear> head;

 protected:
  friend Layer<LanguageModel>;
  // tokens (T, B) -> logits (T·B, vocab)
  nl::Tensor forward(const nl::Tensor& tokens) override {
    nl::Tensor h = (*lstm)((*embed)(tokens));
    return (*head)(h).reshape({-1, kVocab});
  }
};

// Matmul FLOPs of one training step with `hidden` units (see the top of the file).
double step_flops(int64_t hidden) {
  double h = double(hidden);
  return train_flops(2.0 * kSteps * kBatch * (double(kEmbed) * 4 * h + h * 4 * h + h * kVocab));
}

// One Adam step (lr 1e-3) of the model with `cell` on the fixed random batch.
std::function<void()> language_model_step(nl::layers::LSTMCell cell, int64_t hidden = kHidden) {
  auto model = std::make_shared<LanguageModel>(cell, hidden);
  auto optimizer = std::make_shared<nl::optim::Adam>(model->parameters(), nl::optim::AdamOptions{.lr = 1e-3});
  nl::Tensor tokens = random_indices({kSteps, kBatch}, kVocab, 2);
  nl::Tensor targets = random_indices({kSteps * kBatch}, kVocab, 3);
  return training_step(model, optimizer,
                       [model, tokens, targets] { return nl::cross_entropy((*model)(tokens), targets); });
}

Register lstm_lm({"lstm_lm_step_h256_t64_b32",
                  "Embedding(96,64) -> LSTM(64,256) -> Linear(256,96), 32x64 tokens: one Adam step",
                  {0, step_flops(kHidden)},
                  [] { return language_model_step(nl::layers::LSTMCell::plain); }});
Register charlm_lnlstm({"charlm_step_lnlstm_h256_t64_b32",
                        "Embedding(96,64) -> LN-LSTM(64,256) -> Linear(256,96), 32x64 tokens: one Adam step",
                        {0, step_flops(kHidden)},
                        [] { return language_model_step(nl::layers::LSTMCell::layer_norm); }});
Register charlm_bnlstm({"charlm_step_bnlstm_h256_t64_b32",
                        "Embedding(96,64) -> BN-LSTM(64,256) -> Linear(256,96), 32x64 tokens: one Adam step",
                        {0, step_flops(kHidden)},
                        [] { return language_model_step(nl::layers::LSTMCell::batch_norm); }});

const bool sweep_registered = [] {
  for (int64_t hidden : {64, 128, 256, 512, 1024})
    Register({fmt::format("sweep_lstm_step_h{}", hidden),
              fmt::format("lstm_lm_step_h256_t64_b32 with hidden {}", hidden),
              {0, step_flops(hidden)},
              [hidden] { return language_model_step(nl::layers::LSTMCell::plain, hidden); }});
  return true;
}();

}  // namespace
}  // namespace bench
