// The nl::dist test runner: one Catch2 session per rank inside one
// nl::dist::Context. Run as `mpirun -np 2 normlab_dist_tests` (ctest does);
// tests tagged [np2] need exactly 2 processes, [world1] exactly 1.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "dist/dist.h"

int main(int argc, char** argv) {
  nl::dist::Context dist(argc, argv);
  int failed = Catch::Session().run(argc, argv);
  // The run fails when any rank failed, on every rank.
  int64_t failures = failed;
  nl::dist::allreduce_sum(&failures, 1, nl::dist::Traffic::other);
  return failures > 0 ? 1 : 0;
}
