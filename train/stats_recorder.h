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
//                       values at the previous step() (or at construction).
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
  };
  struct Row {
    int64_t step;
    std::string layer, type;
    double act_mean, act_std, grad_norm, param_norm, param_grad_norm, update_ratio;
  };

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
      "step,layer,type,act_mean,act_std,grad_norm,param_norm,param_grad_norm,update_ratio";
  std::string csv() const;
  void write_csv(const std::string& path) const;  // atomically
  // A gnuplot script drawing act_std, grad_norm, param_grad_norm and
  // update_ratio per layer over the steps (log scale) from csv_path into png_path.
  std::string gnuplot_script(const std::string& csv_path, const std::string& png_path,
                             const std::string& title = "") const;

 private:
  struct Layer;
  bool recording(int64_t step) const;
  void snapshot_parameters();

  Options options_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<Row> rows_;
  int64_t next_step_;
};

}  // namespace nl::train
