#pragma once
// transformer_norm --init-gradients: Xiong et al. 2020 ("On Layer Normalization
// in the Transformer Architecture", Figure 3 and Theorem 1) at initialization.
// For Post-LN and Pre-LN GPTs of several depths L, before any training step,
// the gradient norm ‖∂loss/∂W2_l‖_F of each block's last FFN weight
// (blocks.l.linear2.weight) on batches of the corpus, averaged over batches,
// then mean ± standard deviation over seeds (each seed a new model).
//
// Their theory, for Xavier-initialized weights: Post-LN's gradient norm grows
// toward the output, and its last layer's is of the order d·√(ln d) whatever
// L; Pre-LN's is about the same in every layer and its last layer's shrinks as
// d·√(ln d / L). So the probe runs the paper's initialization (xavier: every
// matrix of the blocks and the head Xavier-uniform, biases 0) and the one our
// GPT is built with (gpt2: N(0, 0.02²), the residual projections scaled by
// 1/√(2L)), and reports three claims as held, partly or not:
//   1. Post-LN: the last block's norm over the first block's > 1 at every depth.
//   2. Pre-LN: flat, the largest block's norm over the smallest's below kFlat at every depth.
//   3. The last block's norm against L (a least-squares slope in log-log):
//      Pre-LN's slope near −1/2, Post-LN's near 0 (each within kSlopeTolerance).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "normlab.h"

namespace transformer_norm {

constexpr double kFlat = 1.5;             // claim 2: "about the same in every layer"
constexpr double kSlopeTolerance = 0.25;  // claim 3: |slope − expected| within this

struct InitGradientOptions {
  std::vector<int64_t> depths = {2, 4, 6, 8, 12, 16};
  int64_t seeds = 3;
  int64_t batches = 2;  // batches averaged per model
  int64_t batch_size = 8, seq_len = 64;
  uint64_t seed = 0;  // seed s of the probe uses seed + s
};

// The last FFN weight of one block of one kind of model.
struct InitGradientRow {
  std::string placement;         // post | pre
  std::string init;              // xavier | gpt2
  int64_t depth = 0, layer = 0;  // layer 1..depth
  double mean = 0, stddev = 0;   // of ‖∂loss/∂W2_l‖_F over the seeds
};

// Every row: placements post, pre × inits xavier, gpt2 × depths × layers.
// `model` gives d_model, heads, the FFN width and the vocabulary; shows
// progress on stderr.
std::vector<InitGradientRow> measure_init_gradients(const nl::models::GPTConfig& model,
                                                    const nl::data::TextCorpus& corpus, const InitGradientOptions& o);

// Writes init_gradients.csv, init_gradients.json (the claims and every row)
// and init_gradients.png (gnuplot) in out; prints the table and the claims'
// verdicts; returns the summary: the claims and the files' paths.
nlohmann::json report_init_gradients(const std::string& out, const std::vector<InitGradientRow>& rows);

}  // namespace transformer_norm
