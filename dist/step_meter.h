#pragma once
// StepMeter: the time of one training step and of the collectives inside it,
// for the per-step report of data-parallel training (compute vs communication,
// gradient sync vs normalization sync).
//
//   nl::dist::StepMeter meter;
//   nl::dist::StepReport total;
//   for (...) {
//     meter.start();
//     opt.zero_grad(); loss.backward(); ddp.average_gradients(); opt.step();
//     nl::dist::StepReport step = meter.stop();
//     total += step;
//   }
//   for (auto& [name, value] : total.fields(steps)) json[name] = value;   // per-step means
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "dist/comm_stats.h"

namespace nl::dist {

struct StepReport {
  int64_t steps = 0;
  double seconds = 0;  // wall time of the step(s)
  CommStats comm;      // the collectives inside
  double compute_seconds() const { return seconds - comm.total().seconds; }
  StepReport& operator+=(const StepReport& o);
  // Per-step means, named for CSV columns and JSON keys: step_ms, compute_ms,
  // gradient_sync_{ms,bytes,calls}, norm_sync_{ms,bytes,calls}, other_comm_{ms,bytes,calls}.
  std::vector<std::pair<std::string, double>> fields() const;
};

class StepMeter {
 public:
  void start();
  StepReport stop() const;

 private:
  std::chrono::steady_clock::time_point start_;
  CommStats before_;
};

}  // namespace nl::dist
