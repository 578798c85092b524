#pragma once
// mlp_norm --sweep: norm ∈ {none, batch, layer, renorm} × batch size ∈ {128, 4}
// (lr 0.05 at 128, 0.0125 at 4), each for `seeds` seeds, then a summary.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/mnist.h"
#include "examples/common/sweep_results.h"
#include "examples/mlp_norm/train.h"
#include "train/run_checkpoints.h"

namespace mlp_norm {

struct SweepConfig {
  int64_t epochs = 1;
  std::string optim = "sgd";
  double momentum = 0;
  uint64_t seed = 0;  // the seeds are seed, seed + 1, ..., seed + seeds − 1
  int64_t seeds = 1;
  int64_t hidden = 256;
  std::string out;  // directory for everything written
  // --checkpoint-dir: run <name>_seed<s> keeps its checkpoints in
  // checkpoint.dir/<name>_seed<s>; resuming, the finished runs are loaded
  // from their last checkpoint and evaluated, the interrupted one continues
  // (nl::train::member_options, check_sequence)
  nl::train::CheckpointOptions checkpoint;
};

// One configuration (norm, batch size, lr) and its runs; the finished sweep
// (its to_json() is the final line).
using PointResults = examples::SweepPoint<RunResult>;
using SweepResult = examples::SweepOutcome<RunResult>;

// Runs the sweep, printing each run's JSON line as it finishes and the
// summary table at the end, and writes into cfg.out:
//   runs/<norm>_b<batch>_seed<s>.csv   every step's loss
//   results.csv, results.json          one row / object per run
//   summary.csv, summary.md            per config: mean ± std over the seeds
//   curves.csv                         training loss per config, averaged over
//                                      2% slices of an epoch and over the seeds
//   sweep.gp, sweep.png                loss curves and test-accuracy bars
SweepResult run_sweep(const SweepConfig& cfg, const nl::data::Mnist& data);

}  // namespace mlp_norm
