#pragma once
// LSTM, as torch.nn.LSTM, in three cells:
//
//   plain       PyTorch's LSTM: a = W_ih·x_t + b_ih + W_hh·h_{t−1} + b_hh,
//               gates [i | f | g | o]; c_t = σ(f)·c_{t−1} + σ(i)·tanh(g);
//               h_t = σ(o)·tanh(c_t). Names and layouts as PyTorch's
//               (weight_ih_l0 (4H, I), weight_hh_l0 (4H, H), bias_ih_l0,
//               bias_hh_l0), so PyTorch weights load.
//   layer_norm  Ba, Kiros & Hinton 2016: a = LN(W_ih·x_t) + LN(W_hh·h_{t−1}),
//               each LN over the 4H pre-activations with its own gain
//               (init 1) and bias (init 0, the gate biases);
//               h_t = σ(o)·tanh(LN(c_t)). Works the same at any length.
//   batch_norm  Cooijmans et al. 2016 (recurrent BN): a = BN_t(W_ih·x_t) +
//               BN_t(W_hh·h_{t−1}) + b, h_t = σ(o)·tanh(BN_t(c_t)), with
//               statistics per time step t < max_steps (running ones for eval);
//               steps beyond max_steps use the last step's. Gains start at
//               0.1, as the paper recommends, so tanh is not saturated.
//
// Speed: the input projection of all time steps is one GEMM (and for the
// layer-normalized cell one LayerNorm over all T·N rows). The plain cell then
// runs all steps as one fused op, one graph node: core/ops/lstm_sequence.cpp
// (one product and the cell per step), layer_norm_lstm_sequence.cpp (the
// product, both LayerNorms and the cell per group of rows, no barrier between
// threads) and batch_norm_lstm_sequence.cpp (threads split the batch rows as
// the plain op does, each channel's statistics merged from the row blocks';
// two barriers per step each way).
#include <vector>

#include "layers/module.h"

namespace nl::layers {

enum class LSTMCell { plain, layer_norm, batch_norm };

struct LSTMOptions {
  int64_t num_layers = 1;
  bool bias = true;          // plain and batch_norm cells (the LN biases play this role in layer_norm)
  bool batch_first = false;  // input (N, T, I) instead of (T, N, I), as PyTorch
  double dropout = 0;        // on the outputs of every layer but the last, in training
  LSTMCell cell = LSTMCell::plain;
  int64_t max_steps = 256;  // batch_norm: time steps with their own statistics
  double eps = 1e-5;        // of the norms
  double momentum = 0.1;    // batch_norm running statistics
  DType dtype = f32;
};

class LSTM : public Layer<LSTM> {
 public:
  LSTM(int64_t input_size, int64_t hidden_size, LSTMOptions options = {});

  // What lstm(input, h0, c0, start_step) returns; the hooks see input and
  // `output` (a hook's replacement output replaces it; h_n and c_n stay the forward's).
  struct Output {
    Tensor output;  // (T, N, H), or (N, T, H) with batch_first: h_t of the last layer
    Tensor h_n;     // (num_layers, N, H): the last h of each layer
    Tensor c_n;     // (num_layers, N, H)
  };

  const int64_t input_size, hidden_size;
  const LSTMOptions options;

 protected:
  friend Layer<LSTM>;
  // h0 and c0 are (num_layers, N, H); undefined means zeros. start_step is the
  // time index of input's first step: it picks the batch_norm cell's per-step
  // statistics when a sequence is fed in pieces (generation feeds one step at
  // a time, continuing from the last state); the other cells ignore it.
  Output forward(const Tensor& input, const Tensor& h0, const Tensor& c0, int64_t start_step = 0);
  // lstm(input): zero initial states, the output alone.
  Tensor forward(const Tensor& input) override { return forward(input, Tensor(), Tensor()).output; }
  std::string extra_repr() const override;

 private:
  // The tensors of one layer; which are defined depends on the cell.
  struct LayerTensors {
    Tensor weight_ih, weight_hh, bias_ih, bias_hh;
    Tensor norm_ih_weight, norm_ih_bias, norm_hh_weight, norm_hh_bias, norm_c_weight, norm_c_bias;
    // batch_norm: (max_steps, 4H) for ih and hh, (max_steps, H) for c
    Tensor running_mean_ih, running_var_ih, running_mean_hh, running_var_hh, running_mean_c, running_var_c;
  };
  // One layer over the whole sequence x (T, N, In); returns outputs (T, N, H), h_T, c_T.
  Output run_layer(LayerTensors& layer, const Tensor& x, Tensor h, Tensor c, int64_t start_step);
  std::vector<LayerTensors> layers_;
};

}  // namespace nl::layers
