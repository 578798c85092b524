// nl::dist over MPI (built when NORMLAB_WITH_MPI is on).
//
// Collectives are the non-blocking MPI_Iallreduce / MPI_Ibcast, completed by
// polling MPI_Test against a deadline: a rank that crashed, stalled or runs a
// different collective turns into an nl::Error after timeout seconds instead
// of a hang (MPI has no timeout of its own). With timeout 0 the blocking
// MPI_Allreduce / MPI_Bcast run instead. Errors return codes
// (MPI_ERRORS_RETURN) that become nl::Error with MPI's message; after any
// failure the communicator is broken and the job is aborted at the end.
#include <fmt/format.h>
#include <mpi.h>
#include <unistd.h>  // getpid

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "dist/backend.h"

namespace nl::dist::backend {

namespace {
struct MpiState {
  MPI_Comm comm = MPI_COMM_NULL;  // our own duplicate of MPI_COMM_WORLD
  World world;
  bool broken = false;
  bool we_initialized = false;
};

MpiState& mpi() {
  static MpiState s;
  return s;
}

// Runs fn; if it has not returned after `timeout` seconds, a watchdog thread
// prints `message` and ends the process (MPI cannot be used from that thread
// safely; mpirun then ends the job because a process died).
template <typename Fn>
void with_deadline(double timeout, const std::string& message, Fn&& fn) {
  if (timeout <= 0) {
    fn();
    return;
  }
  std::mutex mutex;
  std::condition_variable done_signal;
  bool done = false;
  std::thread watchdog([&] {
    std::unique_lock lock(mutex);
    if (!done_signal.wait_for(lock, std::chrono::duration<double>(timeout), [&] { return done; })) {
      std::fprintf(stderr, "%s\n", message.c_str());
      std::fflush(stderr);
      std::_Exit(1);
    }
  });
  fn();
  {
    std::lock_guard lock(mutex);
    done = true;
  }
  done_signal.notify_one();
  watchdog.join();
}

void check(int code, std::string_view what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  mpi().broken = true;
  fail("nl::dist: {} failed on rank {} of {}: {}", what, mpi().world.rank, mpi().world.size,
       std::string_view(text, size_t(length)));
}

void check_usable(std::string_view what) {
  if (mpi().comm == MPI_COMM_NULL) fail("nl::dist: {}: no nl::dist::Context is alive", what);
  if (mpi().broken)
    fail("nl::dist: {} on rank {}: communication broke earlier (a timeout or an MPI error); the job must end", what,
         mpi().world.rank);
}

// Completes a non-blocking collective, polling until `timeout` seconds pass.
void wait(MPI_Request& request, double timeout, std::string_view what) {
  using clock = std::chrono::steady_clock;
  auto start = clock::now();
  for (;;) {
    int done = 0;
    check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), what);
    if (done) return;
    double waited = std::chrono::duration<double>(clock::now() - start).count();
    if (waited > timeout) {
      mpi().broken = true;  // the request stays pending: MPI cannot be used any more
      fail(
          "nl::dist: {} did not complete within {} s on rank {} of {}: another rank has crashed, stalled, or is "
          "running different code (a different collective or count); set NORMLAB_DIST_TIMEOUT to wait longer",
          what, timeout, mpi().world.rank, mpi().world.size);
    }
    // Spin briefly (collectives on shared memory finish in microseconds), then
    // give the core away: processes may outnumber cores (mpirun --oversubscribe).
    if (waited < 1e-3)
      std::this_thread::yield();
    else
      std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::float32: return MPI_FLOAT;
    case DType::float64: return MPI_DOUBLE;
    case DType::int64: return MPI_INT64_T;
  }
  return MPI_DATATYPE_NULL;
}

MPI_Op mpi_op(Op op) {
  switch (op) {
    case Op::sum: return MPI_SUM;
    case Op::min: return MPI_MIN;
    case Op::max: return MPI_MAX;
  }
  return MPI_OP_NULL;
}

// MPI counts are int: large payloads go in pieces.
constexpr int64_t kMaxCount = int64_t(1) << 30;
}  // namespace

bool with_mpi() { return true; }

World init(int& argc, char**& argv, double timeout) {
  MpiState& s = mpi();
  int already = 0;
  MPI_Initialized(&already);
  if (!already) {
    const char* launcher_rank = std::getenv("OMPI_COMM_WORLD_RANK");
    std::string message = fmt::format(
        "nl::dist: MPI_Init did not complete within {} s (process {}, launcher rank {}): another process of the job "
        "failed to start or exited before initializing MPI; exiting so that mpirun ends the job",
        timeout, int(getpid()), launcher_rank ? launcher_rank : "?");
    int provided = 0, code = MPI_SUCCESS;
    with_deadline(timeout, message, [&] { code = MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided); });
    if (code != MPI_SUCCESS) fail("nl::dist: MPI_Init_thread failed with MPI error code {}", code);
    s.we_initialized = true;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  check(MPI_Comm_dup(MPI_COMM_WORLD, &s.comm), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(s.comm, MPI_ERRORS_RETURN);
  check(MPI_Comm_rank(s.comm, &s.world.rank), "MPI_Comm_rank");
  check(MPI_Comm_size(s.comm, &s.world.size), "MPI_Comm_size");
  s.broken = false;
  return s.world;
}

void finalize(bool abort, double timeout) {
  MpiState& s = mpi();
  if (abort || s.broken) abort_job(1);
  if (s.comm != MPI_COMM_NULL) MPI_Comm_free(&s.comm);
  s.comm = MPI_COMM_NULL;
  if (!s.we_initialized) return;
  // MPI_Finalize waits for every rank: bounded, like everything else.
  std::string message = fmt::format(
      "nl::dist: MPI_Finalize did not complete within {} s on rank {}: another rank "
      "is still running or stalled; exiting so that mpirun ends the job",
      timeout, s.world.rank);
  with_deadline(timeout, message, [] { MPI_Finalize(); });
  s.we_initialized = false;
}

void abort_job(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

void allreduce(void* data, int64_t count, DType dtype, Op op, double timeout, std::string_view what) {
  check_usable(what);
  char* bytes = static_cast<char*>(data);
  for (int64_t done = 0; done < count; done += kMaxCount) {
    int n = int(std::min(kMaxCount, count - done));
    void* piece = bytes + done * int64_t(itemsize(dtype));
    if (timeout <= 0) {
      check(MPI_Allreduce(MPI_IN_PLACE, piece, n, mpi_type(dtype), mpi_op(op), mpi().comm), what);
      continue;
    }
    MPI_Request request;
    check(MPI_Iallreduce(MPI_IN_PLACE, piece, n, mpi_type(dtype), mpi_op(op), mpi().comm, &request), what);
    wait(request, timeout, what);
  }
}

void broadcast(void* data, int64_t bytes, int root, double timeout, std::string_view what) {
  check_usable(what);
  char* base = static_cast<char*>(data);
  for (int64_t done = 0; done < bytes; done += kMaxCount) {
    int n = int(std::min(kMaxCount, bytes - done));
    if (timeout <= 0) {
      check(MPI_Bcast(base + done, n, MPI_BYTE, root, mpi().comm), what);
      continue;
    }
    MPI_Request request;
    check(MPI_Ibcast(base + done, n, MPI_BYTE, root, mpi().comm, &request), what);
    wait(request, timeout, what);
  }
}

}  // namespace nl::dist::backend
