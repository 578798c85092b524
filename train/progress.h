#pragma once
// Progress: the one updating line a training loop shows on stderr,
//   "[label] step   120/2000  loss 2.1234  35.2 steps/s  ETA 53s"
// with the rate over the whole run so far and the time left at that rate.
//
//   nl::train::Progress progress("ln-lstm", steps);
//   for (int64_t step = 1; step <= steps; ++step) { ...; progress.update(step, loss); }
//   progress.finish();   // ends the line
#include <chrono>
#include <cstdint>
#include <string>

namespace nl::train {

class Progress {
 public:
  Progress(std::string label, int64_t total_steps);
  // A resumed run: the steps up to `step` were done before, so the rate and
  // the ETA count from it, and the clock restarts.
  void resumed_at(int64_t step);
  // Rewrites the line for `step` of total_steps with the loss given.
  void update(int64_t step, double loss) const;
  // Ends the line (a newline), so later output starts on its own.
  void finish() const;
  // Seconds since construction.
  double elapsed() const;
  // The line's text (no carriage return) for `step` after `seconds` spent since `first_step`.
  static std::string line(const std::string& label, int64_t step, int64_t total_steps, double loss, double seconds,
                          int64_t first_step = 0);

 private:
  using clock = std::chrono::steady_clock;
  std::string label_;
  int64_t total_, first_ = 0;
  clock::time_point start_;
};

}  // namespace nl::train
