#include "train/progress.h"

#include <fmt/format.h>

#include <algorithm>

namespace nl::train {

Progress::Progress(std::string label, int64_t total_steps)
    : label_(std::move(label)), total_(total_steps), start_(clock::now()) {}

void Progress::resumed_at(int64_t step) {
  first_ = step;
  start_ = clock::now();
}

std::string Progress::line(const std::string& label, int64_t step, int64_t total_steps, double loss, double seconds,
                           int64_t first_step) {
  double rate = double(step - first_step) / std::max(seconds, 1e-9);  // steps per second so far
  return fmt::format("[{}] step {:>5}/{}  loss {:.4f}  {:.1f} steps/s  ETA {:.0f}s   ", label, step, total_steps, loss,
                     rate, double(total_steps - step) / std::max(rate, 1e-9));
}

bool Progress::update(int64_t step, double loss) {
  clock::time_point now = clock::now();
  if (drawn_ && step < total_ && std::chrono::duration<double>(now - *drawn_).count() < kMinInterval) return false;
  drawn_ = now;
  fmt::print(stderr, "\r{}", line(label_, step, total_, loss, elapsed(), first_));
  return true;
}

void Progress::finish() const { fmt::print(stderr, "\n"); }

double Progress::elapsed() const { return std::chrono::duration<double>(clock::now() - start_).count(); }

}  // namespace nl::train
