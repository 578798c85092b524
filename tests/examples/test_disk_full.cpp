// A training program whose disk fills up while it writes a checkpoint: the
// write fails with an error naming the file and the cause, nothing
// half-written is left behind, the previous checkpoint still loads, and a run
// resumed from it once there is space again ends exactly as a run that never
// stopped. "Full" is a file-size limit (`ulimit -f`, RLIMIT_FSIZE: a write
// past it fails with EFBIG, as one on a full disk fails with ENOSPC) rather
// than a small tmpfs, which would need the privilege to mount one.
#include <signal.h>

#include <filesystem>
#include <set>
#include <string>

#include "normlab.h"
#include "tests/examples/checkpoint_test_helpers.h"
#include "tests/examples/example_test_helpers.h"

namespace fs = std::filesystem;

TEST_CASE("disk full: char_lm's failed checkpoint write is a clear error and it resumes from the one before",
          "[examples][lm_checkpoints][errors]") {
  auto dir = nl_test::fresh_dir("disk_full");
  std::string args =
      "--threads 1 --cell lstm --hidden 16 --embed 8 --steps 30 --batch-size 4 --seq-len 16 --eval-every 10 "
      "--eval-batches 1 --sample-length 20 --checkpoint-every 10 --corpus " +
      nl_test::small_corpus(dir);
  std::string ref = (dir / "ref").string(), run = args + " --out " + (dir / "run").string();
  fs::path ckpt = dir / "run/ckpt";
  run += " --checkpoint-dir " + ckpt.string();
  REQUIRE(nl_test::run_example("char_lm", args + " --out " + ref + " --checkpoint-dir " + ref + "/ckpt").exit_code ==
          0);

  // a run killed after its step 10 checkpoint (each write held 500 ms, so it cannot finish first)
  pid_t pid = nl_test::start_example("char_lm", run, dir / "out.txt", dir / "err.txt",
                                     "NORMLAB_TEST_ATOMIC_WRITE_DELAY_MS=500");
  nl::train::CheckpointDir checkpoints(ckpt.string());
  REQUIRE(nl_test::wait_until([&] { return !checkpoints.list().empty(); }));
  kill(pid, SIGKILL);
  REQUIRE(nl_test::wait_for_exit(pid) == 128 + SIGKILL);
  int64_t saved = checkpoints.list().back().step;
  auto size = fs::file_size(checkpoints.path(saved));
  // the files there now (the killed run may have left a temporary file of its own)
  auto files = [&] {
    std::set<std::string> names;
    for (auto& entry : fs::directory_iterator(ckpt)) names.insert(entry.path().filename().string());
    return names;
  };
  std::set<std::string> before = files();

  // resumed with room for half a checkpoint: its next write fails (SIGXFSZ,
  // which would end the process there, ignored: the write returns EFBIG;
  // stderr into the pipe, which no file-size limit applies to)
  auto full = nl_test::run_command("trap '' XFSZ; ulimit -f " + std::to_string(size / 2 / 512) + "; exec " +
                                   NORMLAB_BIN_DIR + "/char_lm " + run + " --resume 2>&1");
  INFO(full.out);
  CHECK(full.exit_code == 1);
  CHECK(full.out.find("write " + checkpoints.path(saved + 10)) != std::string::npos);
  CHECK(full.out.find("File too large") != std::string::npos);
  REQUIRE(checkpoints.list().back().step == saved);  // the older checkpoint is still there
  CHECK(files() == before);                          // the failed write left nothing behind
  CHECK(nl::train::read_checkpoint(checkpoints.path(saved)).tensors.at("step").item<int64_t>() == saved);

  // with space again, --resume continues from it and ends as the uninterrupted run
  REQUIRE(nl_test::run_example("char_lm", run + " --resume").exit_code == 0);
  CHECK(nl_test::read_file(dir / "run/steps.csv") == nl_test::read_file(dir / "ref/steps.csv"));
  nl_test::require_same_tensors(ckpt / "step_30.safetensors", dir / "ref/ckpt/step_30.safetensors");
}
