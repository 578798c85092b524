// CSV results: field quoting, the text, the file written atomically.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "normlab.h"

TEST_CASE("csv_field quotes only what needs it", "[train][csv]") {
  CHECK(nl::train::csv_field("blocks.0.ln1") == "blocks.0.ln1");
  CHECK(nl::train::csv_field("a,b") == "\"a,b\"");
  CHECK(nl::train::csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(nl::train::csv_field("two\nlines") == "\"two\nlines\"");
  CHECK(nl::train::csv_field("") == "");
}

TEST_CASE("write_csv writes the header and one line per row", "[train][csv]") {
  CHECK(nl::train::csv_text("step,loss", {"1,0.5", "2,0.25"}) == "step,loss\n1,0.5\n2,0.25\n");
  CHECK(nl::train::csv_text("step,loss", {}) == "step,loss\n");
  std::string dir = (std::filesystem::temp_directory_path() / "normlab_test_csv").string();
  nl::io::create_directories(dir + "/sub");
  std::string path = dir + "/sub/steps.csv";
  nl::train::write_csv(path, "step,loss", {"1,0.5"});
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == "step,loss\n1,0.5\n");
  std::filesystem::remove_all(dir);
}
