#pragma once
// The benchmark harness: a registry of named workloads and a timer that
// prints the median of repeated runs.
//
// A workload is set up once (model, data, optimizer) and then run many
// times; every run does the whole unit of work the name promises (one
// training step, one forward + backward). Timing: warm-up runs first (not
// timed; they fill caches, the allocator pool and BLAS buffers), then timed
// runs until both a minimum count and a minimum time are reached; the median
// of the timed runs is reported, one line per workload:
//
//   <name> <median milliseconds> ms
//
// bench/torch_ref.py times the same workloads the same way (same warm-up and
// stopping rule), so the two columns of bench/compare are comparable.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace bench {

// What a workload moves or computes per run, for the limits in bench/compare.
struct Work {
  double bytes = 0;  // minimum bytes that must cross memory (norm kernels)
  double flops = 0;  // matmul FLOPs, counted analytically (models)
};

struct Workload {
  std::string name;
  std::string description;
  Work work;
  // Builds the workload's state and returns the function that runs it once.
  std::function<std::function<void()>()> setup;
};

// Workloads register themselves from bench/workloads/*.cpp at start-up.
std::vector<Workload>& registry();
struct Register {
  explicit Register(Workload w) { registry().push_back(std::move(w)); }
};

struct TimingOptions {
  double warmup_seconds = 0.3;
  int warmup_runs = 3;
  double min_seconds = 1.0;
  int min_runs = 10;
  int max_runs = 2000;
};

// Runs fn as described above; returns the median milliseconds of the timed runs.
double time_median_ms(const std::function<void()>& fn, const TimingOptions& options);

}  // namespace bench
