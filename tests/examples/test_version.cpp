// Every program prints the library's version with --version, the same string
// as nl::version(): each example (every examples/<name>/main.cpp), and
// normlab-bench and normlab_dist_bench when they are built.
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "normlab.h"
#include "tests/examples/example_test_helpers.h"

namespace {
void require_version(const std::string& program) {
  INFO(program);
  auto run = nl_test::run_example(program, "--version");
  CHECK(run.exit_code == 0);
  CHECK(run.out == std::string(nl::version()) + "\n");
}
}  // namespace

TEST_CASE("every example program's --version prints nl::version()", "[examples][version]") {
  std::filesystem::path examples = std::filesystem::path(NORMLAB_FIXTURES_DIR) / ".." / ".." / "examples";
  std::vector<std::string> programs;
  for (const auto& entry : std::filesystem::directory_iterator(examples))
    if (std::filesystem::exists(entry.path() / "main.cpp")) programs.push_back(entry.path().filename().string());
  REQUIRE(programs.size() >= 7);
  for (const std::string& program : programs) require_version(program);
}

TEST_CASE("normlab-bench and normlab_dist_bench --version print nl::version()", "[examples][version]") {
  for (const std::string program : {"normlab-bench", "normlab_dist_bench"}) {
    if (!std::filesystem::exists(std::string(NORMLAB_BIN_DIR) + "/" + program)) {
      WARN(program << " is not built (NORMLAB_BUILD_BENCH=OFF?): not checked");
      continue;
    }
    require_version(program);
  }
}
