#include "layers/lstm.h"

#include <fmt/format.h>

#include "core/ops.h"
#include "layers/init.h"

namespace nl::layers {

namespace {
const char* cell_name(LSTMCell cell) {
  switch (cell) {
    case LSTMCell::plain: return "plain";
    case LSTMCell::layer_norm: return "layer_norm";
    case LSTMCell::batch_norm: return "batch_norm";
  }
  return "?";
}
}  // namespace

LSTM::LSTM(int64_t input, int64_t hidden, LSTMOptions o)
    : Layer("LSTM"), input_size(input), hidden_size(hidden), options(o) {
  if (input <= 0 || hidden <= 0 || o.num_layers <= 0)
    fail("LSTM: sizes must be > 0, got input_size={} hidden_size={} num_layers={}", input, hidden, o.num_layers);
  if (!(o.dropout >= 0 && o.dropout < 1)) fail("LSTM: dropout must be in [0, 1), got {}", o.dropout);
  if (o.cell == LSTMCell::batch_norm && o.max_steps <= 0) fail("LSTM: max_steps must be > 0, got {}", o.max_steps);
  const int64_t H = hidden, G = 4 * hidden;
  layers_.resize(size_t(o.num_layers));  // reserved up front: registration keeps pointers to members
  for (int64_t k = 0; k < o.num_layers; ++k) {
    LayerTensors& L = layers_[size_t(k)];
    int64_t in = k == 0 ? input : H;
    // PyTorch: every weight and bias U(−1/√H, 1/√H)
    auto uniform = [&](Shape shape) {
      Tensor t = empty(shape, o.dtype);
      init::linear_default_(t, H);
      return t;
    };
    std::string l = fmt::format("_l{}", k);
    L.weight_ih = uniform({G, in});
    L.weight_hh = uniform({G, H});
    register_parameter("weight_ih" + l, L.weight_ih);
    register_parameter("weight_hh" + l, L.weight_hh);
    if (o.cell == LSTMCell::plain && o.bias) {
      L.bias_ih = uniform({G});
      L.bias_hh = uniform({G});
    }
    if (o.cell == LSTMCell::batch_norm && o.bias) L.bias_ih = zeros({G}, o.dtype);  // the single b of the paper
    register_parameter("bias_ih" + l, L.bias_ih);
    register_parameter("bias_hh" + l, L.bias_hh);
    if (o.cell == LSTMCell::plain) continue;

    double gain = o.cell == LSTMCell::layer_norm ? 1.0 : 0.1;
    L.norm_ih_weight = full({G}, gain, o.dtype);
    L.norm_hh_weight = full({G}, gain, o.dtype);
    L.norm_c_weight = full({H}, gain, o.dtype);
    L.norm_c_bias = zeros({H}, o.dtype);
    if (o.cell == LSTMCell::layer_norm) {
      L.norm_ih_bias = zeros({G}, o.dtype);
      L.norm_hh_bias = zeros({G}, o.dtype);
    }
    std::string prefix = o.cell == LSTMCell::layer_norm ? "ln" : "bn";
    register_parameter(prefix + "_ih_weight" + l, L.norm_ih_weight);
    register_parameter(prefix + "_ih_bias" + l, L.norm_ih_bias);
    register_parameter(prefix + "_hh_weight" + l, L.norm_hh_weight);
    register_parameter(prefix + "_hh_bias" + l, L.norm_hh_bias);
    register_parameter(prefix + "_c_weight" + l, L.norm_c_weight);
    register_parameter(prefix + "_c_bias" + l, L.norm_c_bias);
    if (o.cell == LSTMCell::batch_norm) {
      L.running_mean_ih = zeros({o.max_steps, G}, o.dtype);
      L.running_var_ih = ones({o.max_steps, G}, o.dtype);
      L.running_mean_hh = zeros({o.max_steps, G}, o.dtype);
      L.running_var_hh = ones({o.max_steps, G}, o.dtype);
      L.running_mean_c = zeros({o.max_steps, H}, o.dtype);
      L.running_var_c = ones({o.max_steps, H}, o.dtype);
      register_buffer("bn_ih_running_mean" + l, L.running_mean_ih);
      register_buffer("bn_ih_running_var" + l, L.running_var_ih);
      register_buffer("bn_hh_running_mean" + l, L.running_mean_hh);
      register_buffer("bn_hh_running_var" + l, L.running_var_hh);
      register_buffer("bn_c_running_mean" + l, L.running_mean_c);
      register_buffer("bn_c_running_var" + l, L.running_var_c);
    }
  }
}

LSTM::Output LSTM::run_layer(LayerTensors& L, const Tensor& x, Tensor h, Tensor c, int64_t start_step) {
  const int64_t H = hidden_size;
  const LSTMCell cell = options.cell;
  // All time steps' input projections in one GEMM: (T, N, In) · W_ihᵀ (+ b_ih + b_hh for
  // the plain cell, the GEMM's starting value) -> (T, N, 4H)
  Tensor x_proj =
      linear(x, L.weight_ih, cell == LSTMCell::plain && L.bias_ih.defined() ? L.bias_ih + L.bias_hh : Tensor());
  if (cell == LSTMCell::layer_norm)  // LN is per row, so one call normalizes every step
    x_proj = layer_norm(x_proj, {4 * H}, L.norm_ih_weight, L.norm_ih_bias, options.eps);
  // all steps in one fused op
  LSTMSequenceResult s;
  if (cell == LSTMCell::plain) {
    s = lstm_sequence(x_proj, h, c, L.weight_hh);
  } else if (cell == LSTMCell::layer_norm) {
    s = layer_norm_lstm_sequence(x_proj, h, c, L.weight_hh, L.norm_hh_weight, L.norm_hh_bias, L.norm_c_weight,
                                 L.norm_c_bias, options.eps);
  } else {
    s = batch_norm_lstm_sequence(x_proj, h, c, L.weight_hh, L.norm_ih_weight, L.norm_hh_weight, L.bias_ih,
                                 L.norm_c_weight, L.norm_c_bias,
                                 {L.running_mean_ih, L.running_var_ih, L.running_mean_hh, L.running_var_hh,
                                  L.running_mean_c, L.running_var_c},
                                 start_step, is_training(), options.momentum, options.eps);
  }
  return {s.output, s.h_n, s.c_n};
}

LSTM::Output LSTM::forward(const Tensor& input, const Tensor& h0, const Tensor& c0, int64_t start_step) {
  if (input.dim() != 3 || input.size(2) != input_size)
    fail("LSTM: expected input ({}, {}, {}), got {}", options.batch_first ? "N" : "T", options.batch_first ? "T" : "N",
         input_size, input.shape());
  Tensor x = options.batch_first ? input.transpose(0, 1) : input;  // (T, N, I)
  const int64_t N = x.size(1), H = hidden_size, K = options.num_layers;
  if (start_step < 0) fail("LSTM: start_step must be >= 0, got {}", start_step);
  for (const Tensor* s : {&h0, &c0})
    if (s->defined() && !(s->shape() == Shape{K, N, H}))
      fail("LSTM: initial states must be ({}, {}, {}), got {}", K, N, H, s->shape());
  std::vector<Tensor> h_n, c_n;
  for (int64_t k = 0; k < K; ++k) {
    Tensor h = h0.defined() ? h0.select(0, k) : zeros({N, H}, input.dtype());
    Tensor c = c0.defined() ? c0.select(0, k) : zeros({N, H}, input.dtype());
    Output out = run_layer(layers_[size_t(k)], x, h, c, start_step);
    x = out.output;
    if (options.dropout > 0 && k + 1 < K) x = dropout(x, options.dropout, is_training());
    h_n.push_back(out.h_n);
    c_n.push_back(out.c_n);
  }
  return {options.batch_first ? x.transpose(0, 1).contiguous() : x, stack(h_n, 0), stack(c_n, 0)};
}

std::string LSTM::extra_repr() const {
  return fmt::format("{}, {}, num_layers={}, batch_first={}, cell={}", input_size, hidden_size, options.num_layers,
                     options.batch_first, cell_name(options.cell));
}

}  // namespace nl::layers
