// normlab_dist_fault <scenario>: a 2-process job that goes wrong on purpose,
// for the ctest failure tests (tests/dist/CMakeLists.txt). Each scenario must
// end the whole job within seconds with a clear message — never hang:
//   stall    rank 1 sleeps instead of joining an allreduce; rank 0 times out
//   crash    rank 1 fails before the first collective and aborts the job
//   no-init  rank 1 exits before MPI_Init; rank 0's MPI_Init is watched
//   world    the program needs 3 processes but runs with 2
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "core/error.h"
#include "dist/dist.h"

int main(int argc, char** argv) {
  std::string scenario = argc > 1 ? argv[1] : "";
  const char* launcher_rank = std::getenv("OMPI_COMM_WORLD_RANK");
  if (scenario == "no-init" && launcher_rank && std::string(launcher_rank) == "1") return 0;
  nl::dist::set_timeout_seconds(2);
  nl::dist::Context dist(argc, argv);
  try {
    if (scenario == "world") nl::dist::require_world_size(3, "dist_fault");
    if (scenario == "crash" && nl::dist::rank() == 1) nl::fail("injected failure before the first collective");
    if (scenario == "stall" && nl::dist::rank() == 1) std::this_thread::sleep_for(std::chrono::seconds(30));
    double value = 1;
    nl::dist::allreduce_sum(&value, 1, nl::dist::Traffic::other);
    fmt::print("rank {}: sum {}\n", nl::dist::rank(), value);
  } catch (const std::exception& e) {
    nl::dist::Context::abort(1, fmt::format("error: {}", e.what()));
  }
  return 0;
}
