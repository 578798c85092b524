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

// The report of a data-parallel run as one number per quantity: every time
// (the steps' wall time and each purpose's collectives) is the mean over the
// ranks, so the parts still add up as on each rank — seconds = compute +
// gradient sync + normalization sync + other — which a separate maximum per
// part would not (the rank that computes longest waits least in the
// collectives). Steps, bytes and calls are this rank's, the same on every rank
// when all run the same steps. A collective: every rank calls it. In a world of
// one process, `report` itself.
StepReport mean_over_ranks(const StepReport& report);

class StepMeter {
 public:
  void start();
  StepReport stop() const;

 private:
  std::chrono::steady_clock::time_point start_;
  CommStats before_;
};

}  // namespace nl::dist
