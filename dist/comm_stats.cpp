#include "dist/comm_stats.h"

#include <fmt/format.h>

namespace nl::dist {

const char* to_string(Traffic traffic) {
  switch (traffic) {
    case Traffic::gradients: return "gradients";
    case Traffic::normalization: return "normalization";
    case Traffic::other: return "other";
  }
  return "?";
}

CommCounter& CommCounter::operator+=(const CommCounter& o) {
  calls += o.calls;
  bytes += o.bytes;
  seconds += o.seconds;
  return *this;
}

CommCounter CommCounter::operator-(const CommCounter& o) const {
  return {calls - o.calls, bytes - o.bytes, seconds - o.seconds};
}

CommCounter& CommStats::operator[](Traffic traffic) {
  switch (traffic) {
    case Traffic::gradients: return gradients;
    case Traffic::normalization: return normalization;
    case Traffic::other: break;
  }
  return other;
}

CommCounter CommStats::total() const {
  CommCounter sum = gradients;
  sum += normalization;
  sum += other;
  return sum;
}

CommStats CommStats::operator-(const CommStats& before) const {
  return {gradients - before.gradients, normalization - before.normalization, other - before.other};
}

std::string CommStats::summary() const {
  auto one = [](const char* name, const CommCounter& c) {
    return fmt::format("{} {} calls {:.1f} kB {:.2f} ms", name, c.calls, double(c.bytes) / 1e3, c.seconds * 1e3);
  };
  return fmt::format("{} | {} | {}", one("gradients", gradients), one("normalization", normalization),
                     one("other", other));
}

}  // namespace nl::dist
