#include "dist/step_meter.h"

#include <algorithm>

#include "dist/comm.h"

namespace nl::dist {

StepReport& StepReport::operator+=(const StepReport& o) {
  steps += o.steps;
  seconds += o.seconds;
  comm.gradients += o.comm.gradients;
  comm.normalization += o.comm.normalization;
  comm.other += o.comm.other;
  return *this;
}

std::vector<std::pair<std::string, double>> StepReport::fields() const {
  double n = double(std::max<int64_t>(1, steps));
  std::vector<std::pair<std::string, double>> out{{"step_ms", seconds * 1e3 / n},
                                                  {"compute_ms", compute_seconds() * 1e3 / n}};
  auto add = [&](const std::string& prefix, const CommCounter& c) {
    out.emplace_back(prefix + "_ms", c.seconds * 1e3 / n);
    out.emplace_back(prefix + "_bytes", double(c.bytes) / n);
    out.emplace_back(prefix + "_calls", double(c.calls) / n);
  };
  add("gradient_sync", comm.gradients);
  add("norm_sync", comm.normalization);
  add("other_comm", comm.other);
  return out;
}

StepReport mean_over_ranks(const StepReport& report) {
  double seconds[4] = {report.seconds, report.comm.gradients.seconds, report.comm.normalization.seconds,
                       report.comm.other.seconds};
  allreduce_sum(seconds, 4, Traffic::other);
  double ranks = double(world_size());
  StepReport mean = report;
  mean.seconds = seconds[0] / ranks;
  mean.comm.gradients.seconds = seconds[1] / ranks;
  mean.comm.normalization.seconds = seconds[2] / ranks;
  mean.comm.other.seconds = seconds[3] / ranks;
  return mean;
}

void StepMeter::start() {
  before_ = stats();
  start_ = std::chrono::steady_clock::now();
}

StepReport StepMeter::stop() const {
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return StepReport{1, seconds, stats() - before_};
}

}  // namespace nl::dist
