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
// lstm_products_h256_t64_b32: lstm_lm_step's matrix products and nothing
// else, each run as the step runs it: the input projection and the head with
// their gradients through kernels::gemm (bench/workloads/linear_products.h);
// the 64 recurrent products forward and the 64 backward from W_hh packed once
// per call, the threads splitting the batch rows or the hidden units (meeting
// once per step) as core/ops/lstm_sequence.cpp does (ops::split_plain_lstm);
// dW_hh as its two GEMMs. The same FLOPs as the step, all of them; their
// rate is the most the step can reach with the cell, the embedding,
// cross-entropy and Adam free (and more: h and the gate gradients never
// change between steps here, so no step waits on values the other thread
// has just written).
//
// lstm_cell_h256_t64_b32: lstm_lm_step's cell arithmetic alone: the per-unit
// forward of core/kernels/lstm_unit.h in the loop of core/ops/lstm_sequence.cpp
// (which runs it on the product's tile) and that op's own cell backward
// (ops::cell_backward): forward from the gate pre-activations
// (read from memory, as the step reads x_proj) to the activations, c and h;
// backward from them, dy and dh to the gate gradients and dc. The threads
// split the work as the op does; a unit's cell state is its own, so they
// never meet. With lstm_products, a floor under the step's time
// (bench/compare's FLOORS): the step does all of both.
//
// sweep_lstm_step_h<H> (normlab-bench --sweep, bench/compare --sweep): the
// plain step with hidden H in {64, 128, 256, 512, 1024}.
//
// FLOPs counted (matmuls only; the cell's elementwise work is left out):
//   forward: input projection 2·T·B·64·4H, recurrence 2·T·B·H·4H, head 2·T·B·H·96
//   training: 3× that (every matmul also gives dX and dW; the embedding
//   output requires grad, so even the input projection needs its dX).
#include "bench/workloads/common.h"
#include "bench/workloads/linear_products.h"
#include "core/kernels/lstm_unit.h"
#include "core/kernels/simd.h"
#include "core/kernels/vec_math.h"
#include "core/ops/lstm_helpers.h"

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

// The products of lstm_lm_step_h256_t64_b32 alone (see the top of the file).
std::function<void()> lstm_products() {
  const int64_t T = kSteps, N = kBatch, H = kHidden, G = 4 * kHidden;
  auto projection = std::make_shared<LinearProducts>(T * N, kEmbed, G);
  auto head = std::make_shared<LinearProducts>(T * N, H, kVocab);
  // h_0 .. h_T, the recurrent products (T, N, 4H), their gradients, W_hh and dW_hh, dh
  nl::Tensor h = nl::randn({T + 1, N, H}), products = nl::zeros({T, N, G}), dproducts = nl::randn({T, N, G});
  nl::Tensor w_hh = nl::randn({G, H}), dw_hh = nl::zeros({G, H}), dh = nl::zeros({N, H});
  return [=] {
    const float* w = w_hh.data<float>();
    projection->forward();
    nl::Tensor forward_panels = nl::ops::pack_gates_interleaved(w, H, "lstm_products");
    const nl::ops::SequenceSplit split = nl::ops::split_plain_lstm(N, H, nl::DType::float32);
    nl::ops::on_split_threads(split, [&](int64_t lo, int64_t hi) {
      const auto [n0, rows, u0, u1] = nl::ops::sequence_block(split, lo, hi, N, H);
      for (int64_t t = 0; t < T; ++t) {  // p_t = h_{t−1}·W_hhᵀ, this block's rows and units
        nl::ops::gate_products<float>(forward_panels.data<float>(), h.data<float>() + (t * N + n0) * H,
                                      products.data<float>() + (t * N + n0) * G, rows, H, u0, u1);
        if (!split.by_rows) nl::ops::step_barrier();
      }
    });
    head->forward();
    head->backward();
    nl::Tensor backward_panels = nl::ops::pack_for_hidden_gradient(w, H, "lstm_products");
    nl::ops::on_split_threads(split, [&](int64_t lo, int64_t hi) {
      const auto [n0, rows, u0, u1] = nl::ops::sequence_block(split, lo, hi, N, H);
      for (int64_t t = T - 1; t >= 0; --t) {  // dh = dp_t·W_hh, this block's rows and units
        if (!split.by_rows) nl::ops::step_barrier();
        nl::ops::hidden_gradient<float>(backward_panels.data<float>(), dproducts.data<float>() + (t * N + n0) * G,
                                        dh.data<float>() + n0 * H, rows, H, u0, u1);
      }
    });
    nl::ops::recurrent_weight_gradient<float>(dproducts.data<float>(), h.data<float>(), h.data<float>() + N * H, T, N,
                                              H, dw_hh.data<float>());
    projection->backward();
  };
}

// One step's cell forward, units [lo, hi) of every row: pre (N, 4H) -> acts, c, h.
NL_SIMD_CLONES void cell_forward(const float* pre, const float* c_prev, float* acts, float* c, float* h, int64_t N,
                                 int64_t H, int64_t lo, int64_t hi) {
  for (int64_t n = 0; n < N; ++n) {
    const float* x = pre + n * 4 * H;
    float* a = acts + n * 4 * H;
#pragma omp simd
    for (int64_t u = lo; u < hi; ++u) {
      c[n * H + u] =
          nl::kernels::lstm_unit_forward_store(x[u], x[H + u], x[2 * H + u], x[3 * H + u], c_prev[n * H + u], u, H, a);
      h[n * H + u] = a[3 * H + u] * nl::kernels::vec::tanh(c[n * H + u]);  // h = o·tanh(c)
    }
  }
}

// The cell of lstm_lm_step_h256_t64_b32 alone (see the top of the file).
std::function<void()> lstm_cell() {
  const int64_t T = kSteps, N = kBatch, H = kHidden, G = 4 * kHidden;
  nl::Tensor pre = nl::randn({T, N, G}), acts = nl::zeros({T, N, G}), cells = nl::zeros({T + 1, N, H});
  nl::Tensor h = nl::zeros({T, N, H}), dy = nl::randn({T, N, H}), dh = nl::randn({N, H}), dc = nl::zeros({N, H});
  nl::Tensor da = nl::zeros({T, N, G});
  return [=] {
    float *a = acts.data<float>(), *c = cells.data<float>();
    const nl::ops::SequenceSplit split = nl::ops::split_plain_lstm(N, H, nl::DType::float32);
    nl::ops::on_split_threads(split, [&](int64_t lo, int64_t hi) {
      const auto [n0, rows, u0, u1] = nl::ops::sequence_block(split, lo, hi, N, H);
      auto row = [&](int64_t t, int64_t width) { return (t * N + n0) * width; };  // this block's first row at step t
      for (int64_t t = 0; t < T; ++t)
        cell_forward(pre.data<float>() + row(t, G), c + row(t, H), a + row(t, G), c + row(t + 1, H),
                     h.data<float>() + row(t, H), rows, H, u0, u1);
      for (int64_t t = T - 1; t >= 0; --t)  // dh_next: the same dh every step (no products here)
        nl::ops::cell_backward<float>(a + row(t, G), c + row(t, H), c + row(t + 1, H), dy.data<float>() + row(t, H),
                                      dh.data<float>() + n0 * H, dc.data<float>() + n0 * H,
                                      da.data<float>() + row(t, G), rows, H, u0, u1);
    });
  };
}

Register lstm_lm({"lstm_lm_step_h256_t64_b32",
                  "Embedding(96,64) -> LSTM(64,256) -> Linear(256,96), 32x64 tokens: one Adam step",
                  {0, step_flops(kHidden)},
                  [] { return language_model_step(nl::layers::LSTMCell::plain); }});
Register lstm_products_only({"lstm_products_h256_t64_b32",
                             "the matrix products of one lstm_lm_step_h256_t64_b32 step alone, as the step runs them",
                             {0, step_flops(kHidden)},
                             [] { return lstm_products(); }});
Register lstm_cell_only({"lstm_cell_h256_t64_b32",
                         "the LSTM cell's arithmetic of one lstm_lm_step_h256_t64_b32 step alone, forward and backward",
                         {0, 0},
                         [] { return lstm_cell(); }});
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
