// TrainingClock: time while paused is not counted, wall or CPU.
#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <thread>

#include "normlab.h"

namespace {
// Keeps this thread busy for about `seconds` of CPU time.
void spin_cpu(double seconds) {
  std::clock_t start = std::clock();
  volatile double sink = 0;
  while (double(std::clock() - start) / CLOCKS_PER_SEC < seconds) sink = sink + 1;
}
}  // namespace

TEST_CASE("TrainingClock: paused time counts neither as wall nor as CPU time", "[train][clock]") {
  nl::train::TrainingClock clock;
  clock.pause();
  CHECK(clock.wall_seconds() >= 0.0);
  double before = clock.wall_seconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // paused: an "evaluation"
  spin_cpu(0.2);
  clock.resume();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // running: a "training step"
  clock.pause();
  double trained = clock.wall_seconds() - before;
  CHECK(trained >= 0.02);
  CHECK(trained < 0.2);               // the 0.4 s while paused are not in it
  CHECK(clock.cpu_seconds() < 0.15);  // nor the 0.2 s of CPU spent while paused
}
