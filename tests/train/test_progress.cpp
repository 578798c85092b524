// Progress: the line's fields, rate and ETA computed by hand; how often it is drawn.
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "normlab.h"

TEST_CASE("Progress: the line shows step, loss, rate and the ETA at that rate", "[train][progress]") {
  // 120 of 2000 steps in 10 s: 12 steps/s, (2000 − 120) / 12 = 156.7 s left
  CHECK(nl::train::Progress::line("ln-lstm", 120, 2000, 2.12345, 10.0) ==
        "[ln-lstm] step   120/2000  loss 2.1235  12.0 steps/s  ETA 157s   ");
  // the last step: nothing left
  CHECK(nl::train::Progress::line("mlp", 50, 50, 0.5, 2.0) ==
        "[mlp] step    50/50  loss 0.5000  25.0 steps/s  ETA 0s   ");
  // resumed after step 100: 50 steps in 10 s, 5 steps/s, (200 − 150) / 5 = 10 s left
  CHECK(nl::train::Progress::line("r", 150, 200, 1.0, 10.0, 100) ==
        "[r] step   150/200  loss 1.0000  5.0 steps/s  ETA 10s   ");
  // no time yet: a finite rate, no division by zero
  CHECK(nl::train::Progress::line("x", 0, 10, 1.0, 0.0).find("ETA") != std::string::npos);
}

TEST_CASE("Progress: elapsed counts from construction", "[train][progress]") {
  nl::train::Progress progress("t", 10);
  double first = progress.elapsed();
  CHECK(first >= 0.0);
  CHECK(progress.elapsed() >= first);
}

TEST_CASE("Progress: the line is redrawn at most every kMinInterval seconds, and always at the last step",
          "[train][progress]") {
  nl::train::Progress progress("t", 100);
  CHECK(progress.update(1, 1.0));        // the first line
  CHECK_FALSE(progress.update(2, 1.0));  // too soon after it
  CHECK(progress.update(100, 1.0));      // the last step is always shown
  std::this_thread::sleep_for(std::chrono::duration<double>(nl::train::Progress::kMinInterval * 1.5));
  CHECK(progress.update(3, 1.0));
  progress.finish();
}
