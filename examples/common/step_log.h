#pragma once
// StepLog: the observer of a training loop's steps that keeps its steps.csv.
// The loop calls begin() before zero_grad and end(columns) after the
// optimizer step, with the row's own columns; the log times the step and
// counts the collectives inside it (nl::dist::StepMeter), and under
// --distributed appends them to the row as columns of their own. So the loop
// shows only the training step, and the timing stays out of it.
//
//   examples::StepLog steps(distributed);
//   for (int64_t step = 1; ...; ++step) {
//     steps.begin();
//     opt.zero_grad();
//     nl::Tensor loss = nl::cross_entropy(model(x), y);
//     loss.backward();
//     ddp.average_gradients();
//     opt.step();
//     steps.end(fmt::format("{},{:.6g}", step, loss.item<double>()));
//   }
//   nl::train::write_csv("steps.csv", examples::StepLog::header("step,loss", distributed), steps.rows());
//   examples::StepSummary summary = examples::summarize_steps(steps.total());  // examples/common/distributed.h
#include <fmt/format.h>

#include <string>
#include <vector>

#include "dist/step_meter.h"

namespace examples {

class StepLog {
 public:
  // distributed: the rows get each step's time and communication.
  explicit StepLog(bool distributed) : distributed_(distributed) {}

  void begin() { meter_.start(); }
  void end(const std::string& columns) {
    nl::dist::StepReport step = meter_.stop();
    total_ += step;
    rows_.push_back(distributed_ ? columns + timing_columns(step) : columns);
  }

  const std::vector<std::string>& rows() const { return rows_; }
  // A resumed run: the rows of the steps before the checkpoint, and this
  // rank's totals of them (under --distributed, which summarizes them at the end).
  void restore_rows(std::vector<std::string> rows) { rows_ = std::move(rows); }
  void restore_total(const nl::dist::StepReport& total) { total_ = total; }
  // This rank's steps so far: their number, wall time and collectives.
  const nl::dist::StepReport& total() const { return total_; }

  // The CSV header: the program's columns, and under --distributed after them
  // step_ms,compute_ms,gradient_sync_{ms,bytes,calls},norm_sync_{...},other_comm_{...}
  static std::string header(const std::string& columns, bool distributed) {
    std::string header = columns;
    if (distributed)
      for (const auto& [name, value] : nl::dist::StepReport{}.fields()) header += "," + name;
    return header;
  }

 private:
  // Times in ms to 0.1 µs, bytes and calls exact.
  static std::string timing_columns(const nl::dist::StepReport& step) {
    std::string columns;
    for (const auto& [name, value] : step.fields())
      columns += name.ends_with("_ms") ? fmt::format(",{:.4f}", value) : fmt::format(",{:.0f}", value);
    return columns;
  }

  bool distributed_;
  nl::dist::StepMeter meter_;
  nl::dist::StepReport total_;
  std::vector<std::string> rows_;
};

}  // namespace examples
