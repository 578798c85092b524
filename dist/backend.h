#pragma once
// The transport under nl::dist (internal): mpi_backend.cpp when normlab is
// built with MPI, no_mpi_backend.cpp (a world of one) otherwise. comm.cpp
// calls these only when the world has more than one process.
#include <cstdint>
#include <string_view>

#include "core/dtype.h"

namespace nl::dist::backend {

enum class Op { sum, min, max };

struct World {
  int rank = 0, size = 1;
};

bool with_mpi();
// Starts (or joins) the world; a process that does not get through within
// timeout seconds prints why and exits, so mpirun ends the job.
World init(int& argc, char**& argv, double timeout);
// Finalizes, or aborts every process of the job when abort_job is set.
void finalize(bool abort_job, double timeout);
[[noreturn]] void abort_job(int code);
// Collectives; throw nl::Error (naming `what`) on an MPI error or timeout.
void allreduce(void* data, int64_t count, DType dtype, Op op, double timeout, std::string_view what);
void broadcast(void* data, int64_t bytes, int root, double timeout, std::string_view what);

}  // namespace nl::dist::backend
