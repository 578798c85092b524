// gnuplot helpers: quoting, the line-plot script, rendering a real PNG.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "normlab.h"

namespace gnuplot = nl::train::gnuplot;

TEST_CASE("gnuplot::quote doubles single quotes", "[train][gnuplot]") {
  CHECK(gnuplot::quote("plain") == "'plain'");
  CHECK(gnuplot::quote("it's") == "'it''s'");
  CHECK(gnuplot::quote("") == "''");
}

TEST_CASE("gnuplot::lines_by_label: one line per label and column, dashed ones dashed", "[train][gnuplot]") {
  CHECK(gnuplot::lines_by_label("e.csv", "e.png", {}, "step", "loss", {{4, ""}}).empty());
  std::string script =
      gnuplot::lines_by_label("e.csv", "e.png", {"lstm", "ln-lstm"}, "step", "bits", {{5, "len 64"}}, {{6, "len 256"}});
  CHECK(script.find("set output 'e.png'") != std::string::npos);
  CHECK(script.find("'< grep \"^lstm,\" e.csv' using 2:5 with lines lw 2 lc 1 dt 1 title 'lstm (len 64)'") !=
        std::string::npos);
  CHECK(script.find("'< grep \"^ln-lstm,\" e.csv' using 2:6 with lines lw 2 lc 2 dt 2 title 'ln-lstm (len 256)'") !=
        std::string::npos);
}

TEST_CASE("gnuplot::render draws a PNG when gnuplot is installed, an empty script nothing", "[train][gnuplot]") {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / "normlab_test_gnuplot";
  fs::create_directories(dir);
  CHECK_FALSE(gnuplot::render((dir / "empty.gp").string(), ""));
  CHECK_FALSE(fs::exists(dir / "empty.gp"));
  std::string png = (dir / "line.png").string();
  std::string script = "set terminal pngcairo size 200,100\nset output " + gnuplot::quote(png) + "\nplot x\n";
  bool drawn = gnuplot::render((dir / "line.gp").string(), script);
  CHECK(fs::exists(dir / "line.gp"));  // the script stays either way
  if (std::system("command -v gnuplot > /dev/null 2>&1") == 0) {
    REQUIRE(drawn);
    std::ifstream in(png, std::ios::binary);
    char magic[4] = {};
    in.read(magic, 4);
    CHECK(std::string(magic + 1, 3) == "PNG");
  } else {
    CHECK_FALSE(drawn);
  }
  fs::remove_all(dir);
}
