// grad_flow: a small run writes its CSVs and JSON; without normalization the
// gradient reaching the first layer is far smaller than at the last, with
// LayerNorm it is not; the profile holds one row per layer and norm.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "tests/examples/example_test_helpers.h"

TEST_CASE("grad_flow: vanishing gradients without normalization, not with LayerNorm", "[examples][grad_flow]") {
  auto dir = nl_test::fresh_dir("grad_flow");
  auto run = nl_test::run_example("grad_flow",
                                  "--data synthetic --norm all --depth 8 --width 32 --steps 4 "
                                  "--record-every 2 --limit 300 --batch-size 32 --threads 1 "
                                  "--detect-anomaly --out " +
                                      dir.string() + " 2>/dev/null");
  REQUIRE(run.exit_code == 0);
  auto j = nl_test::last_json_line(run.out);
  REQUIRE(j["runs"].size() == 3);
  for (const auto& r : j["runs"]) {
    INFO(r["norm"]);
    CHECK(r["init"]["act_std"].size() == 9);  // 8 hidden Linear layers and the output layer
    CHECK(r["init"]["step"] == 0);
    CHECK(r["final"]["step"] == 4);
    CHECK(r["final"]["update_ratio"][0].get<double>() > 0);
    CHECK(std::filesystem::exists(dir / ("stats_" + r["norm"].get<std::string>() + ".csv")));
    // the makemore views: every leaf layer's rows and histograms; no Tanh here, so no saturation
    CHECK(std::filesystem::exists(dir / ("makemore_" + r["norm"].get<std::string>() + ".csv")));
    CHECK(std::filesystem::exists(dir / ("histograms_" + r["norm"].get<std::string>() + ".csv")));
    CHECK(std::filesystem::exists(dir / ("makemore_" + r["norm"].get<std::string>() + ".gp")));
    CHECK(r["saturated_init"].is_null());
    // every step's loss, step 0 (the initialization) to 4, finite
    std::ifstream steps(dir / ("steps_" + r["norm"].get<std::string>() + ".csv"));
    std::string line;
    std::getline(steps, line);
    CHECK(line == "step,loss");
    std::vector<int> numbers;
    std::vector<double> losses;
    while (std::getline(steps, line)) {
      numbers.push_back(std::stoi(line.substr(0, line.find(','))));
      losses.push_back(std::stod(line.substr(line.find(',') + 1)));
      CHECK(std::isfinite(losses.back()));
    }
    REQUIRE(numbers == std::vector<int>{0, 1, 2, 3, 4});
    // train_loss is the mean over the last 10% of the steps: here step 4 alone
    CHECK(r["train_loss"].get<double>() == Approx(losses.back()).epsilon(1e-5));
  }
  auto first_over_last = [&](int run_index) {
    auto g = j["runs"][run_index]["init"]["grad_norm"];
    return g.front().get<double>() / g.back().get<double>();
  };
  CHECK(j["runs"][0]["norm"] == "none");
  CHECK(first_over_last(0) < 1e-2);  // vanished by > 100× over 8 layers
  CHECK(j["runs"][2]["norm"] == "layer");
  CHECK(first_over_last(2) > 0.1);
  std::ifstream profile(dir / "profile.csv");
  std::string line;
  int rows = -1;
  while (std::getline(profile, line)) ++rows;
  CHECK(rows == 3 * 2 * 9);
  CHECK(nl_test::run_example("grad_flow", "--norm bogus 2>/dev/null").exit_code != 0);
}
