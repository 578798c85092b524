#pragma once
// mlp_norm --sweep: norm ∈ {none, batch, layer, renorm} × batch size ∈ {128, 4}
// (lr 0.05 at 128, 0.0125 at 4), each for `seeds` seeds, then a summary.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/mnist.h"
#include "examples/common/stats.h"
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

// One configuration of the sweep, in the order of the table and the plot.
struct SweepPoint {
  std::string norm;
  int64_t batch_size;
  double lr;
  std::string name() const;   // "batch_b4"
  std::string title() const;  // "batch, batch 4"
};

// A configuration's runs, one per seed.
struct PointResults {
  SweepPoint point;
  std::vector<RunResult> runs;
  // Mean, std, min and max over the seeds of one of RunResult's numbers.
  examples::Spread spread(double RunResult::*field) const;
};

struct SweepResult {
  std::vector<PointResults> points;
  double seconds = 0;               // the whole sweep
  std::string out;                  // the directory written, absolute
  std::optional<std::string> plot;  // the PNG, when gnuplot rendered it
  // The program's final JSON line: per configuration the means and spreads
  // over the seeds, the number of runs, the time and where the results are.
  nlohmann::json to_json() const;
};

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
