#pragma once
// landscape: the program's configuration, what one training run records, and
// the report (report.cpp). See main.cpp.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "examples/landscape/probes.h"

namespace landscape {

struct Config {
  std::string norm = "all", data, data_dir, out = "results/landscape";
  int64_t depth = 8, width = 256, steps = 600, batch_size = 128, probe_every = 50, seeds = 3, limit = 10000,
          threads = 2;
  double lr = 0.05, weight_scale = 2.449489742783178;  // √6: He's variance (init.h)
  std::vector<double> step_multiples = {0.25, 0.5, 1, 2, 4};
  uint64_t seed = 0;
  bool detect_anomaly = false;
};

// The probes of one step.
struct ProbeRow {
  int64_t step = 0;
  GradientProbe gradient;
  CovariateShiftProbe shift;
};

// One training run: a norm, a seed, its probes and how it ended.
struct Run {
  std::string norm;
  uint64_t seed = 0;
  std::vector<ProbeRow> probes;
  std::vector<double> losses;  // every step's training loss
  double train_loss = NAN;     // mean over the last 10% of the steps (NaN: diverged)
  double test_acc = 0;
  double seconds = 0;
};

// Writes probes.csv, landscape.csv, ics.csv, steps.csv, bands.csv, landscape.png
// and results.json in cfg.out; prints the tables and the claims' verdicts;
// returns the summary JSON.
nlohmann::json report(const Config& cfg, const std::string& data_name, const std::vector<Run>& runs);

}  // namespace landscape
