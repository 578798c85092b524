#pragma once
// What the classifier sweeps (mlp_norm --sweep, cnn_norm --sweep) share: a
// run's results as JSON, the spread of a result over a configuration's seeds,
// a configuration's mean loss curve, a configuration and its runs, the
// finished sweep and its final JSON line.
//
// Run is a program's RunResult with the fields losses, train_loss, test_loss,
// test_acc, diverged and seconds.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/io/atomic_file.h"
#include "core/parallel.h"
#include "data/mnist.h"
#include "examples/common/stats.h"
#include "train/run_checkpoints.h"
#include "train/train.h"

namespace examples {

// A result's fields of the run JSON: the data sizes, the steps, the threads
// and the results (losses null when not finite).
template <typename Run>
nlohmann::json result_json(const Run& r, const nl::data::Mnist& data) {
  auto finite_or_null = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  return {{"steps", int64_t(r.losses.size())},
          {"train_samples", data.train.size()},
          {"test_samples", data.test.size()},
          {"threads", nl::get_num_threads()},
          {"test_acc", r.test_acc},
          {"test_loss", finite_or_null(r.test_loss)},
          {"train_loss", finite_or_null(r.train_loss)},
          {"diverged", r.diverged},
          {"seconds", r.seconds}};
}

// Mean, std, min and max over the runs (the seeds of one configuration) of one result.
template <typename Run>
Spread spread_over(const std::vector<Run>& runs, double Run::*field) {
  std::vector<double> values;
  for (const Run& r : runs) values.push_back(r.*field);
  return spread_of(values);
}

// A configuration's summary in the sweep's JSON line: the seeds and the
// means (and spread of the accuracy) over them.
template <typename Run>
nlohmann::json spread_json(const std::vector<Run>& runs) {
  Spread acc = spread_over(runs, &Run::test_acc), test_loss = spread_over(runs, &Run::test_loss),
         train_loss = spread_over(runs, &Run::train_loss), seconds = spread_over(runs, &Run::seconds);
  return {{"seeds", acc.n},
          {"test_acc_mean", acc.mean},
          {"test_acc_std", acc.std},
          {"test_loss_mean", test_loss.mean},
          {"train_loss_mean", train_loss.mean},
          {"train_loss_std", train_loss.std},
          {"seconds_mean", seconds.mean}};
}

// The training loss of a configuration over `bins` equal slices of its runs,
// averaged over the runs that did not diverge (NaN if none finished).
template <typename Run>
std::vector<double> mean_curve(const std::vector<Run>& runs, size_t bins) {
  std::vector<double> mean(bins, 0.0);
  int finished = 0;
  for (const Run& r : runs) {
    if (r.diverged) continue;
    std::vector<double> binned = bin_means(r.losses, bins);
    for (size_t b = 0; b < bins; ++b) mean[b] += binned[b];
    ++finished;
  }
  for (double& m : mean) m = finished ? m / finished : NAN;
  return mean;
}

// curves.csv: one column per (name, runs), each the runs' training loss
// averaged over equal slices of training (points_per_epoch per epoch, fewer
// when a finished run has fewer steps) and then over the runs (mean_curve);
// the first column, "epoch", is each slice's middle in epochs, so runs of
// different batch sizes share the axis.
template <typename Run>
void write_curves(const std::string& path, const std::vector<std::pair<std::string, const std::vector<Run>*>>& columns,
                  int64_t epochs, int64_t points_per_epoch) {
  size_t bins = size_t(points_per_epoch * epochs);
  for (const auto& [name, runs] : columns)
    for (const Run& r : *runs)
      if (!r.diverged) bins = std::min(bins, r.losses.size());
  std::string header = "epoch";
  std::vector<std::vector<double>> curves;
  for (const auto& [name, runs] : columns) {
    header += "," + name;
    curves.push_back(mean_curve(*runs, bins));
  }
  std::vector<std::string> rows;
  for (size_t b = 0; b < bins; ++b) {
    std::string row = fmt::format("{:.4f}", (double(b) + 0.5) / double(bins) * double(epochs));
    for (const auto& curve : curves) row += fmt::format(",{:.5f}", curve[b]);
    rows.push_back(row);
  }
  nl::train::write_csv(path, header, rows);
}

// One configuration of a sweep (a norm at a batch size and its learning
// rate) and its runs, one per seed, in the order of the table and the plot.
template <typename Run>
struct SweepPoint {
  std::string norm;
  int64_t batch_size = 0;
  double lr = 0;
  std::vector<Run> runs;
  std::string name() const { return fmt::format("{}_b{}", norm, batch_size); }      // "batch_b4"
  std::string title() const { return fmt::format("{}, batch {}", norm, batch_size); }  // "batch, batch 4"
  // Mean, std, min and max over the seeds of one of Run's numbers.
  Spread spread(double Run::*field) const { return spread_over(runs, field); }
};

// A finished sweep.
template <typename Run>
struct SweepOutcome {
  std::vector<SweepPoint<Run>> points;
  double seconds = 0;               // the whole sweep
  std::string out;                  // the directory written, absolute
  std::optional<std::string> plot;  // the PNG, when gnuplot rendered it

  // The program's final JSON line: {"sweep": per configuration its norm,
  // batch size, lr and spread_json, "runs": n, "seconds": the whole sweep,
  // "out": the directory, "plot": the PNG or null}.
  nlohmann::json to_json() const {
    nlohmann::json configs = nlohmann::json::array();
    size_t runs = 0;
    for (const SweepPoint<Run>& p : points) {
      nlohmann::json config = {{"norm", p.norm}, {"batch_size", p.batch_size}, {"lr", p.lr}};
      config.update(spread_json(p.runs));
      configs.push_back(config);
      runs += p.runs.size();
    }
    return {{"sweep", configs},
            {"runs", runs},
            {"seconds", seconds},
            {"out", out},
            {"plot", plot ? nlohmann::json(*plot) : nlohmann::json(nullptr)}};
  }
};

// Trains every configuration for seeds seed, seed + 1, ... (seed by seed, the
// points in order): run <name>_seed<s> is train(point, s, tag, checkpoint
// options of the run), appended to point.runs. Prints each run's JSON line,
// json(run), as it finishes; then writes dir/results.csv (one row per run)
// and dir/results.json. A used checkpoint directory without --resume, or
// --resume with nothing to resume, is refused before the first run.
template <typename Run, typename Train, typename Json>
void train_sweep(std::vector<SweepPoint<Run>>& points, int64_t seeds, uint64_t seed,
                 const nl::train::CheckpointOptions& checkpoint, const std::string& dir, Train&& train, Json&& json) {
  auto tag_of = [](const SweepPoint<Run>& p, uint64_t s) { return fmt::format("{}_seed{}", p.name(), s); };
  std::vector<std::string> tags;
  for (int64_t k = 0; k < seeds; ++k)
    for (const SweepPoint<Run>& p : points) tags.push_back(tag_of(p, seed + uint64_t(k)));
  nl::train::check_sequence(checkpoint, tags);
  std::vector<std::string> rows;
  nlohmann::json lines = nlohmann::json::array();
  for (int64_t k = 0; k < seeds; ++k)
    for (SweepPoint<Run>& p : points) {
      uint64_t s = seed + uint64_t(k);
      std::string tag = tag_of(p, s);
      const Run& r = p.runs.emplace_back(train(p, s, tag, nl::train::member_options(checkpoint, tag)));
      nlohmann::json line = json(r);
      fmt::print("{}\n", line.dump());
      std::fflush(stdout);
      lines.push_back(line);
      rows.push_back(fmt::format("{},{},{},{},{},{:.6f},{:.6f},{:.6f},{},{:.3f}", p.norm, p.batch_size, p.lr, s,
                                 r.losses.size(), r.train_loss, r.test_loss, r.test_acc, r.diverged, r.seconds));
    }
  nl::train::write_csv(dir + "/results.csv",
                       "norm,batch_size,lr,seed,steps,train_loss,test_loss,test_acc,diverged,seconds", rows);
  nl::io::write_file_atomically(dir + "/results.json", lines.dump(1) + "\n");
}

// The end of a sweep on the terminal: its summary tables and where the files are.
inline void print_sweep_end(const std::string& summary, const std::string& dir, const std::string& files,
                            const std::optional<std::string>& plot) {
  fmt::print("{}", summary);
  fmt::print("results in {}/ ({}, {})\n", dir, files, plot ? "sweep.png" : "sweep.gp — render with gnuplot");
}

}  // namespace examples
