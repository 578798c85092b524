// examples/train_vs_eval on random data: LayerNorm's and RMSNorm's output for
// a sample does not depend on the mode or the batch, BatchNorm's does.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "tests/examples/example_test_helpers.h"

using nl_test::fresh_dir;
using nl_test::last_json_line;
using nl_test::run_example;

TEST_CASE("train_vs_eval --synthetic: per-sample norms ignore the batch and the mode, BatchNorm does not",
          "[examples]") {
  auto dir = fresh_dir("train_vs_eval");
  auto run = run_example("train_vs_eval",
                         "--synthetic --train-steps 5 --hidden 32 --threads 1 --detect-anomaly --out " + dir.string());
  REQUIRE(run.exit_code == 0);
  nlohmann::json j = last_json_line(run.out);
  for (const char* norm : {"layer", "rms"}) {
    INFO(norm);
    // float32 rounding of the GEMMs at different batch sizes at most, never a real dependence
    CHECK(j[norm]["eval_max_diff_logits"].get<double>() < 1e-4);
    CHECK(j[norm]["train_max_diff_logits"].get<double>() < 1e-4);
    CHECK(j[norm]["train_max_diff_between_compositions"].get<double>() < 1e-4);
    CHECK(j[norm]["errors"].empty());
  }
  // BatchNorm: eval mode uses fixed running statistics, so no batch dependence there ...
  CHECK(j["batch"]["eval_max_diff_logits"].get<double>() < 1e-4);
  // ... but training mode differs from eval and between batch compositions, and refuses a batch of 1
  CHECK(j["batch"]["train_max_diff_logits"].get<double>() > 1e-2);
  CHECK(j["batch"]["train_max_diff_between_compositions"].get<double>() > 1e-2);
  REQUIRE(j["batch"]["errors"].size() == 1);
  CHECK(j["batch"]["errors"][0].get<std::string>().find("train mode, batch 1: ") == 0);

  std::ifstream csv(dir / "results.csv");
  std::string header;
  std::getline(csv, header);
  CHECK(header ==
        "norm,mode,batch_size,compositions,linear_output_max_diff,norm_output_max_diff,logits_max_diff,"
        "max_diff_between_compositions,error");
  int rows = 0;
  for (std::string line; std::getline(csv, line);) ++rows;
  CHECK(rows == 3 * 2 * 3);  // norms × modes × batch sizes
  CHECK(nlohmann::json::parse(std::ifstream(dir / "results.json"))["synthetic"] == true);

  // the warm-up training: one row per norm and step, finite losses
  std::ifstream steps(dir / "steps.csv");
  std::getline(steps, header);
  CHECK(header == "norm,step,loss");
  std::vector<std::string> expected, seen;
  for (std::string norm : {"layer", "rms", "batch"})
    for (int step = 1; step <= 5; ++step) expected.push_back(norm + "," + std::to_string(step));
  for (std::string line; std::getline(steps, line);) {
    size_t comma = line.rfind(',');
    seen.push_back(line.substr(0, comma));
    CHECK(std::isfinite(std::stod(line.substr(comma + 1))));
  }
  CHECK(seen == expected);
}

TEST_CASE("train_vs_eval: a sample outside the data is an error", "[examples]") {
  CHECK(run_example("train_vs_eval", "--synthetic --train-steps 0 --sample 5000 2>/dev/null").exit_code == 1);
}
