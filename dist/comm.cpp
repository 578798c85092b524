// nl::dist's world and collectives, transport-neutral: the world-of-one
// shortcut, the timeout setting and the communication counters. The transport
// is dist/backend.h.
#include "dist/comm.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>

#include "core/error.h"
#include "dist/backend.h"

namespace nl::dist {

namespace {
double timeout_from_environment() {
  const char* text = std::getenv("NORMLAB_DIST_TIMEOUT");
  if (!text || !*text) return 120.0;
  char* end = nullptr;
  double seconds = std::strtod(text, &end);
  if (*end != '\0' || !(seconds >= 0))
    fail("nl::dist: NORMLAB_DIST_TIMEOUT must be a number of seconds >= 0 (0: no timeout), got \"{}\"", text);
  return seconds;
}

struct State {
  bool active = false;  // a Context is alive
  backend::World world;
  double timeout = -1;  // < 0: not read from the environment yet
  CommStats stats;
};

State& state() {
  static State s;
  return s;
}

// Runs one collective of `bytes` payload (unless the world is one process)
// and counts it under `traffic`.
template <typename Fn>
void collective(Traffic traffic, int64_t bytes, Fn&& fn) {
  if (world_size() == 1) return;
  auto start = std::chrono::steady_clock::now();
  fn();
  CommCounter& counter = state().stats[traffic];
  counter.calls += 1;
  counter.bytes += bytes;
  counter.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void allreduce(void* data, int64_t n, DType dtype, backend::Op op, Traffic traffic, const char* name) {
  if (n < 0) fail("nl::dist::{}: count must be >= 0, got {}", name, n);
  collective(traffic, n * int64_t(itemsize(dtype)), [&] {
    backend::allreduce(data, n, dtype, op, timeout_seconds(),
                       fmt::format("{} of {} {} values ({})", name, n, dtype, to_string(traffic)));
  });
}
}  // namespace

Context::Context(int& argc, char**& argv) {
  State& s = state();
  if (s.active) fail("nl::dist::Context: one Context per process (MPI is initialized once)");
  s.world = backend::init(argc, argv, timeout_seconds());
  s.active = true;
}

Context::~Context() {
  State& s = state();
  bool unwinding = std::uncaught_exceptions() > 0;
  s.active = false;
  backend::World world = s.world;
  s.world = backend::World{};
  if (unwinding && world.size > 1)
    fmt::print(stderr, "rank {}: nl::dist: an exception ends this rank; aborting the job of {} processes\n", world.rank,
               world.size);
  backend::finalize(unwinding && world.size > 1, timeout_seconds());
}

void Context::abort(int code, std::string_view message) {
  fmt::print(stderr, "rank {}: {}\n", rank(), message);
  std::fflush(stderr);
  backend::abort_job(code);
}

bool built_with_mpi() { return backend::with_mpi(); }

int launcher_world_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"})
    if (const char* value = std::getenv(name)) return std::max(1, std::atoi(value));
  return 1;
}
bool initialized() { return state().active; }
int rank() { return state().world.rank; }
int world_size() { return state().world.size; }

void require_world_size(int n, std::string_view what) {
  if (world_size() != n)
    fail("{} needs {} processes, got {}: run it as `mpirun -np {} ...`{}", what, n, world_size(), n,
         built_with_mpi() ? "" : " (and build normlab with MPI: NORMLAB_WITH_MPI=ON, package libopenmpi-dev)");
}

double timeout_seconds() {
  State& s = state();
  if (s.timeout < 0) s.timeout = timeout_from_environment();
  return s.timeout;
}

void set_timeout_seconds(double seconds) {
  if (!(seconds >= 0)) fail("nl::dist::set_timeout_seconds: expected seconds >= 0 (0: no timeout), got {}", seconds);
  state().timeout = seconds;
}

void allreduce_sum(float* data, int64_t n, Traffic traffic) { allreduce_sum(data, n, f32, traffic); }
void allreduce_sum(double* data, int64_t n, Traffic traffic) { allreduce_sum(data, n, f64, traffic); }
void allreduce_sum(int64_t* data, int64_t n, Traffic traffic) { allreduce_sum(data, n, i64, traffic); }
void allreduce_sum(void* data, int64_t n, DType dtype, Traffic traffic) {
  allreduce(data, n, dtype, backend::Op::sum, traffic, "allreduce_sum");
}
void allreduce_min(int64_t* data, int64_t n, Traffic traffic) {
  allreduce(data, n, i64, backend::Op::min, traffic, "allreduce_min");
}
void allreduce_max(double* data, int64_t n, Traffic traffic) {
  allreduce(data, n, f64, backend::Op::max, traffic, "allreduce_max");
}

void broadcast(void* bytes, int64_t n, int root, Traffic traffic) {
  if (n < 0) fail("nl::dist::broadcast: byte count must be >= 0, got {}", n);
  if (root < 0 || root >= world_size()) fail("nl::dist::broadcast: root {} is not a rank of {}", root, world_size());
  collective(traffic, n, [&] {
    backend::broadcast(bytes, n, root, timeout_seconds(),
                       fmt::format("broadcast of {} bytes from rank {} ({})", n, root, to_string(traffic)));
  });
}

void barrier() {
  int64_t token = 0;
  allreduce_sum(&token, 1, Traffic::other);
}

double allreduce_mean(double value, Traffic traffic) {
  allreduce_sum(&value, 1, traffic);
  return value / world_size();
}

bool same_on_all_ranks(uint64_t value, Traffic traffic) {
  // min(v) and min(~v) = ~max(v) in one call: equal everywhere iff min == max.
  int64_t both[2] = {int64_t(value), int64_t(~value)};
  allreduce_min(both, 2, traffic);
  return both[0] == int64_t(value) && ~both[1] == int64_t(value);
}

const CommStats& stats() { return state().stats; }
void reset_stats() { state().stats = CommStats{}; }

}  // namespace nl::dist
