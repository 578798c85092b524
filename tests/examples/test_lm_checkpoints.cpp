// Checkpoints of the language-model programs (examples/common/lm_checkpoints.h)
// on real runs: killed with SIGKILL at random steps — once in the middle of a
// checkpoint write — and resumed, a run ends with the uninterrupted run's
// steps.csv, eval.csv (but its timings) and parameters, byte for byte; SIGINT
// writes a checkpoint, says how to resume and exits non-zero; a checkpoint of
// a different model, cell or data set, and an empty directory, are refused.
// (Under --distributed: tests/dist/examples/test_dist_lm_checkpoints.cpp.)
#include <signal.h>

#include <filesystem>
#include <random>
#include <regex>

#include "normlab.h"
#include "tests/examples/checkpoint_test_helpers.h"
#include "tests/examples/example_test_helpers.h"

namespace fs = std::filesystem;

namespace {

// A tiny char_lm run on two threads: 40 steps in well under a second.
std::string char_lm_args(const std::string& corpus) {
  return "--threads 2 --cell ln-lstm --hidden 16 --embed 8 --steps 40 --batch-size 4 --seq-len 16 --eval-every 10 "
         "--eval-batches 1 --sample-length 20 --corpus " +
         corpus;
}

// eval.csv without its last two columns (seconds, cpu_seconds: timings).
std::string eval_without_timings(const fs::path& path) {
  return std::regex_replace(nl_test::read_file(path), std::regex(",[^,\n]*,[^,\n]*\n"), "\n");
}

}  // namespace

TEST_CASE(
    "lm checkpoints: char_lm on two threads killed three times (once mid-write) and resumed equals the uninterrupted "
    "run",
    "[examples][lm_checkpoints]") {
  auto dir = nl_test::fresh_dir("lm_checkpoints_kill");
  std::string corpus = nl_test::small_corpus(dir), args = char_lm_args(corpus);
  // the uninterrupted run, with checkpoints (its last one has the final parameters) and without: same CSVs
  auto plain = nl_test::run_example("char_lm", args + " --out " + (dir / "plain").string());
  REQUIRE(plain.exit_code == 0);
  std::string ref = (dir / "ref").string();
  auto straight = nl_test::run_example(
      "char_lm", args + " --out " + ref + " --checkpoint-dir " + ref + "/ckpt --checkpoint-every 5");
  REQUIRE(straight.exit_code == 0);
  CHECK(nl_test::read_file(dir / "plain/steps.csv") == nl_test::read_file(dir / "ref/steps.csv"));
  CHECK(nl_test::last_json_line(plain.out)["sample"] == nl_test::last_json_line(straight.out)["sample"]);

  // each checkpoint write takes 100 ms longer, so a run is killed inside one now and then
  fs::path ckpt = dir / "killed/ckpt";
  std::string killed =
      args + " --out " + (dir / "killed").string() + " --checkpoint-dir " + ckpt.string() + " --checkpoint-every 5";
  std::string env = "NORMLAB_TEST_ATOMIC_WRITE_DELAY_MS=100";
  std::random_device device;
  unsigned seed = device();
  INFO("seed of the kill times " << seed);
  std::mt19937 rng(seed);
  // kill 1: some time after step 10's checkpoint; kill 2: while a checkpoint's
  // temporary file exists, before its rename; kill 3: some time after step 25's
  std::vector<std::function<bool()>> kill_when = {[&] { return nl_test::newest_step(ckpt) >= 10; },
                                                  [&] { return nl_test::has_temporary(ckpt); },
                                                  [&] { return nl_test::newest_step(ckpt) >= 25; }};
  for (size_t k = 0; k < kill_when.size(); ++k) {
    INFO("kill " << k + 1);
    pid_t pid =
        nl_test::start_example("char_lm", killed + (k > 0 ? " --resume" : ""), dir / "out.txt", dir / "err.txt", env);
    REQUIRE(nl_test::wait_until(kill_when[k]));
    if (k != 1) std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 60));
    kill(pid, SIGKILL);
    REQUIRE(nl_test::wait_for_exit(pid) == 128 + SIGKILL);
    if (k == 1) CHECK(nl_test::has_temporary(ckpt));  // the half-written file is there
  }
  pid_t pid = nl_test::start_example("char_lm", killed + " --resume", dir / "out.txt", dir / "err.txt", env);
  REQUIRE(nl_test::wait_for_exit(pid) == 0);
  CHECK(nl_test::read_file(dir / "err.txt").find("resuming from") != std::string::npos);
  CHECK_FALSE(nl_test::has_temporary(ckpt));  // cleaned up by the next save

  CHECK(nl_test::read_file(dir / "killed/steps.csv") == nl_test::read_file(dir / "ref/steps.csv"));
  CHECK(eval_without_timings(dir / "killed/eval.csv") == eval_without_timings(dir / "ref/eval.csv"));
  // (the files differ only in the log's timings in the metadata)
  nl_test::require_same_tensors(ckpt / "step_40.safetensors", dir / "ref/ckpt/step_40.safetensors");
  auto ja = nlohmann::json::parse(nl_test::read_file(dir / "ref/results.json"));
  auto jb = nlohmann::json::parse(nl_test::read_file(dir / "killed/results.json"));
  CHECK(ja["train_loss"] == jb["train_loss"]);
  CHECK(ja["val_bpc"] == jb["val_bpc"]);
  CHECK(ja["sample"] == jb["sample"]);
  CHECK(nl_test::newest_step(ckpt) == 40);
  CHECK(nl::train::CheckpointDir(ckpt.string()).list().size() == 2);  // --keep-checkpoints' default
}

TEST_CASE(
    "lm checkpoints: transformer_norm with dropout, on one thread, killed and resumed equals the uninterrupted run",
    "[examples][lm_checkpoints]") {
  auto dir = nl_test::fresh_dir("lm_checkpoints_gpt");
  std::string args =
      "--norm pre --layers 1 --d-model 16 --heads 2 --dropout 0.1 --steps 20 --batch-size 4 "
      "--seq-len 16 --eval-every 10 --eval-batches 1 --sample-length 10 --threads 1 --corpus " +
      nl_test::small_corpus(dir) + " --checkpoint-every 4";
  std::string ref = (dir / "ref").string(), killed = (dir / "killed").string();
  REQUIRE(nl_test::run_example("transformer_norm", args + " --out " + ref + " --checkpoint-dir " + ref + "/ckpt")
              .exit_code == 0);
  std::string run = args + " --out " + killed + " --checkpoint-dir " + killed + "/ckpt";
  pid_t pid = nl_test::start_example("transformer_norm", run, dir / "out.txt", dir / "err.txt",
                                     "NORMLAB_TEST_ATOMIC_WRITE_DELAY_MS=100");
  REQUIRE(nl_test::wait_until([&] { return nl_test::newest_step(dir / "killed/ckpt") >= 8; }));
  kill(pid, SIGKILL);
  REQUIRE(nl_test::wait_for_exit(pid) == 128 + SIGKILL);
  REQUIRE(nl_test::run_example("transformer_norm", run + " --resume").exit_code == 0);
  CHECK(nl_test::read_file(dir / "killed/steps.csv") == nl_test::read_file(dir / "ref/steps.csv"));
  CHECK(eval_without_timings(dir / "killed/eval.csv") == eval_without_timings(dir / "ref/eval.csv"));
  nl_test::require_same_tensors(dir / "killed/ckpt/step_20.safetensors", dir / "ref/ckpt/step_20.safetensors");
}

TEST_CASE("lm checkpoints: SIGINT finishes the step, writes a checkpoint, says how to resume, exits 130",
          "[examples][lm_checkpoints]") {
  auto dir = nl_test::fresh_dir("lm_checkpoints_sigint");
  fs::path ckpt = dir / "ckpt";
  std::string args = char_lm_args(nl_test::small_corpus(dir));
  args = std::regex_replace(args, std::regex("--steps 40"), "--steps 100000");  // far more than it gets to run
  pid_t pid = nl_test::start_example("char_lm", args + " --out " + dir.string() + " --checkpoint-dir " + ckpt.string(),
                                     dir / "out.txt", dir / "err.txt");
  // training has begun once the progress line shows step 10
  REQUIRE(nl_test::wait_until([&] { return nl_test::read_file(dir / "err.txt").find("step") != std::string::npos; }));
  kill(pid, SIGINT);
  CHECK(nl_test::wait_for_exit(pid) == 130);
  std::string err = nl_test::read_file(dir / "err.txt");
  INFO(err);
  std::smatch m;
  REQUIRE(std::regex_search(err, m, std::regex("interrupted by SIGINT after step (\\d+) of 100000: wrote (\\S+)")));
  CHECK(m[2].str() == (ckpt / ("step_" + m[1].str() + ".safetensors")).string());
  CHECK(err.find("run the same command with --resume") != std::string::npos);
  CHECK(nl::train::read_checkpoint(m[2].str()).tensors.at("step").item<int64_t>() == std::stoll(m[1].str()));
  CHECK_FALSE(fs::exists(dir / "steps.csv"));  // the run did not finish: no results yet
}

TEST_CASE(
    "lm checkpoints: a different model, cell or data set, a used directory, an empty one, --compare, and --distributed "
    "from a single process's checkpoint are refused",
    "[examples][lm_checkpoints][errors]") {
  auto dir = nl_test::fresh_dir("lm_checkpoints_refusals");
  std::string corpus = nl_test::small_corpus(dir);
  std::string args =
      std::regex_replace(char_lm_args(corpus), std::regex("--steps 40"), "--steps 10") + " --out " + dir.string();
  std::string ckpt = " --checkpoint-dir " + (dir / "ckpt").string();
  REQUIRE(nl_test::run_example("char_lm", args + ckpt).exit_code == 0);
  std::string file = (dir / "ckpt/step_10.safetensors").string();
  // the run above with `from` replaced by `to`, resumed: refused, the message says `says`
  auto refused = [&](const std::string& from, const std::string& to, const std::string& says) {
    INFO(to);
    auto run =
        nl_test::run_example("char_lm", std::regex_replace(args, std::regex(from), to) + ckpt + " --resume 2>&1");
    INFO(run.out);
    CHECK(run.exit_code == 1);
    CHECK(run.out.find(file + " is a checkpoint of a different run") != std::string::npos);
    CHECK(run.out.find(says) != std::string::npos);
    CHECK(run.out.find("resuming") == std::string::npos);
  };
  refused("--hidden 16", "--hidden 32", "hidden: \"16\" in the checkpoint, \"32\" in this run");
  refused("--cell ln-lstm", "--cell lstm", "cell: \"ln-lstm\" in the checkpoint, \"lstm\" in this run");
  std::string other_corpus = (dir / "other.txt").string();
  std::ofstream(other_corpus) << nl_test::read_file(corpus) << "one more line\n";
  refused("--corpus \\S+", "--corpus " + other_corpus, "corpus_characters:");

  auto again = nl_test::run_example("char_lm", args + ckpt + " 2>&1");  // without --resume
  CHECK(again.exit_code == 1);
  CHECK(again.out.find("already holds checkpoints") != std::string::npos);

  fs::create_directories(dir / "empty");
  std::string out = (dir / "e").string();
  auto empty = nl_test::run_example("char_lm", std::regex_replace(args, std::regex("--out \\S+"), "--out " + out) +
                                                   " --resume --checkpoint-dir " + (dir / "empty").string() + " 2>&1");
  CHECK(empty.exit_code == 1);
  CHECK(empty.out.find("nothing to resume in " + (dir / "empty").string()) != std::string::npos);
  CHECK_FALSE(fs::exists(out + "/steps.csv"));

  auto compare = nl_test::run_example("char_lm", "--compare --checkpoint-dir " + (dir / "c").string() + " 2>&1");
  CHECK(compare.exit_code != 0);
  CHECK(compare.out.find("not with --compare") != std::string::npos);
  // (--distributed in a world of one, without mpirun; the distributed runs themselves:
  // tests/dist/examples/test_dist_lm_checkpoints.cpp)
  auto distributed = nl_test::run_example("char_lm", args + " --distributed" + ckpt + " --resume 2>&1");
  CHECK(distributed.exit_code == 1);
  CHECK(distributed.out.find(file + " is a checkpoint of a different run") != std::string::npos);
  CHECK(distributed.out.find("processes: missing in the checkpoint, \"1\" in this run") != std::string::npos);
}
