#pragma once
// What collective communication cost this process: calls, bytes and seconds,
// split by purpose so that gradient sync (every data-parallel model pays it)
// and normalization sync (only SyncBatchNorm pays it) can be told apart.
//
//   nl::dist::CommStats before = nl::dist::stats();
//   ... one training step ...
//   nl::dist::CommStats step = nl::dist::stats() - before;
//   step.gradients.bytes, step.normalization.calls, step.total().seconds
//
// bytes: the payload this process hands to each collective (count × element
// size), the usual "message size". A ring allreduce moves about
// 2·(p − 1)/p × bytes in and out of every process (docs/distributed.md).
// seconds: wall time inside the collective, including waiting for slower
// processes — the synchronization cost as the training loop sees it.
#include <cstdint>
#include <string>

namespace nl::dist {

enum class Traffic { gradients, normalization, other };
const char* to_string(Traffic traffic);

struct CommCounter {
  int64_t calls = 0;
  int64_t bytes = 0;
  double seconds = 0;
  CommCounter& operator+=(const CommCounter& o);
  CommCounter operator-(const CommCounter& o) const;
};

struct CommStats {
  CommCounter gradients;      // DataParallel::average_gradients
  CommCounter normalization;  // SyncBatchNorm, forward and backward
  CommCounter other;          // parameter broadcast, consistency checks, metrics
  CommCounter& operator[](Traffic traffic);
  CommCounter total() const;
  CommStats operator-(const CommStats& before) const;
  // "gradients 1 calls 40.2 kB 0.11 ms | normalization 4 calls 3.1 kB 0.08 ms | other ..."
  std::string summary() const;
};

}  // namespace nl::dist
