// nl::version(): the project's version from CMake, major.minor.patch.
#include <algorithm>
#include <catch2/catch.hpp>
#include <string>

#include "normlab.h"

TEST_CASE("version: major.minor.patch, the project's", "[core][version]") {
  std::string v = nl::version();
  CHECK(std::count(v.begin(), v.end(), '.') == 2);
  CHECK(v.rfind("0.2.", 0) == 0);
}
