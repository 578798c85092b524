#pragma once
// nl::dist: the processes of a data-parallel job and their collectives.
//
// A program launched by `mpirun -np N` creates one Context (MPI_Init ...
// MPI_Finalize, RAII) and from then on is rank() of world_size() processes:
//
//   int main(int argc, char** argv) {
//     nl::dist::Context dist(argc, argv);     // world of N under mpirun, of 1 otherwise
//     ... nl::dist::rank(), nl::dist::world_size(), nl::dist::is_main() ...
//   }
//
// Without a Context (or in a build without MPI, NORMLAB_WITH_MPI=OFF) the world
// is one process: every collective returns at once and counts nothing, so the
// same training code runs unchanged on one process. A build without MPI that
// finds itself started by mpirun with more than one process refuses to run
// (the processes would silently train N separate models).
//
// Every collective is called by all ranks in the same order with the same
// count. None of them hangs: each waits at most timeout_seconds()
// (NORMLAB_DIST_TIMEOUT, default 120; 0 waits forever) and then throws
// nl::Error naming the collective, the rank and the likely cause (a rank has
// crashed, stalled or runs different code). After that, or after an MPI
// error, communication is broken: later collectives throw at once and the
// Context's destructor aborts the whole job (MPI_Abort) instead of finalizing.
// MPI_Init is watched the same way: a rank that fails to start makes the others
// exit with a message after the timeout, and mpirun ends the job.
#include <cstdint>
#include <string_view>

#include "core/dtype.h"
#include "dist/comm_stats.h"

namespace nl::dist {

class Context {
 public:
  // Initializes MPI (once per process) and reads the world. Throws nl::Error
  // when a second Context is made, or when mpirun started several processes of
  // a build without MPI.
  Context(int& argc, char**& argv);
  // MPI_Finalize; MPI_Abort of the whole job instead when an exception is
  // unwinding through here or communication broke (so no rank waits forever).
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // Ends the whole job now (MPI_Abort, or exit without MPI) after printing
  // "rank R: message" to stderr. For a rank that caught an error the others cannot see.
  [[noreturn]] static void abort(int code, std::string_view message);
};

bool built_with_mpi();  // NORMLAB_WITH_MPI at build time
// How many processes an MPI launcher (mpirun) started in this job, read from
// the environment it gives each one (OpenMPI, MPICH/PMI, PMIx); 1 when not
// started by one. Needs no Context (and no MPI): a program can tell, before
// initializing anything, that it was started by `mpirun -np N`.
int launcher_world_size();
bool initialized();                            // a Context is alive
int rank();                                    // 0 .. world_size() − 1; 0 without a Context
int world_size();                              // 1 without a Context
inline bool is_main() { return rank() == 0; }  // the rank that prints and writes files

// Throws nl::Error ("<what> needs N processes, got M: run it as mpirun -np N ...")
// unless the world has exactly n processes. Same answer on every rank: no hang.
void require_world_size(int n, std::string_view what);

double timeout_seconds();
void set_timeout_seconds(double seconds);  // 0: wait forever

// ---- collectives (no-ops in a world of one process) ---------------------------
// data[0..n) ← the elementwise sum over all ranks.
void allreduce_sum(float* data, int64_t n, Traffic traffic);
void allreduce_sum(double* data, int64_t n, Traffic traffic);
void allreduce_sum(int64_t* data, int64_t n, Traffic traffic);
// The same for a dtype known at run time (f32, f64 or i64).
void allreduce_sum(void* data, int64_t n, DType dtype, Traffic traffic);
// data[0..n) ← the elementwise minimum (or maximum) over all ranks.
void allreduce_min(int64_t* data, int64_t n, Traffic traffic);
void allreduce_max(double* data, int64_t n, Traffic traffic);
// bytes[0..n) ← root's bytes.
void broadcast(void* bytes, int64_t n, int root, Traffic traffic);
void barrier();
// The mean of one number over all ranks (for reporting loss and accuracy).
double allreduce_mean(double value, Traffic traffic = Traffic::other);
// Whether `value` is the same on every rank (one small collective).
bool same_on_all_ranks(uint64_t value, Traffic traffic = Traffic::other);

// Cumulative communication of this process since start (or reset_stats()).
const CommStats& stats();
void reset_stats();

}  // namespace nl::dist
