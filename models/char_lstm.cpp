#include "models/char_lstm.h"

#include "core/autograd.h"
#include "core/ops.h"
#include "models/sampling.h"

namespace nl::models {

CharLSTM::CharLSTM(int64_t vocab_size, int64_t embed_dim, int64_t hidden_size, int64_t num_layers,
                   layers::LSTMCell cell, double dropout, int64_t max_steps)
    : Layer("CharLSTM") {
  layers::LSTMOptions o;
  o.num_layers = num_layers;
  o.batch_first = true;
  o.cell = cell;
  o.dropout = dropout;
  o.max_steps = max_steps;
  embedding = register_module("embedding", std::make_shared<layers::Embedding>(vocab_size, embed_dim));
  lstm = register_module("lstm", std::make_shared<layers::LSTM>(embed_dim, hidden_size, o));
  head = register_module("head", std::make_shared<layers::Linear>(hidden_size, vocab_size));
}

Tensor CharLSTM::forward(const Tensor& ids) {
  if (ids.dim() != 2) fail("CharLSTM: expected ids (N, T), got {}", ids.shape());
  return (*head)((*lstm)((*embedding)(ids)));
}

std::vector<int64_t> CharLSTM::generate(const std::vector<int64_t>& prompt, int64_t n, double temperature,
                                        int64_t top_k) {
  if (prompt.empty()) fail("CharLSTM::generate: the prompt is empty");
  bool was_training = is_training();
  eval();
  NoGradGuard no_grad;
  std::vector<int64_t> out = prompt;
  // Feed the prompt once, then one id at a time, carrying (h, c).
  Tensor ids = from_vector(prompt, {1, int64_t(prompt.size())});
  Tensor h, c;
  int64_t position = 0;  // time index of the next input (BN-LSTM's statistics are per step)
  for (int64_t k = 0; k < n; ++k) {
    auto state = (*lstm)((*embedding)(ids), h, c, position);
    position += ids.size(1);
    h = state.h_n;
    c = state.c_n;
    Tensor last = state.output.select(1, state.output.size(1) - 1);  // (1, H)
    int64_t next = sample_next((*head)(last).select(0, 0), temperature, top_k);
    out.push_back(next);
    ids = from_vector(std::vector<int64_t>{next}, {1, 1});
  }
  train(was_training);
  return out;
}

}  // namespace nl::models
