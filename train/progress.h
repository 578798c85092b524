#pragma once
// Progress: the one updating line a training loop shows on stderr,
//   "[label] step   120/2000  loss 2.1234  35.2 steps/s  ETA 53s"
// with the rate over the whole run so far and the time left at that rate.
// The line is redrawn at most every kMinInterval seconds (and always at the
// last step): a fast loop (thousands of steps a second) would otherwise spend
// a write(2) per step on lines nobody can read, and under mpirun — which stops
// reading its ranks' output once it is told to stop (Ctrl-C), a few seconds
// before it sends SIGTERM — those writes fill the pipe, and rank 0 blocks on
// it instead of finishing its step and writing the checkpoint.
//
//   nl::train::Progress progress("ln-lstm", steps);
//   for (int64_t step = 1; step <= steps; ++step) { ...; progress.update(step, loss); }
//   progress.finish();   // ends the line
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace nl::train {

class Progress {
 public:
  Progress(std::string label, int64_t total_steps);
  // A resumed run: the steps up to `step` were done before, so the rate and
  // the ETA count from it, and the clock restarts.
  void resumed_at(int64_t step);
  static constexpr double kMinInterval = 0.1;  // seconds between two drawings of the line

  // Rewrites the line for `step` of total_steps with the loss given, if
  // kMinInterval has passed since the last drawing or `step` is the last;
  // returns whether it drew.
  bool update(int64_t step, double loss);
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
  std::optional<clock::time_point> drawn_;  // when the line was last drawn
};

}  // namespace nl::train
