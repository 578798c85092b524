#pragma once
// CharLSTM: a character-level language model — Embedding -> LSTM (any cell)
// -> Linear to the vocabulary. forward(ids (N, T)) gives logits (N, T, V).
// max_steps: the batch_norm cell's time steps with their own statistics.
#include <string>
#include <vector>

#include "layers/embedding.h"
#include "layers/linear.h"
#include "layers/lstm.h"

namespace nl::models {

class CharLSTM : public layers::Layer<CharLSTM> {
 public:
  CharLSTM(int64_t vocab_size, int64_t embed_dim, int64_t hidden_size, int64_t num_layers = 1,
           layers::LSTMCell cell = layers::LSTMCell::plain, double dropout = 0.0, int64_t max_steps = 256);
  // Continues prompt (ids) by n sampled ids (see sample_next), in eval mode and without a graph.
  std::vector<int64_t> generate(const std::vector<int64_t>& prompt, int64_t n, double temperature = 1.0,
                                int64_t top_k = 0);

  std::shared_ptr<layers::Embedding> embedding;
  std::shared_ptr<layers::LSTM> lstm;
  std::shared_ptr<layers::Linear> head;

 protected:
  friend layers::Layer<CharLSTM>;
  Tensor forward(const Tensor& ids) override;
};

}  // namespace nl::models
