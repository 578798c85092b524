#pragma once
// StatsRecorder: per-layer training statistics, per step, for any model.
//
//   nl::train::StatsRecorder stats(model);    // hooks every leaf layer
//   for (...) {
//     Tensor loss = ...; optimizer.zero_grad(); loss.backward(); optimizer.step();
//     stats.step();                           // one row per layer for this step
//   }
//   stats.write_csv("stats.csv");              // + gnuplot_script(...) for a picture (train/gnuplot.h renders it)
//
// For each tracked layer (by its dotted name, e.g. "3" or "blocks.0.ln1") and
// step, a row holds:
//   act_mean, act_std   mean and standard deviation (divide by n) over all
//                       elements of the layer's output, pooled over every
//                       forward call with grad mode on in the step (calls
//                       under NoGradGuard, e.g. evaluation, are not counted);
//   grad_norm           ‖∂loss/∂output‖₂ of the layer's output, from a
//                       backward pre-hook (√Σ‖g‖² over the step's calls);
//   param_norm          ‖θ‖₂ of all the layer's parameters together (weight
//                       and bias), after the step;
//   param_grad_norm     ‖∇θ‖₂ of the same parameters' .grad() at step() time
//                       (the gradient the optimizer just used);
//   update_ratio        ‖θ_after − θ_before‖₂ / ‖θ_before‖₂, θ_before being the
//                       values at the previous step() (or at construction);
// and the views of Karpathy's "Building makemore Part 3":
//   saturated           for a Tanh layer, the fraction of its outputs with
//                       |t| > kSaturated (0.97), where tanh' = 1 − t² < 0.06
//                       and the gradient through the unit all but stops;
//   grad_data           std(∇W) / std(W) of the layer's weight W (its first
//                       parameter of 2 or more dimensions) at step(): the
//                       gradient the optimizer used over the weight after it;
//   update_data         std(W_after − W_before) / std(W_before): the step's
//                       relative size, which Karpathy plots as log10 against
//                       a guideline of −3 (one thousandth per step).
// With options.histogram_bins > 0, each recorded step also keeps, per layer,
// the histogram of its output values and of its output gradient
// (histograms(); the makemore_script figure draws them).
// A value that does not apply (a layer without parameters, a layer not run
// in this step) is NaN, written "nan" in the CSV.
//
// Hooks cost nothing on steps not recorded (options.every); the recorder
// removes its hooks when destroyed.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "layers/module.h"

namespace nl::train {

class StatsRecorder {
 public:
  struct Options {
    // Which submodules to track; default (null): every leaf module (one without children).
    std::function<bool(const std::string& name, const layers::Module& module)> track;
    int64_t every = 1;       // record every n-th step (and the first)
    int64_t first_step = 1;  // the number of the first step() call (0 to record an "initialization" step)
    int64_t histogram_bins = 0;  // > 0: histograms of outputs and output gradients on recorded steps
  };
  struct Row {
    int64_t step;
    std::string layer, type;
    double act_mean, act_std, grad_norm, param_norm, param_grad_norm, update_ratio;
    double saturated, grad_data, update_data;
  };
  // One layer's values of one kind ("output" or "gradient") at one step, in
  // `density.size()` equal bins over [lo, hi] = [−max|v|, max|v|]; density is
  // the fraction of the values per unit of the value (it integrates to 1).
  struct Histogram {
    int64_t step;
    std::string layer, type, kind;
    double lo, hi;
    std::vector<double> density;
  };
  static constexpr double kSaturated = 0.97;

  explicit StatsRecorder(layers::Module& model);
  StatsRecorder(layers::Module& model, Options options);
  ~StatsRecorder();
  StatsRecorder(const StatsRecorder&) = delete;
  StatsRecorder& operator=(const StatsRecorder&) = delete;

  // Ends a step: call after optimizer.step() and before the next zero_grad().
  void step();

  const std::vector<Row>& rows() const { return rows_; }
  std::vector<std::string> layer_names() const;
  // The rows of one step (empty when it was not recorded).
  std::vector<Row> rows_at(int64_t step) const;

  static constexpr const char* kCsvHeader =
      "step,layer,type,act_mean,act_std,grad_norm,param_norm,param_grad_norm,update_ratio,saturated,grad_data,"
      "update_data";
  std::string csv() const;
  void write_csv(const std::string& path) const;  // atomically
  // A gnuplot script drawing act_std, grad_norm, param_grad_norm and
  // update_ratio per layer over the steps (log scale) from csv_path into png_path.
  std::string gnuplot_script(const std::string& csv_path, const std::string& png_path,
                             const std::string& title = "") const;

  const std::vector<Histogram>& histograms() const { return histograms_; }
  static constexpr const char* kHistogramCsvHeader = "step,layer,type,kind,bin_center,density";
  std::string histograms_csv() const;
  void write_histograms_csv(const std::string& path) const;  // atomically
  // Karpathy's makemore views in one figure (stats_recorder_plots.cpp), from
  // write_csv's and write_histograms_csv's files: for each of `steps`, the
  // output and output-gradient histograms of the activation layers (Tanh,
  // ReLU, Sigmoid, GELU; every layer when none is tracked) with each one's
  // std and saturation in the key; grad_data of every weight over the steps;
  // log10(update_data) over the steps with the −3 guideline.
  std::string makemore_script(const std::string& csv_path, const std::string& histogram_csv_path,
                              const std::string& png_path, const std::vector<int64_t>& steps,
                              const std::string& title = "") const;

 private:
  struct Layer;
  // What the plots need of each tracked layer, in order.
  struct LayerInfo {
    std::string name, type;
    bool has_weight;
  };
  std::vector<LayerInfo> layer_info() const;
  bool recording(int64_t step) const;
  void snapshot_parameters();

  Options options_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<Row> rows_;
  std::vector<Histogram> histograms_;
  int64_t next_step_;
};

}  // namespace nl::train
