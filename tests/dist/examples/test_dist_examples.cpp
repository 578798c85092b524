// The example programs with --distributed under `mpirun -np 2` (built only
// with MPI and the examples; tests/dist/CMakeLists.txt): mlp_norm on a slice of
// the installed Fashion-MNIST with SyncBatchNorm, LayerNorm and local
// BatchNorm1d, and char_lm on a tiny corpus. Each test starts the real
// programs, on one process and on two, and compares what they print and write.
// ctest runs each TEST_CASE by its tag (normlab_dist:example_<tag>).
#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "normlab.h"
#include "tests/examples/example_test_helpers.h"

using nl_test::fresh_dir;
using nl_test::last_json_line;

namespace {

// `mpirun -np <n> build/bin/<name> <args>` (NORMLAB_MPIRUN: the launcher and its
// process-count flag, from CMake's FindMPI), stdout captured.
nl_test::ExampleRun run_mpi(int processes, const std::string& name, const std::string& args) {
  return nl_test::run_command(fmt::format("{} {} {}/{} {}", NORMLAB_MPIRUN, processes, NORMLAB_BIN_DIR, name, args));
}

// Column `column` (0-based) of every data row of a CSV file.
std::vector<double> csv_column(const std::filesystem::path& path, size_t column) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  std::vector<double> values;
  while (std::getline(in, line)) {
    size_t start = 0;
    for (size_t c = 0; c < column; ++c) start = line.find(',', start) + 1;
    values.push_back(std::stod(line.substr(start, line.find(',', start) - start)));
  }
  return values;
}

std::string csv_header(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// mlp_norm on the first 512 Fashion-MNIST training images, hidden width 16:
// 8 steps of a global batch of 64.
const std::string kMlpArgs = "--limit 512 --hidden 16 --lr 0.1 --momentum 0.5 --seed 2";
constexpr int64_t kHidden = 16;
// MLP 784-16-16-10; BatchNorm1d and LayerNorm both add a weight and a bias per hidden layer
constexpr int64_t kMlpParameters =
    (784 * kHidden + kHidden) + 2 * kHidden + (kHidden * kHidden + kHidden) + 2 * kHidden + (kHidden * 10 + 10);

// The per-step times are means over the ranks and add up to the step; the
// longest compute of any rank (outside the sum) is at least their mean.
void check_step_adds_up(const nlohmann::json& run) {
  const nlohmann::json& s = run["per_step"];
  double step = s["step_ms"], compute = s["compute_ms"];
  CHECK(step >= compute);
  CHECK(step == Approx(compute + s["gradient_sync_ms"].get<double>() + s["norm_sync_ms"].get<double>() +
                       s["other_comm_ms"].get<double>())
                    .epsilon(1e-9));
  CHECK(s["compute_ms_max"].get<double>() >= compute * (1 - 1e-9));
  CHECK(run["total"]["seconds"].get<double>() ==
        Approx(step * 1e-3 * run["total"]["steps"].get<double>()).epsilon(1e-9));
}

struct MlpRuns {
  nlohmann::json single, distributed;
  std::vector<double> single_losses, distributed_losses;
};

// One process with batch 64 (--norm `norm`), then 2 processes × 32 with
// --distributed (and `flags`).
MlpRuns run_mlp(const std::string& name, const std::string& norm, const std::string& flags = "") {
  auto dir = fresh_dir("dist_mlp_norm_" + name);
  auto single = nl_test::run_example("mlp_norm", fmt::format("{} --norm {} --batch-size 64 --threads 1 --out {}",
                                                             kMlpArgs, norm, (dir / "one").string()));
  REQUIRE(single.exit_code == 0);
  auto distributed = run_mpi(2, "mlp_norm",
                             fmt::format("--distributed {} --norm {} {} --batch-size 32 --out {}", kMlpArgs, norm,
                                         flags, (dir / "two").string()));
  REQUIRE(distributed.exit_code == 0);
  MlpRuns runs{last_json_line(single.out), last_json_line(distributed.out), csv_column(dir / "one" / "steps.csv", 2),
               csv_column(dir / "two" / "steps.csv", 2)};
  // the human-readable line: the step and its parts (means over the ranks), bytes
  CHECK_THAT(distributed.out,
             Catch::Contains(fmt::format("norm {}{}: 2 processes x batch 32 = global batch 64: per step ", norm,
                                         norm != "batch" ? ""
                                         : flags.empty() ? " (local BatchNorm1d)"
                                                         : " (SyncBatchNorm)")));
  CHECK_THAT(distributed.out, Catch::Contains(fmt::format("({} B) + norm sync ", 4 * kMlpParameters)));
  // rank 0 alone prints the result (one summary line and one JSON line)
  CHECK(std::count(distributed.out.begin(), distributed.out.end(), '\n') == 3);
  CHECK(csv_header(dir / "two" / "steps.csv") ==
        "step,epoch,loss,step_ms,compute_ms,gradient_sync_ms,gradient_sync_bytes,gradient_sync_calls,norm_sync_ms,"
        "norm_sync_bytes,norm_sync_calls,other_comm_ms,other_comm_bytes,other_comm_calls");
  CHECK(csv_column(dir / "two" / "steps.csv", 6) == std::vector<double>(8, double(4 * kMlpParameters)));
  const nlohmann::json& j = runs.distributed;
  CHECK(j["processes"] == 2);
  CHECK(j["batch_size"] == 32);
  CHECK(j["global_batch"] == 64);
  CHECK(j["steps"] == 8);
  CHECK(j["params_in_sync"] == true);
  // gradients: one bucket of every parameter's gradient (float32) per step
  CHECK(j["per_step"]["gradient_sync_calls"] == 1.0);
  CHECK(j["per_step"]["gradient_sync_bytes"] == double(4 * kMlpParameters));
  CHECK(j["total"]["gradient_sync"]["bytes"] == 8 * 4 * kMlpParameters);
  // the loss for reporting and divergence: one double per step
  CHECK(j["total"]["other_comm"]["bytes"] == 8 * 8);
  CHECK(j["total"]["steps"] == 8);
  check_step_adds_up(j);
  return runs;
}

void check_same_training(const MlpRuns& runs) {
  REQUIRE(runs.single_losses.size() == 8);
  REQUIRE(runs.distributed_losses.size() == 8);
  for (size_t i = 0; i < 8; ++i) {
    INFO("step " << i + 1);
    CHECK(runs.distributed_losses[i] == Approx(runs.single_losses[i]).epsilon(1e-4));
  }
  CHECK(runs.distributed["test_loss"].get<double>() == Approx(runs.single["test_loss"].get<double>()).epsilon(1e-4));
  CHECK(runs.distributed["test_acc"].get<double>() == Approx(runs.single["test_acc"].get<double>()).margin(0.011));
}

}  // namespace

TEST_CASE("mlp_norm --distributed --sync-bn: 2 processes x 32 train as 1 process x 64, BN statistics synchronized",
          "[mlp_norm_sync_bn]") {
  MlpRuns runs = run_mlp("sync_bn", "batch", "--sync-bn");
  check_same_training(runs);
  const nlohmann::json& j = runs.distributed;
  CHECK(j["sync_bn"] == true);
  CHECK(j["buffers_in_sync"] == true);
  // per step and BN layer: forward [count | Σx | Σx²] (1 + 2C doubles), backward [Σdy | Σdy·xhat] (2C doubles)
  CHECK(j["per_step"]["norm_sync_calls"] == 4.0);
  CHECK(j["per_step"]["norm_sync_bytes"] == double(2 * ((1 + 2 * kHidden) * 8 + 2 * kHidden * 8)));
  CHECK(j["total"]["norm_sync"]["bytes"] == 8 * 2 * ((1 + 2 * kHidden) * 8 + 2 * kHidden * 8));
}

TEST_CASE("mlp_norm --distributed --norm layer: the same training as 1 process, no normalization traffic",
          "[mlp_norm_layer]") {
  MlpRuns runs = run_mlp("layer", "layer");
  check_same_training(runs);
  CHECK(runs.distributed["total"]["norm_sync"]["bytes"] == 0);
  CHECK(runs.distributed["total"]["norm_sync"]["calls"] == 0);
  CHECK(runs.distributed["buffers_in_sync"] == true);
}

TEST_CASE(
    "mlp_norm --distributed --norm batch (local BatchNorm1d): same parameters on every rank, but another "
    "training than 1 process and per-rank running statistics",
    "[mlp_norm_local_bn]") {
  MlpRuns runs = run_mlp("local_bn", "batch");
  const nlohmann::json& j = runs.distributed;
  CHECK(j["sync_bn"] == false);
  CHECK(j["total"]["norm_sync"]["bytes"] == 0);
  CHECK(j["buffers_in_sync"] == false);  // each rank's running statistics follow its shard
  // statistics over each rank's 32 samples instead of the global 64: other outputs from the first step on
  REQUIRE(runs.distributed_losses.size() == 8);
  for (size_t i = 0; i < 8; ++i) CHECK(std::abs(runs.distributed_losses[i] - runs.single_losses[i]) > 1e-4);
}

TEST_CASE("mlp_norm under mpirun: errors end the whole job with a message", "[mlp_norm_errors]") {
  auto dir = fresh_dir("dist_mlp_norm_errors");
  // every rank fails: 100 samples make no global batch of 2 x 64
  auto run = run_mpi(2, "mlp_norm", "--distributed --limit 100 --batch-size 64 --out " + dir.string() + " 2>&1");
  CHECK(run.exit_code != 0);
  CHECK_THAT(run.out, Catch::Contains("make no full batch of 128 (64 per process x 2 processes)"));
  // started by mpirun without --distributed: each process would train alone
  run = run_mpi(2, "mlp_norm", "--limit 100 --out " + dir.string() + " 2>&1");
  CHECK(run.exit_code != 0);
  CHECK_THAT(run.out, Catch::Contains("without --distributed"));
}

TEST_CASE("char_lm --distributed: ranks draw different windows, average gradients, stay in sync and evaluate alike",
          "[char_lm]") {
  auto dir = fresh_dir("dist_char_lm");
  std::string args =
      "--steps 6 --eval-every 3 --eval-batches 1 --batch-size 4 --seq-len 8 --hidden 8 --embed 4 "
      "--sample-length 10 --threads 1 --corpus " +
      nl_test::small_corpus(dir);
  auto single = nl_test::run_example("char_lm", args + " --out " + (dir / "single").string());
  REQUIRE(single.exit_code == 0);
  auto one = run_mpi(1, "char_lm", "--distributed " + args + " --out " + (dir / "one").string());
  REQUIRE(one.exit_code == 0);
  auto two = run_mpi(2, "char_lm", "--distributed " + args + " --out " + (dir / "two").string());
  REQUIRE(two.exit_code == 0);

  std::vector<double> single_losses = csv_column(dir / "single" / "steps.csv", 2);
  REQUIRE(single_losses.size() == 6);
  // a world of one process is the single-process run, window for window
  CHECK(csv_column(dir / "one" / "steps.csv", 2) == single_losses);
  CHECK(last_json_line(one.out)["sample"] == last_json_line(single.out)["sample"]);
  // two processes: rank 0 draws the single process's windows, rank 1 others, so the
  // mean loss of the very first step (same weights) already differs
  std::vector<double> two_losses = csv_column(dir / "two" / "steps.csv", 2);
  REQUIRE(two_losses.size() == 6);
  CHECK(std::abs(two_losses[0] - single_losses[0]) > 1e-4);

  nlohmann::json j = last_json_line(two.out);
  CHECK(j["processes"] == 2);
  CHECK(j["global_batch"] == 8);
  CHECK(j["diverged"] == false);
  CHECK(j["params_in_sync"] == true);
  CHECK(j["eval_in_sync"] == true);
  CHECK(j["total"]["gradient_sync"]["calls"] == 6);
  CHECK(j["total"]["gradient_sync"]["bytes"].get<int64_t>() > 0);
  CHECK(j["total"]["norm_sync"]["bytes"] == 0);  // LN-LSTM: nothing to synchronize
  check_step_adds_up(j);
  CHECK_THAT(two.out, Catch::Contains("ln-lstm: 2 processes x batch 4 = global batch 8: per step ") &&
                          Catch::Contains("+ norm sync 0.00 (0 B) + other ") && Catch::Contains("ranks in sync: yes"));
  CHECK_THAT(one.out, Catch::Contains("ln-lstm: 1 process x batch 4 = global batch 4: per step "));
  CHECK(j["sample"].get<std::string>().size() == 4 + 10);
}

TEST_CASE("char_lm --distributed --cell bn-lstm: local per-rank statistics, evaluation with rank 0's",
          "[char_lm_bn_lstm]") {
  auto dir = fresh_dir("dist_char_lm_bn");
  auto run =
      run_mpi(2, "char_lm",
              "--distributed --cell bn-lstm --steps 4 --eval-every 2 --eval-batches 1 --batch-size 4 --seq-len 8 "
              "--hidden 8 --embed 4 --sample-length 0 --corpus " +
                  nl_test::small_corpus(dir) + " --out " + dir.string());
  REQUIRE(run.exit_code == 0);
  nlohmann::json j = last_json_line(run.out);
  CHECK(j["cell"] == "bn-lstm");
  CHECK_THAT(run.out,
             Catch::Contains("bn-lstm (local per-step BN statistics): 2 processes x batch 4 = global batch 8"));
  CHECK(j["params_in_sync"] == true);
  CHECK(j["eval_in_sync"] == true);
  CHECK(j["total"]["norm_sync"]["bytes"] == 0);
}
