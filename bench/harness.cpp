#include "bench/harness.h"

#include <algorithm>
#include <chrono>

namespace bench {

std::vector<Workload>& registry() {
  static std::vector<Workload> workloads;
  return workloads;
}

double time_median_ms(const std::function<void()>& fn, const TimingOptions& o) {
  using clock = std::chrono::steady_clock;
  auto seconds_since = [](clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); };
  clock::time_point start = clock::now();
  for (int i = 0; i < o.warmup_runs || seconds_since(start) < o.warmup_seconds; ++i) fn();

  std::vector<double> ms;
  start = clock::now();
  while (int(ms.size()) < o.max_runs && (int(ms.size()) < o.min_runs || seconds_since(start) < o.min_seconds)) {
    clock::time_point t = clock::now();
    fn();
    ms.push_back(seconds_since(t) * 1e3);
  }
  std::sort(ms.begin(), ms.end());
  size_t n = ms.size();
  return n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
}

}  // namespace bench
