// examples/train_mlp: a short run of each norm prints the table and the JSON
// lines; --detect-anomaly leaves a finite run unchanged and stops a diverging
// one at the op that made the first NaN or inf.
#include <catch2/catch.hpp>

#include "tests/examples/example_test_helpers.h"

using nl_test::last_json_line;
using nl_test::run_example;

namespace {
const char* kSmall = "--depth 3 --hidden 16 --steps 20 --batch-size 32 --points 100 --threads 1 --seed 2";
}

TEST_CASE("train_mlp: one JSON line per norm, the same numbers with --detect-anomaly", "[examples][train_mlp]") {
  auto plain = run_example("train_mlp", std::string(kSmall) + " 2>/dev/null");
  auto checked = run_example("train_mlp", std::string(kSmall) + " --detect-anomaly 2>/dev/null");
  REQUIRE(plain.exit_code == 0);
  REQUIRE(checked.exit_code == 0);
  CHECK_THAT(plain.out, Catch::Contains("train_loss") && Catch::Contains("test_acc"));
  CHECK_THAT(plain.out, Catch::Contains("{\"batch_size\":32") && Catch::Contains("\"norm\":\"none\"") &&
                            Catch::Contains("\"norm\":\"layer\"") && Catch::Contains("\"norm\":\"batch\""));
  // the last line is the batch run; anomaly checks read every op's output and change nothing
  nlohmann::json a = last_json_line(plain.out), b = last_json_line(checked.out);
  CHECK(a["norm"] == "batch");
  CHECK(std::isfinite(a["train_loss"].get<double>()));
  CHECK(a["train_loss"] == b["train_loss"]);
  CHECK(a["test_acc"] == b["test_acc"]);
}

TEST_CASE("train_mlp --detect-anomaly: a diverging run names the op that made the first NaN or inf",
          "[examples][train_mlp]") {
  // tanh bounds the hidden layers, so only an absurd rate overflows float32 (the output layer's weights)
  std::string diverging = std::string(kSmall) + " --norm none --lr 1e38";
  auto unchecked = run_example("train_mlp", diverging + " 2>/dev/null");
  REQUIRE(unchecked.exit_code == 0);
  CHECK(last_json_line(unchecked.out)["train_loss"].is_null());  // NaN: JSON writes null
  auto run = run_example("train_mlp", diverging + " --detect-anomaly 2>&1");
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.out, Catch::Contains("error: anomaly detected: the "));
}
