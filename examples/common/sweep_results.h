#pragma once
// What the classifier sweeps (mlp_norm --sweep, cnn_norm --sweep) share: a
// run's results as JSON, the spread of a result over a configuration's seeds,
// a configuration's mean loss curve and the sweep's final JSON line.
//
// Run is a program's RunResult with the fields losses, train_loss, test_loss,
// test_acc, diverged and seconds.
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/parallel.h"
#include "data/mnist.h"
#include "examples/common/stats.h"

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

// The sweep's final JSON line: {"sweep": configs, "runs": n, "seconds": the
// whole sweep, "out": its directory, "plot": the PNG or null}.
inline nlohmann::json sweep_json(const nlohmann::json& configs, size_t runs, double seconds, const std::string& out,
                                 const std::optional<std::string>& plot) {
  return {{"sweep", configs},
          {"runs", runs},
          {"seconds", seconds},
          {"out", out},
          {"plot", plot ? nlohmann::json(*plot) : nlohmann::json(nullptr)}};
}

}  // namespace examples
