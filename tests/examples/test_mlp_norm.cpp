// examples/mlp_norm: a single run and the sweep, on a tiny MNIST-format
// directory written by the test (fast) and once on the installed Fashion-MNIST.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "tests/data/data_test_helpers.h"
#include "tests/examples/example_test_helpers.h"

using nl_test::fresh_dir;
using nl_test::last_json_line;
using nl_test::run_example;

namespace {
std::vector<std::string> lines_of(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A tiny dataset: 2x3 images, 3 classes, 256 training and 64 test samples.
std::string tiny_data(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir / "data");
  data_test::write_tiny_mnist((dir / "data").string(), 256, 64);
  return (dir / "data").string();
}
}  // namespace

TEST_CASE("mlp_norm: a run prints the JSON line with its config and results and logs every step", "[examples]") {
  auto dir = fresh_dir("mlp_norm_run");
  std::string data = tiny_data(dir);
  auto run = run_example("mlp_norm", "--data " + data + " --norm batch --batch-size 32 --lr 0.1 --momentum 0.5 " +
                                         "--seed 3 --threads 1 --out " + (dir / "out").string());
  REQUIRE(run.exit_code == 0);
  nlohmann::json j = last_json_line(run.out);
  for (const char* key : {"norm", "batch_size", "epochs", "lr", "optim", "seed", "test_acc", "test_loss", "train_loss",
                          "seconds", "steps", "train_samples", "test_samples", "momentum", "diverged"})
    CHECK(j.contains(key));
  CHECK(j["norm"] == "batch");
  CHECK(j["batch_size"] == 32);
  CHECK(j["optim"] == "sgd");
  CHECK(j["seed"] == 3);
  CHECK(j["steps"] == 8);  // 256 / 32, one epoch
  CHECK(j["train_samples"] == 256);
  CHECK(j["test_samples"] == 64);
  CHECK(j["test_acc"].get<double>() >= 0.0);
  CHECK(j["test_acc"].get<double>() <= 1.0);
  CHECK(std::isfinite(j["train_loss"].get<double>()));

  std::vector<std::string> steps = lines_of(dir / "out" / "steps.csv");
  REQUIRE(steps.size() == 9);
  CHECK(steps[0] == "step,epoch,loss");
  CHECK(steps[8].rfind("8,0,", 0) == 0);
  // train_loss is the mean of the last 10% of steps: here the last one
  CHECK(j["train_loss"].get<double>() == Approx(std::stod(steps[8].substr(4))).epsilon(1e-4));
  CHECK(nlohmann::json::parse(std::ifstream(dir / "out" / "result.json"))["steps"] == 8);
}

TEST_CASE("mlp_norm --detect-anomaly: a finite run is unchanged, a diverging run names the op instead", "[examples]") {
  auto dir = fresh_dir("mlp_norm_anomaly");
  std::string data = tiny_data(dir);
  auto args = [&](const std::string& lr, const std::string& extra) {
    return fmt::format("--data {} --norm none --batch-size 32 --lr {} --seed 3 --threads 1 --out {} {} 2>&1", data, lr,
                       (dir / "out").string(), extra);
  };
  // checking every op's output reads it, nothing more: the same numbers
  nlohmann::json plain = last_json_line(run_example("mlp_norm", args("0.1", "")).out);
  auto checked = run_example("mlp_norm", args("0.1", "--detect-anomaly"));
  REQUIRE(checked.exit_code == 0);
  CHECK(last_json_line(checked.out)["train_loss"] == plain["train_loss"]);
  CHECK(last_json_line(checked.out)["test_acc"] == plain["test_acc"]);
  // at lr 1e9 the loss overflows: reported as diverged without the flag, stopped with the op named with it
  auto diverging = run_example("mlp_norm", args("1e9", ""));
  REQUIRE(diverging.exit_code == 0);
  CHECK(last_json_line(diverging.out)["diverged"] == true);
  auto stopped = run_example("mlp_norm", args("1e9", "--detect-anomaly"));
  CHECK(stopped.exit_code == 1);
  CHECK_THAT(stopped.out, Catch::Contains("error: anomaly detected: the "));
}

TEST_CASE("mlp_norm: the same seed gives the same run, another seed another", "[examples]") {
  auto dir = fresh_dir("mlp_norm_seed");
  std::string data = tiny_data(dir);
  auto args = [&](int seed) {
    return fmt::format(
        "--data {} --norm layer --batch-size 16 --epochs 2 --optim adam --lr 0.01 --threads 1 "
        "--seed {} --out {}",
        data, seed, (dir / "out").string());
  };
  nlohmann::json a = last_json_line(run_example("mlp_norm", args(1)).out);
  nlohmann::json b = last_json_line(run_example("mlp_norm", args(1)).out);
  nlohmann::json c = last_json_line(run_example("mlp_norm", args(2)).out);
  CHECK(a["steps"] == 32);
  CHECK(a["train_loss"] == b["train_loss"]);
  CHECK(a["test_loss"] == b["test_loss"]);
  CHECK(a["train_loss"] != c["train_loss"]);
}

TEST_CASE("mlp_norm --save-init: the initial weights and the batch order as .npy", "[examples]") {
  auto dir = fresh_dir("mlp_norm_save_init");
  std::string data = tiny_data(dir), init = (dir / "init").string();
  auto run =
      run_example("mlp_norm", "--data " + data + " --norm batch --batch-size 64 --epochs 2 --seed 4 " +
                                  "--hidden 8 --threads 1 --save-init " + init + " --out " + (dir / "out").string());
  REQUIRE(run.exit_code == 0);
  nl::Tensor order = nl::io::load_npy(init + "/order.npy");
  REQUIRE(order.shape() == nl::Shape{2, 256});
  CHECK(order.select(0, 1).to_vector<int64_t>() == nl::data::shuffled_indices(256, 4, 1));
  // the weights the run started from: the same seed builds the same model
  nl::manual_seed(4);
  nl::models::MLP model({6, 8, 8, 3}, nl::models::NormKind::batch);
  for (const auto& [name, tensor] : model.state_dict()) {
    INFO(name);
    nl::Tensor saved = nl::io::load_npy(init + "/" + name + ".npy");
    CHECK(saved.shape() == tensor.shape());
    CHECK(saved.to_vector<double>() == tensor.to_vector<double>());
  }
  CHECK(run_example("mlp_norm", "--sweep --save-init " + init + " 2>/dev/null").exit_code == 1);
}

TEST_CASE("mlp_norm --sweep: eight configs per seed, results.csv, summary.md, curves and the plot script", "[examples]") {
  auto dir = fresh_dir("mlp_norm_sweep");
  std::string data = tiny_data(dir), out = (dir / "sweep").string();
  auto run = run_example("mlp_norm", "--sweep --seeds 2 --seed 5 --threads 1 --data " + data + " --out " + out);
  REQUIRE(run.exit_code == 0);
  nlohmann::json j = last_json_line(run.out);
  REQUIRE(j["sweep"].size() == 8);
  CHECK(j["runs"] == 16);
  for (const auto& config : j["sweep"]) {
    CHECK(config["seeds"] == 2);
    CHECK(config["lr"] == (config["batch_size"] == 128 ? 0.05 : 0.0125));
  }
  std::vector<std::string> results = lines_of(out + "/results.csv");
  REQUIRE(results.size() == 17);
  CHECK(results[0] == "norm,batch_size,lr,seed,steps,train_loss,test_loss,test_acc,diverged,seconds");
  CHECK(results[1].rfind("none,128,0.05,5,2,", 0) == 0);     // 256 samples: 2 steps of 128
  CHECK(results[16].rfind("renorm,4,0.0125,6,64,", 0) == 0);  // and 64 of 4
  std::vector<std::string> summary = lines_of(out + "/summary.md");
  REQUIRE(summary.size() > 10);
  CHECK(summary[0] == "# mlp_norm sweep");
  CHECK(std::count_if(summary.begin(), summary.end(), [](const std::string& l) { return l.rfind("| ", 0) == 0; }) ==
        9 + 3);  // the table (header + 8) and the differences (header + 2)
  CHECK(lines_of(out + "/curves.csv")[0] == "epoch,none_b128,batch_b128,layer_b128,renorm_b128,none_b4,batch_b4,layer_b4,renorm_b4");
  CHECK(lines_of(out + "/curves.csv").size() == 3);  // as many points as the shortest run has steps (2)
  CHECK(std::filesystem::exists(out + "/sweep.gp"));
  CHECK(std::filesystem::exists(out + "/runs/batch_b4_seed6.csv"));
  if (std::system("command -v gnuplot > /dev/null 2>&1") == 0) {
    CHECK(std::filesystem::file_size(out + "/sweep.png") > 1000);
    CHECK(j["plot"] == out + "/sweep.png");
  }
}

TEST_CASE("mlp_norm: bad flags and data are errors, not crashes", "[examples]") {
  auto dir = fresh_dir("mlp_norm_errors");
  CHECK(run_example("mlp_norm", "--help").exit_code == 0);
  CHECK(run_example("mlp_norm", "--sweep --norm batch 2>/dev/null").exit_code == 1);
  CHECK(run_example("mlp_norm", "--data " + (dir / "nothing").string() + " 2>/dev/null").exit_code == 1);
  CHECK(run_example("mlp_norm", "--norm group 2>/dev/null").exit_code != 0);
  std::string data = tiny_data(dir);
  // 256 samples make no full batch of 512
  CHECK(run_example("mlp_norm", "--data " + data + " --batch-size 512 2>/dev/null").exit_code == 1);
}

TEST_CASE("mlp_norm: the installed Fashion-MNIST with --limit", "[examples][fashion-mnist]") {
  auto dir = fresh_dir("mlp_norm_fashion");
  auto run = run_example("mlp_norm", "--limit 600 --batch-size 50 --norm rms --threads 1 --out " + dir.string());
  REQUIRE(run.exit_code == 0);
  nlohmann::json j = last_json_line(run.out);
  CHECK(j["train_samples"] == 600);
  CHECK(j["test_samples"] == 100);  // --limit / 6
  CHECK(j["steps"] == 12);
  CHECK(j["test_acc"].get<double>() > 0.3);  // 12 steps already beat chance (0.1) by far
}

TEST_CASE("mlp_norm --distributed in a world of one process: the single-process run plus its communication report",
          "[examples][dist]") {
  auto dir = fresh_dir("mlp_norm_distributed_world1");
  std::string data = tiny_data(dir);
  auto args = [&](const std::string& extra, const std::string& out) {
    return fmt::format("--data {} --norm batch --batch-size 32 --lr 0.1 --seed 3 --threads 1 {} --out {}", data, extra,
                       (dir / out).string());
  };
  auto single = run_example("mlp_norm", args("", "single"));
  auto world1 = run_example("mlp_norm", args("--distributed", "world1"));
  REQUIRE(single.exit_code == 0);
  REQUIRE(world1.exit_code == 0);
  nlohmann::json a = last_json_line(single.out), b = last_json_line(world1.out);
  CHECK(!a.contains("processes"));  // without --distributed the JSON is what it was
  CHECK(b["processes"] == 1);
  CHECK(b["global_batch"] == 32);
  CHECK(b["params_in_sync"] == true);
  CHECK(b["total"]["steps"] == 8);
  CHECK(b["total"]["gradient_sync"]["calls"] == 0);  // nothing to communicate
  for (const char* key : {"train_loss", "test_loss", "test_acc", "steps"}) CHECK(a[key] == b[key]);
  std::vector<std::string> steps_single = lines_of(dir / "single" / "steps.csv"),
                           steps_world1 = lines_of(dir / "world1" / "steps.csv");
  REQUIRE(steps_world1.size() == steps_single.size());
  CHECK(steps_world1[0].rfind("step,epoch,loss,step_ms,compute_ms,gradient_sync_ms,", 0) == 0);
  for (size_t i = 1; i < steps_single.size(); ++i)  // the same loss, step by step
    CHECK(steps_world1[i].rfind(steps_single[i] + ",", 0) == 0);
}

TEST_CASE("mlp_norm: --sync-bn needs --distributed and --norm batch, --distributed is a single run",
          "[examples][dist]") {
  auto run = run_example("mlp_norm", "--norm batch --sync-bn 2>&1");
  CHECK(run.exit_code == 1);
  CHECK_THAT(run.out, Catch::Contains("--sync-bn") && Catch::Contains("needs --norm batch and --distributed"));
  CHECK(run_example("mlp_norm", "--distributed --norm layer --sync-bn 2>/dev/null").exit_code == 1);
  CHECK(run_example("mlp_norm", "--distributed --sweep 2>/dev/null").exit_code == 1);
}
