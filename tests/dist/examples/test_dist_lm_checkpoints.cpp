// Checkpoints of char_lm --distributed under `mpirun -np 2`
// (examples/common/lm_checkpoints.h): the job killed with SIGKILL at random
// steps — once in the middle of rank 0's checkpoint write — and resumed ends
// with the uninterrupted job's steps.csv (but its times), eval.csv (but its
// timings), results.json and parameters, bit for bit; a signal to one rank
// stops every rank after the same step, and SIGINT to mpirun writes a
// checkpoint and says how to resume; another world size, or no --distributed,
// is refused. ctest runs each TEST_CASE by its tag (tests/dist/CMakeLists.txt).
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "normlab.h"
#include "tests/dist/examples/mpi_job_helpers.h"
#include "tests/examples/checkpoint_test_helpers.h"
#include "tests/examples/example_test_helpers.h"

namespace fs = std::filesystem;

namespace {

using nl_test::csv_without_timings;

// A tiny char_lm run, 1 thread per process: 40 steps in about a second.
std::string char_lm_args(const std::string& corpus, int64_t steps = 40) {
  return fmt::format(
      "--distributed --threads 1 --cell ln-lstm --hidden 16 --embed 8 --steps {} --batch-size 4 --seq-len 16 "
      "--eval-every 10 --eval-batches 1 --sample-length 20 --corpus {}",
      steps, corpus);
}

// `mpirun -np <n> build/bin/char_lm <args>`, stdout captured (stderr with it when args say 2>&1).
nl_test::ExampleRun run_mpi(int processes, const std::string& args) {
  return nl_test::run_mpi_program(processes, "char_lm", args);
}

// `mpirun -np 2 build/bin/char_lm <args>` in the background (nl_test::start_mpi_program).
pid_t start_mpi(const std::string& args, const fs::path& out, const fs::path& err, const std::string& env = "") {
  return nl_test::start_mpi_program("char_lm", args, out, err, env);
}

// Both checkpoints hold the same tensors, byte for byte, and every rank's generator.
void require_same_state(const fs::path& a, const fs::path& b) {
  nl_test::require_same_tensors(a, b);
  nl::train::CheckpointFile fa = nl::train::read_checkpoint(a.string()), fb = nl::train::read_checkpoint(b.string());
  auto ranks_a = nlohmann::json::parse(fa.metadata.at("ranks")),
       ranks_b = nlohmann::json::parse(fb.metadata.at("ranks"));
  REQUIRE(ranks_a.size() == 2);
  for (size_t r = 0; r < 2; ++r) {
    CHECK(ranks_a[r]["generator"] == ranks_b[r]["generator"]);
    CHECK(ranks_a[r]["comm"][0][0] == ranks_b[r]["comm"][0][0]);  // gradient sync calls
    CHECK(ranks_a[r]["comm"][0][1] == ranks_b[r]["comm"][0][1]);  // and bytes
  }
  CHECK(ranks_a[0]["generator"] != ranks_a[1]["generator"]);  // rank 1 draws windows of its own
}

// What a resumed job must share with the uninterrupted one: steps.csv and
// eval.csv but their timings, results.json's numbers and the final state.
void require_same_run(const fs::path& ref, const fs::path& resumed, int64_t steps) {
  CHECK(csv_without_timings(resumed / "steps.csv") == csv_without_timings(ref / "steps.csv"));
  CHECK(csv_without_timings(resumed / "eval.csv") == csv_without_timings(ref / "eval.csv"));
  auto ja = nlohmann::json::parse(nl_test::read_file(ref / "results.json"));
  auto jb = nlohmann::json::parse(nl_test::read_file(resumed / "results.json"));
  for (const char* key : {"train_loss", "val_bpc", "sample", "params_in_sync", "eval_in_sync", "processes"})
    CHECK(ja[key] == jb[key]);
  CHECK(jb["params_in_sync"] == true);
  for (const char* part : {"gradient_sync", "norm_sync", "other_comm"}) {
    INFO(part);
    CHECK(ja["total"][part]["calls"] == jb["total"][part]["calls"]);
    CHECK(ja["total"][part]["bytes"] == jb["total"][part]["bytes"]);
  }
  CHECK(jb["total"]["steps"] == steps);
  std::string last = fmt::format("ckpt/step_{}.safetensors", steps);
  require_same_state(ref / last, resumed / last);
}

}  // namespace

TEST_CASE(
    "char_lm --distributed checkpoints: the job killed three times (once mid-write) and resumed equals the "
    "uninterrupted job",
    "[char_lm_checkpoints_kill]") {
  auto dir = nl_test::fresh_dir("dist_lm_checkpoints_kill");
  std::string args = char_lm_args(nl_test::small_corpus(dir));
  // the uninterrupted job without checkpoints and with them: the same CSVs but
  // the times (the checkpoints' collectives are not in the steps' counts)
  REQUIRE(run_mpi(2, args + " --out " + (dir / "plain").string()).exit_code == 0);
  std::string ref = (dir / "ref").string();
  REQUIRE(run_mpi(2, args + " --out " + ref + " --checkpoint-dir " + ref + "/ckpt --checkpoint-every 5").exit_code ==
          0);
  CHECK(csv_without_timings(dir / "plain/steps.csv") == csv_without_timings(dir / "ref/steps.csv"));
  CHECK(csv_without_timings(dir / "plain/eval.csv") == csv_without_timings(dir / "ref/eval.csv"));

  fs::path ckpt = dir / "killed/ckpt";
  nl_test::kill_and_resume_job(
      "char_lm",
      args + " --out " + (dir / "killed").string() + " --checkpoint-dir " + ckpt.string() + " --checkpoint-every 5",
      ckpt, dir, 10, 25);
  require_same_run(dir / "ref", dir / "killed", 40);
  CHECK(nl::train::CheckpointDir(ckpt.string()).list().size() == 2);  // --keep-checkpoints' default
}

TEST_CASE("char_lm --distributed checkpoints: SIGTERM to one rank stops both after the same step",
          "[char_lm_checkpoints_signals]") {
  auto dir = nl_test::fresh_dir("dist_lm_checkpoints_signals");
  std::string corpus = nl_test::small_corpus(dir), args = char_lm_args(corpus);
  std::string ref = (dir / "ref").string(), stopped = (dir / "stopped").string();
  REQUIRE(run_mpi(2, args + " --out " + ref + " --checkpoint-dir " + ref + "/ckpt --checkpoint-every 10").exit_code ==
          0);

  // SIGTERM to rank 1 alone, after step 5's checkpoint (one every 5 steps, 100 ms each: the run is far from done)
  std::string run = args + " --out " + stopped + " --checkpoint-dir " + stopped + "/ckpt --checkpoint-every 5";
  nl_test::stop_rank1_with_sigterm("char_lm", run, dir / "stopped/ckpt", dir, 5, 40);
  CHECK_FALSE(fs::exists(dir / "stopped/steps.csv"));
  // rank 0 did not get the signal but stopped after the same step: the resumed job is the uninterrupted one
  REQUIRE(run_mpi(2, run + " --resume").exit_code == 0);
  require_same_run(dir / "ref", dir / "stopped", 40);
}

// mpirun stops reading the ranks' output at the SIGINT, seconds before its
// SIGTERM: this run (thousands of steps a second) once filled rank 0's stderr
// pipe in that time, and rank 0 waited on it instead of writing (fixed by
// Progress's kMinInterval and InterruptHandler's non-blocking output).
TEST_CASE("char_lm --distributed checkpoints: SIGINT to mpirun writes a checkpoint and says how to resume",
          "[char_lm_checkpoints_signals]") {
  auto dir = nl_test::fresh_dir("dist_lm_checkpoints_sigint");
  std::string corpus = nl_test::small_corpus(dir);

  // SIGINT to mpirun (Ctrl-C): Open MPI 4 sends every rank SIGTERM after
  // odls_base_sigkill_timeout seconds (default 1; 3 here, for a loaded machine)
  // and SIGKILL as long again later; the ranks checkpoint in between
  fs::path ckpt = dir / "long/ckpt";
  pid_t mpirun = start_mpi(
      char_lm_args(corpus, 100000) + " --out " + (dir / "long").string() + " --checkpoint-dir " + ckpt.string(),
      dir / "long_out.txt", dir / "long_err.txt", "OMPI_MCA_odls_base_sigkill_timeout=3");
  // training has begun once rank 0's progress line shows step 10
  REQUIRE(
      nl_test::wait_until([&] { return nl_test::read_file(dir / "long_err.txt").find("step") != std::string::npos; }));
  kill(mpirun, SIGINT);
  CHECK(nl_test::wait_for_exit(mpirun) != 0);  // Open MPI's mpirun exits 1 after it forwarded a signal
  std::string err = nl_test::read_file(dir / "long_err.txt");
  INFO(err);
  std::smatch m;
  REQUIRE(std::regex_search(err, m, std::regex("interrupted by SIGTERM after step (\\d+) of 100000: wrote (\\S+)")));
  fs::path file = ckpt / ("step_" + m[1].str() + ".safetensors");
  CHECK(m[2].str() == file.string());
  CHECK(nl_test::newest_step(ckpt) == std::stoll(m[1].str()));
  CHECK(nlohmann::json::parse(nl::train::read_checkpoint(file.string()).metadata.at("ranks")).size() == 2);
}

TEST_CASE(
    "char_lm --distributed checkpoints: another world size, no --distributed, a used directory and an empty one "
    "are refused",
    "[char_lm_checkpoints_errors]") {
  auto dir = nl_test::fresh_dir("dist_lm_checkpoints_errors");
  std::string corpus = nl_test::small_corpus(dir);
  std::string args = char_lm_args(corpus, 10) + " --out " + dir.string(),
              ckpt = " --checkpoint-dir " + (dir / "ckpt").string();
  REQUIRE(run_mpi(2, args + ckpt).exit_code == 0);
  std::string file = (dir / "ckpt/step_10.safetensors").string();
  // refused (a non-zero exit status), the message says `says`, once, and no rank started training
  auto refused = [&](const nl_test::ExampleRun& run, const std::string& says) {
    INFO(run.out);
    CHECK(run.exit_code != 0);
    CHECK_THAT(run.out, Catch::Contains(says));
    CHECK_THAT(run.out, !Catch::Contains("resuming"));
    CHECK_THAT(run.out, !Catch::Contains("rank 1: error"));  // rank 0 decides, once
  };
  refused(run_mpi(3, args + ckpt + " --resume 2>&1"),
          file +
              " is a checkpoint of a different run; it differs in\n  processes: \"2\" in the checkpoint, \"3\" in "
              "this run");
  refused(run_mpi(1, args + ckpt + " --resume 2>&1"), "processes: \"2\" in the checkpoint, \"1\" in this run");
  std::string single = std::regex_replace(args, std::regex("--distributed "), "");
  refused(nl_test::run_example("char_lm", single + ckpt + " --resume 2>&1"),
          file +
              " is a checkpoint of a --distributed run of 2 processes: resume it with --distributed under mpirun "
              "-np 2");
  refused(run_mpi(2, args + ckpt + " 2>&1"),
          "rank 0: error: " + (dir / "ckpt").string() + " already holds checkpoints");
  fs::create_directories(dir / "empty");
  refused(run_mpi(2, args + " --checkpoint-dir " + (dir / "empty").string() + " --resume 2>&1"),
          "nothing to resume in " + (dir / "empty").string());
  // and a single process's checkpoint under --distributed
  std::string one = (dir / "one").string();
  REQUIRE(nl_test::run_example("char_lm", single + " --checkpoint-dir " + one).exit_code == 0);
  refused(run_mpi(2, args + " --checkpoint-dir " + one + " --resume 2>&1"),
          "processes: missing in the checkpoint, \"2\" in this run");
}
