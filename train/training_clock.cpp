#include "train/training_clock.h"

namespace nl::train {

TrainingClock::TrainingClock() { resume(); }

TrainingClock::TrainingClock(double wall_seconds, double cpu_seconds) : wall_(wall_seconds), cpu_(cpu_seconds) {
  resume();
}

void TrainingClock::pause() {
  wall_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count();
  cpu_ += double(std::clock() - cpu_start_) / CLOCKS_PER_SEC;
}

void TrainingClock::resume() {
  wall_start_ = std::chrono::steady_clock::now();
  cpu_start_ = std::clock();
}

}  // namespace nl::train
