#pragma once
// TrainingClock: wall and CPU seconds (all threads) spent in training, with
// the evaluations left out — pause() stops both clocks, resume() restarts
// them — so runs can be compared at equal compute. Starts running.
//
//   nl::train::TrainingClock clock;
//   for (...) {
//     ...training step...
//     if (evaluate_now) { clock.pause(); evaluate(); record(clock.wall_seconds()); clock.resume(); }
//   }
#include <chrono>
#include <ctime>

namespace nl::train {

class TrainingClock {
 public:
  TrainingClock();
  // A clock that has already counted these seconds (a resumed run's time before the checkpoint).
  TrainingClock(double wall_seconds, double cpu_seconds);
  void pause();
  void resume();
  // Both as of the last pause().
  double wall_seconds() const { return wall_; }
  double cpu_seconds() const { return cpu_; }

 private:
  std::chrono::steady_clock::time_point wall_start_;
  std::clock_t cpu_start_;
  double wall_ = 0, cpu_ = 0;
};

}  // namespace nl::train
