// write_file_atomically: all or nothing, no temporaries left behind;
// InputFile: reads are bounded by the file.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "tests/core/io/io_test_helpers.h"

using namespace normlab_test;

TEST_CASE("write_file_atomically: writes the content and leaves only the file", "[io][atomic]") {
  TempDir dir;
  std::string path = dir.file("a.txt");
  nl::io::write_file_atomically(path, [](std::FILE* f) { std::fputs("hello", f); });
  CHECK(read_bytes(path) == "hello");
  nl::io::write_file_atomically(path, [](std::FILE* f) { std::fputs("world!", f); });
  CHECK(read_bytes(path) == "world!");
  CHECK(dir.count_entries() == 1);
}

TEST_CASE("write_file_atomically: a writer that fails midway changes nothing", "[io][atomic]") {
  TempDir dir;
  std::string path = dir.file("ckpt.bin");
  nl::io::write_file_atomically(path, [](std::FILE* f) { std::fputs("old checkpoint", f); });
  REQUIRE_THROWS_WITH(nl::io::write_file_atomically(path,
                                                    [](std::FILE* f) {
                                                      std::fputs("half of a new one", f);
                                                      nl::fail("simulated crash");
                                                    }),
                      Catch::Contains("simulated crash"));
  CHECK(read_bytes(path) == "old checkpoint");
  CHECK(dir.count_entries() == 1);
}

TEST_CASE("write_file_atomically: an unwritable directory is a clear error", "[io][atomic][errors]") {
  TempDir dir;
  REQUIRE_THROWS_WITH(nl::io::write_file_atomically(dir.file("missing/sub/x.bin"), [](std::FILE*) {}),
                      Catch::Contains("cannot create"));
}

TEST_CASE("write_file_atomically with the content given, create_directories makes parents", "[io][atomic]") {
  TempDir dir;
  std::string sub = dir.file("results/run1");
  CHECK(nl::io::create_directories(sub) == sub);
  CHECK(nl::io::create_directories(sub) == sub);  // already there: fine
  nl::io::write_file_atomically(sub + "/steps.csv", std::string("step,loss\n1,0.5\n"));
  CHECK(read_bytes(sub + "/steps.csv") == "step,loss\n1,0.5\n");
  write_bytes(dir.file("plain"), "x");
  REQUIRE_THROWS_WITH(nl::io::create_directories(dir.file("plain/below")), Catch::Contains("cannot create"));
}

TEST_CASE("InputFile: reads inside the file only", "[io][atomic][errors]") {
  TempDir dir;
  std::string path = dir.file("r.bin");
  write_bytes(path, "0123456789");
  nl::io::InputFile file(path, "test_read");
  CHECK(file.size() == 10);
  char buffer[4];
  file.read(6, 4, buffer, "tail");
  CHECK(std::string(buffer, 4) == "6789");
  REQUIRE_THROWS_WITH(
      file.read(8, 4, buffer, "tail"),
      Catch::Contains("test_read: " + path + ": tail at bytes [8, 12) lies outside the file of 10 bytes"));
  REQUIRE_THROWS_WITH(file.read(UINT64_MAX, 2, buffer, "x"), Catch::Contains("outside the file"));
}
