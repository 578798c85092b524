#pragma once
// cnn_norm --sweep: norms × batch sizes, each for `seeds` seeds, with the
// learning rate scaled linearly with the batch (scaled_lr), then the table
// and Wu & He's Figure 1: test error against batch size, one line per norm.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/mnist.h"
#include "examples/cnn_norm/train.h"
#include "examples/common/sweep_results.h"
#include "train/run_checkpoints.h"

namespace cnn_norm {

struct SweepConfig {
  std::vector<std::string> norms;    // in the table's and the plot's order
  std::vector<int64_t> batch_sizes;  // likewise
  int64_t epochs = 1;
  double base_lr = 0.02;  // lr = scaled_lr(base_lr, batch size)
  double momentum = 0.9;
  int64_t groups = 8;
  bool noniid = false;
  uint64_t seed = 0;  // the seeds are seed, seed + 1, ..., seed + seeds − 1
  int64_t seeds = 3;
  std::string out;  // directory for everything written
  // --checkpoint-dir: run <name>_seed<s> keeps its checkpoints in
  // checkpoint.dir/<name>_seed<s> (as mlp_norm --sweep)
  nl::train::CheckpointOptions checkpoint;
};

// The norms and batch sizes of the sweep when not given: every norm at
// {2, 4, 8, 16, 32, 128}; --noniid: BN, Batch Renorm, GN and LN at {8, 32, 128}.
std::vector<std::string> default_sweep_norms(bool noniid);
std::vector<int64_t> default_sweep_batch_sizes(bool noniid);

// One configuration and its runs; the finished sweep (its to_json() is the final line).
using PointResults = examples::SweepPoint<RunResult>;
using SweepResult = examples::SweepOutcome<RunResult>;

// Runs the sweep, printing each run's JSON line as it finishes and the
// summary at the end, and writes into cfg.out:
//   runs/<norm>_b<batch>_seed<s>.csv   every step's loss
//   results.csv, results.json          one row / object per run
//   summary.csv, summary.md            per config: mean ± std over the seeds;
//                                      the norms ordered at each batch size
//   curves.csv                         training loss at the largest batch, per
//                                      norm, over 2% slices of an epoch
//   sweep.gp, sweep.png                test error against batch size; the curves
SweepResult run_sweep(const SweepConfig& cfg, const nl::data::Mnist& data);

}  // namespace cnn_norm
