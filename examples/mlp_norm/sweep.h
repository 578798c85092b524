#pragma once
// mlp_norm --sweep: norm ∈ {none, batch, layer} × batch size ∈ {128, 4}
// (lr 0.05 at 128, 0.0125 at 4), each for `seeds` seeds, then a summary.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "data/mnist.h"

namespace mlp_norm {

struct SweepConfig {
  int64_t epochs = 1;
  std::string optim = "sgd";
  double momentum = 0;
  uint64_t seed = 0;   // the seeds are seed, seed + 1, ..., seed + seeds − 1
  int64_t seeds = 1;
  int64_t hidden = 256;
  std::string out;     // directory for everything written
};

// Runs the sweep, printing each run's JSON line as it finishes and the
// summary table at the end, and writes into cfg.out:
//   runs/<norm>_b<batch>_seed<s>.csv   every step's loss
//   results.csv, results.json          one row / object per run
//   summary.csv, summary.md            per config: mean ± std over the seeds
//   curves.csv                         training loss per config, averaged over
//                                      2% slices of an epoch and over the seeds
//   sweep.gp, sweep.png                loss curves and test-accuracy bars
// Returns the summary (the program's final JSON line).
nlohmann::json run_sweep(const SweepConfig& cfg, const nl::data::Mnist& data);

}  // namespace mlp_norm
