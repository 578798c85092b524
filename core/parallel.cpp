#include "core/parallel.h"

#include <cblas.h>

#include <cstdlib>
#include <string>

#include "core/error.h"

namespace nl {

namespace {
int& thread_count() {
  static int count = [] {
    int n = omp_get_max_threads();
    if (const char* env = std::getenv("NORMLAB_NUM_THREADS")) {
      try {
        n = std::max(1, std::stoi(env));
      } catch (const std::exception&) {
        // an unreadable value keeps the default rather than aborting start-up
      }
    }
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
    return n;
  }();
  return count;
}
}  // namespace

int get_num_threads() { return thread_count(); }

void set_num_threads(int n) {
  if (n < 1) fail("set_num_threads: expected at least 1 thread, got {}", n);
  thread_count() = n;
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

}  // namespace nl
