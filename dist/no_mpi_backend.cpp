// nl::dist without MPI (NORMLAB_WITH_MPI=OFF): a world of one process. comm.cpp
// never calls a collective here (a world of one has nothing to exchange);
// init refuses to run as one of several processes started by mpirun.
#include <cstdlib>
#include <string>

#include "core/error.h"
#include "dist/backend.h"
#include "dist/comm.h"

namespace nl::dist::backend {

namespace {
[[noreturn]] void unreachable(std::string_view what) {
  fail("nl::dist: {} needs MPI, but this normlab was built without it (NORMLAB_WITH_MPI=OFF)", what);
}
}  // namespace

bool with_mpi() { return false; }

World init(int&, char**&, double) {
  int launched = nl::dist::launcher_world_size();
  if (launched > 1)
    fail(
        "nl::dist: this normlab was built without MPI (NORMLAB_WITH_MPI=OFF) but was started by mpirun as one of {} "
        "processes, which would train {} separate models; install libopenmpi-dev and rebuild",
        launched, launched);
  return World{};
}

void finalize(bool, double) {}

void abort_job(int code) { std::_Exit(code); }

void allreduce(void*, int64_t, DType, Op, double, std::string_view what) { unreachable(what); }
void broadcast(void*, int64_t, int, double, std::string_view what) { unreachable(what); }

}  // namespace nl::dist::backend
