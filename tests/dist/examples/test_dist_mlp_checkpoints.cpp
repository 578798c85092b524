// Checkpoints of mlp_norm --distributed under `mpirun -np 2`
// (examples/common/job_checkpoints.h): the job killed with SIGKILL at random
// steps — once in the middle of rank 0's checkpoint write — and resumed ends
// with the uninterrupted job's steps.csv (but its times), result.json (but the
// seconds) and parameters, bit for bit; SIGTERM to one rank stops both after
// the same step and the resumed job is the uninterrupted one; another world
// size, no --distributed, another --sync-bn, a used directory and a single
// process's checkpoint are refused. ctest runs each TEST_CASE by its tag
// (tests/dist/CMakeLists.txt).
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "normlab.h"
#include "tests/data/data_test_helpers.h"
#include "tests/dist/examples/mpi_job_helpers.h"
#include "tests/examples/checkpoint_test_helpers.h"
#include "tests/examples/example_test_helpers.h"

namespace fs = std::filesystem;

namespace {

// A tiny MNIST-format set (2x3 images, 3 classes) of 256 training and 64 test
// samples, and mlp_norm on it with SyncBatchNorm and Adam, 1 thread per
// process: 2 epochs of 32 steps of 2 x 4 samples.
std::string mlp_norm_args(const fs::path& dir, int epochs = 2) {
  fs::create_directories(dir / "data");
  data_test::write_tiny_mnist((dir / "data").string(), 256, 64);
  return fmt::format(
      "--distributed --threads 1 --data {} --norm batch --sync-bn --batch-size 4 --epochs {} --hidden 8 --optim adam "
      "--lr 0.01 --seed 3",
      (dir / "data").string(), epochs);
}

// What a resumed job must share with the uninterrupted one: steps.csv but its
// times, result.json but the seconds, and the final state (tensors byte for
// byte, every rank's generator and gradient traffic).
void require_same_run(const fs::path& ref, const fs::path& resumed, int64_t steps) {
  CHECK(nl_test::csv_without_timings(resumed / "steps.csv") == nl_test::csv_without_timings(ref / "steps.csv"));
  auto ja = nlohmann::json::parse(nl_test::read_file(ref / "result.json"));
  auto jb = nlohmann::json::parse(nl_test::read_file(resumed / "result.json"));
  for (const char* key : {"test_acc", "test_loss", "train_loss", "steps", "params_in_sync", "buffers_in_sync",
                          "processes", "global_batch"})
    CHECK(ja[key] == jb[key]);
  CHECK(jb["params_in_sync"] == true);
  CHECK(jb["buffers_in_sync"] == true);  // SyncBatchNorm: the running statistics too
  for (const char* part : {"gradient_sync", "norm_sync", "other_comm"}) {
    INFO(part);
    CHECK(ja["total"][part]["calls"] == jb["total"][part]["calls"]);
    CHECK(ja["total"][part]["bytes"] == jb["total"][part]["bytes"]);
  }
  CHECK(jb["total"]["steps"] == steps);
  std::string last = fmt::format("ckpt/step_{}.safetensors", steps);
  nl_test::require_same_tensors(ref / last, resumed / last);
  auto ranks_a = nlohmann::json::parse(nl::train::read_checkpoint((ref / last).string()).metadata.at("ranks"));
  auto ranks_b = nlohmann::json::parse(nl::train::read_checkpoint((resumed / last).string()).metadata.at("ranks"));
  REQUIRE(ranks_a.size() == 2);
  for (size_t r = 0; r < 2; ++r) {
    CHECK(ranks_a[r]["generator"] == ranks_b[r]["generator"]);
    CHECK(ranks_a[r]["steps"][0] == ranks_b[r]["steps"][0]);
    CHECK(ranks_a[r]["comm"][0][0] == ranks_b[r]["comm"][0][0]);  // gradient sync calls
    CHECK(ranks_a[r]["comm"][1][1] == ranks_b[r]["comm"][1][1]);  // normalization bytes
  }
}

}  // namespace

TEST_CASE(
    "mlp_norm --distributed checkpoints: the job killed three times (once mid-write) and resumed equals the "
    "uninterrupted job",
    "[mlp_norm_checkpoints_kill]") {
  auto dir = nl_test::fresh_dir("dist_mlp_checkpoints_kill");
  std::string args = mlp_norm_args(dir);
  // the uninterrupted job without checkpoints and with them: the same steps.csv but the times
  REQUIRE(nl_test::run_mpi_program(2, "mlp_norm", args + " --out " + (dir / "plain").string()).exit_code == 0);
  std::string ref = (dir / "ref").string();
  REQUIRE(nl_test::run_mpi_program(2, "mlp_norm",
                                   args + " --out " + ref + " --checkpoint-dir " + ref + "/ckpt --checkpoint-every 4")
              .exit_code == 0);
  CHECK(nl_test::csv_without_timings(dir / "plain/steps.csv") == nl_test::csv_without_timings(dir / "ref/steps.csv"));

  fs::path ckpt = dir / "killed/ckpt";
  nl_test::kill_and_resume_job(
      "mlp_norm",
      args + " --out " + (dir / "killed").string() + " --checkpoint-dir " + ckpt.string() + " --checkpoint-every 4",
      ckpt, dir, 8, 40);
  require_same_run(dir / "ref", dir / "killed", 64);
  CHECK(nl::train::CheckpointDir(ckpt.string()).list().size() == 2);  // --keep-checkpoints' default
}

TEST_CASE(
    "mlp_norm --distributed checkpoints: SIGTERM to one rank stops both after the same step, and the resumed job "
    "is the uninterrupted one",
    "[mlp_norm_checkpoints_signal]") {
  auto dir = nl_test::fresh_dir("dist_mlp_checkpoints_signal");
  std::string args = mlp_norm_args(dir), ref = (dir / "ref").string(), stopped = (dir / "stopped").string();
  REQUIRE(nl_test::run_mpi_program(2, "mlp_norm", args + " --out " + ref + " --checkpoint-dir " + ref + "/ckpt")
              .exit_code == 0);
  // SIGTERM to rank 1 alone, after step 8's checkpoint (one every 4 steps, 100 ms each: the job is far from done)
  std::string run = args + " --out " + stopped + " --checkpoint-dir " + stopped + "/ckpt --checkpoint-every 4";
  nl_test::stop_rank1_with_sigterm("mlp_norm", run, dir / "stopped/ckpt", dir, 8, 64);
  CHECK_FALSE(fs::exists(dir / "stopped/steps.csv"));
  // rank 0 did not get the signal but stopped after the same step (its checkpoints: every 4 steps and this one)
  REQUIRE(nl_test::run_mpi_program(2, "mlp_norm", run + " --resume").exit_code == 0);
  require_same_run(dir / "ref", dir / "stopped", 64);
}

TEST_CASE(
    "mlp_norm --distributed checkpoints: another world size, no --distributed, another --sync-bn, a used directory "
    "and a single process's checkpoint are refused",
    "[mlp_norm_checkpoints_errors]") {
  auto dir = nl_test::fresh_dir("dist_mlp_checkpoints_errors");
  std::string args = mlp_norm_args(dir, 1) + " --out " + dir.string(),
              ckpt = " --checkpoint-dir " + (dir / "ckpt").string();
  REQUIRE(nl_test::run_mpi_program(2, "mlp_norm", args + ckpt).exit_code == 0);
  std::string file = (dir / "ckpt/step_32.safetensors").string();
  // refused (a non-zero exit status), the message says `says`, once, and no rank started training
  auto refused = [&](const nl_test::ExampleRun& run, const std::string& says) {
    INFO(run.out);
    CHECK(run.exit_code != 0);
    CHECK_THAT(run.out, Catch::Contains(says));
    CHECK_THAT(run.out, !Catch::Contains("resuming"));
    CHECK_THAT(run.out, !Catch::Contains("rank 1: error"));  // rank 0 decides, once
  };
  refused(nl_test::run_mpi_program(3, "mlp_norm", args + ckpt + " --resume 2>&1"),
          file +
              " is a checkpoint of a different run; it differs in\n  processes: \"2\" in the checkpoint, \"3\" in "
              "this run");
  refused(nl_test::run_mpi_program(2, "mlp_norm",
                                   std::regex_replace(args, std::regex("--sync-bn "), "") + ckpt + " --resume 2>&1"),
          "sync_bn: \"true\" in the checkpoint, \"false\" in this run");
  std::string single = std::regex_replace(args, std::regex("--distributed (.*)--sync-bn "), "$1");
  refused(nl_test::run_example("mlp_norm", single + ckpt + " --resume 2>&1"),
          file +
              " is a checkpoint of a --distributed run of 2 processes: resume it with --distributed under mpirun "
              "-np 2");
  refused(nl_test::run_mpi_program(2, "mlp_norm", args + ckpt + " 2>&1"),
          "rank 0: error: " + (dir / "ckpt").string() + " already holds checkpoints");
  // and a single process's checkpoint under --distributed
  std::string one = (dir / "one").string();
  REQUIRE(nl_test::run_example("mlp_norm", single + " --checkpoint-dir " + one + " 2>&1").exit_code == 0);
  refused(nl_test::run_mpi_program(2, "mlp_norm", args + " --checkpoint-dir " + one + " --resume 2>&1"),
          "processes: missing in the checkpoint, \"2\" in this run");
}
