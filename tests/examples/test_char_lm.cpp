// char_lm runs end to end on a small corpus: all three cells with --compare,
// valid CSV and JSON, evaluation beyond the training length, a sample.
#include <fstream>

#include "tests/examples/example_test_helpers.h"

TEST_CASE("char_lm --compare: three cells, CSV, JSON with bits per character at two lengths", "[examples][char_lm]") {
  auto dir = nl_test::fresh_dir("char_lm");
  auto run = nl_test::run_example("char_lm",
                                  "--compare --steps 6 --eval-every 3 --eval-batches 1 --batch-size 4 --seq-len 8 "
                                  "--eval-seq-len 24 --hidden 8 --embed 4 --sample-length 20 --corpus " +
                                      nl_test::small_corpus(dir) + " --out " + dir.string());
  REQUIRE(run.exit_code == 0);
  auto j = nl_test::last_json_line(run.out);
  REQUIRE(j["runs"].size() == 3);
  for (auto& r : j["runs"]) {
    INFO(r.dump());
    CHECK(r["diverged"] == false);
    CHECK(r["val_bpc"].get<double>() > 0);
    CHECK(r["val_bpc_long"].get<double>() > 0);
    CHECK(r["sample"].get<std::string>().size() == 4 + 20);  // the prompt "The " + 20 characters
  }
  CHECK(j["runs"][2]["cell"] == "bn-lstm");
  std::ifstream eval(dir / "eval.csv");
  std::string header, line;
  std::getline(eval, header);
  CHECK(header == "cell,step,train_loss,val_loss,val_bpc,val_bpc_long,seconds,cpu_seconds");
  int rows = 0;
  while (std::getline(eval, line)) ++rows;
  CHECK(rows == 3 * 2);
  CHECK(std::filesystem::exists(dir / "steps.csv"));
  CHECK(std::filesystem::exists(dir / "val_bpc.gp"));
  CHECK(std::filesystem::exists(dir / "results.json"));
}

TEST_CASE("char_lm: a missing corpus is a clear error", "[examples][char_lm]") {
  auto run = nl_test::run_example("char_lm", "--steps 1 --corpus /nonexistent/file.txt 2>&1");
  CHECK(run.exit_code == 1);
  CHECK(run.out.find("/nonexistent/file.txt") != std::string::npos);
}

TEST_CASE("char_lm --top-k: the final sample draws from the k likeliest characters, and the JSON says so",
          "[examples][char_lm]") {
  auto dir = nl_test::fresh_dir("char_lm_top_k");
  std::string args =
      "--cell lstm --steps 4 --eval-every 2 --eval-batches 1 --batch-size 4 --seq-len 8 --hidden 8 --embed 4 "
      "--sample-length 30 --corpus " +
      nl_test::small_corpus(dir) + " --out " + dir.string();
  // top-k 1 is greedy decoding: the sample no longer depends on the sampling seed's draws
  auto json = nl_test::require_greedy_sample("char_lm", args);
  CHECK(json["sample"].get<std::string>().size() == 4 + 30);
  CHECK(nl_test::run_example("char_lm", args + " --top-k 1").out.find("top-k 1") != std::string::npos);
}

TEST_CASE("char_lm --help shows the defaults", "[examples][char_lm]") {
  auto run = nl_test::run_example("char_lm", "--help");
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("=1000") != std::string::npos);   // --steps
  CHECK(run.out.find("=0.003") != std::string::npos);  // --lr
  CHECK(run.out.find("--top-k") != std::string::npos);
}
