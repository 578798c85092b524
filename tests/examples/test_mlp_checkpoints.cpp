// Checkpoints of mlp_norm and train_mlp (train/run_checkpoints.h,
// examples/common/job_checkpoints.h) on real
// runs: killed with SIGKILL at random steps — once in the middle of a
// checkpoint write — and resumed, a run ends with the uninterrupted run's
// steps.csv, results (but the seconds) and parameters, byte for byte, on one
// thread (mlp_norm) and two (train_mlp, across its sequence of three runs);
// SIGINT and SIGTERM write a checkpoint, say how to resume and exit with
// 128 + signal; a checkpoint of another model, norm, optimizer or data set,
// a used directory and an empty one are refused, a damaged newest checkpoint
// is skipped with a warning.
#include <signal.h>

#include <filesystem>
#include <random>
#include <regex>

#include "normlab.h"
#include "tests/data/data_test_helpers.h"
#include "tests/examples/checkpoint_test_helpers.h"
#include "tests/examples/example_test_helpers.h"

namespace fs = std::filesystem;

namespace {

// A tiny MNIST-format set (2x3 images, 3 classes) of 256 training and 64 test samples.
std::string tiny_data(const fs::path& dir) {
  fs::create_directories(dir / "data");
  data_test::write_tiny_mnist((dir / "data").string(), 256, 64);
  return (dir / "data").string();
}

// mlp_norm with Adam on one thread: 2 epochs of 32 steps, a few ms in all.
std::string mlp_norm_args(const std::string& data) {
  return "--data " + data +
         " --norm batch --batch-size 8 --epochs 2 --hidden 8 --optim adam --lr 0.01 --seed 3 --threads 1";
}

// train_mlp, all three norms, SGD with momentum, on two threads: 3 x 30 steps.
const std::string kTrainMlpArgs = "--depth 3 --hidden 16 --steps 30 --batch-size 32 --points 100 --threads 2 --seed 2";

// The JSON lines of out (train_mlp prints one per run) without "seconds".
std::vector<nlohmann::json> json_lines_without_seconds(const std::string& out) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line.front() == '{') {
      nlohmann::json j = nlohmann::json::parse(line);
      j.erase("seconds");
      lines.push_back(j);
    }
  return lines;
}

// Starts `program args`, SIGKILLs it once kill_when[k]() holds (after a
// random 0-40 ms unless k is mid_write: then at once, inside the write), for
// each k; the runs after the first with --resume. Then resumes it to the end
// and returns its stdout. Every atomic write — checkpoints and result files —
// takes delay_ms longer: time to kill inside one.
std::string kill_and_resume(const std::string& program, const std::string& args, const fs::path& dir,
                            const std::vector<std::function<bool()>>& kill_when, size_t mid_write, int delay_ms = 50) {
  std::string env = "NORMLAB_TEST_ATOMIC_WRITE_DELAY_MS=" + std::to_string(delay_ms);
  std::random_device device;
  unsigned seed = device();
  INFO("seed of the kill times " << seed);
  std::mt19937 rng(seed);
  for (size_t k = 0; k < kill_when.size(); ++k) {
    INFO("kill " << k + 1);
    pid_t pid =
        nl_test::start_example(program, args + (k > 0 ? " --resume" : ""), dir / "out.txt", dir / "err.txt", env);
    REQUIRE(nl_test::wait_until(kill_when[k]));
    if (k != mid_write) std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 40));
    kill(pid, SIGKILL);
    REQUIRE(nl_test::wait_for_exit(pid) == 128 + SIGKILL);
  }
  pid_t pid = nl_test::start_example(program, args + " --resume", dir / "out.txt", dir / "err.txt", env);
  REQUIRE(nl_test::wait_for_exit(pid) == 0);
  CHECK(nl_test::read_file(dir / "err.txt").find("resuming from") != std::string::npos);
  return nl_test::read_file(dir / "out.txt");
}

}  // namespace

TEST_CASE(
    "mlp checkpoints: mlp_norm on one thread killed three times (once mid-write) and resumed equals the "
    "uninterrupted run",
    "[examples][mlp_checkpoints]") {
  auto dir = nl_test::fresh_dir("mlp_checkpoints_mlp_norm_kill");
  std::string args = mlp_norm_args(tiny_data(dir));
  // the uninterrupted run, without checkpoints and with (its last one has the final parameters): the same files
  REQUIRE(nl_test::run_example("mlp_norm", args + " --out " + (dir / "plain").string() + " 2>/dev/null").exit_code ==
          0);
  std::string ref = (dir / "ref").string();
  REQUIRE(nl_test::run_example("mlp_norm", args + " --out " + ref + " --checkpoint-dir " + ref +
                                               "/ckpt --checkpoint-every 4 2>/dev/null")
              .exit_code == 0);
  std::string ref_steps = nl_test::read_file(dir / "ref/steps.csv");
  CHECK(nl_test::read_file(dir / "plain/steps.csv") == ref_steps);

  fs::path ckpt = dir / "killed/ckpt";
  std::string killed =
      args + " --out " + (dir / "killed").string() + " --checkpoint-dir " + ckpt.string() + " --checkpoint-every 4";
  // kill 1 in epoch 0; kill 2 inside a write; kill 3 in epoch 1 (steps 33-64): its shuffle is recomputed
  std::string out =
      kill_and_resume("mlp_norm", killed, dir,
                      {[&] { return nl_test::newest_step(ckpt) >= 12; }, [&] { return nl_test::has_temporary(ckpt); },
                       [&] { return nl_test::newest_step(ckpt) >= 40; }},
                      1);
  CHECK_FALSE(nl_test::has_temporary(ckpt));  // cleaned up by the next save
  CHECK(nl_test::read_file(dir / "killed/steps.csv") == ref_steps);
  nl_test::require_same_tensors(ckpt / "step_64.safetensors", dir / "ref/ckpt/step_64.safetensors");
  auto a = nlohmann::json::parse(nl_test::read_file(dir / "ref/result.json"));
  auto b = nlohmann::json::parse(nl_test::read_file(dir / "killed/result.json"));
  a.erase("seconds");
  b.erase("seconds");
  CHECK(a == b);
  CHECK(nl::train::CheckpointDir(ckpt.string()).list().size() == 2);  // --keep-checkpoints' default
}

TEST_CASE(
    "mlp checkpoints: train_mlp on two threads killed in each of its three runs and resumed equals the "
    "uninterrupted invocation",
    "[examples][mlp_checkpoints]") {
  auto dir = nl_test::fresh_dir("mlp_checkpoints_train_mlp_kill");
  auto plain = nl_test::run_example("train_mlp", kTrainMlpArgs + " 2>/dev/null");
  REQUIRE(plain.exit_code == 0);
  fs::path ref = dir / "ref", ckpt = dir / "killed";
  auto straight = nl_test::run_example(
      "train_mlp", kTrainMlpArgs + " --checkpoint-dir " + ref.string() + " --checkpoint-every 5 2>/dev/null");
  REQUIRE(straight.exit_code == 0);
  std::vector<nlohmann::json> expected = json_lines_without_seconds(plain.out);
  REQUIRE(expected.size() == 3);
  CHECK(json_lines_without_seconds(straight.out) == expected);

  std::string killed = kTrainMlpArgs + " --checkpoint-dir " + ckpt.string() + " --checkpoint-every 5";
  // kill 1 in run "none", kill 2 inside a write of run "layer", kill 3 in run "batch"
  std::string out = kill_and_resume("train_mlp", killed, dir,
                                    {[&] { return nl_test::newest_step(ckpt / "none") >= 10; },
                                     [&] { return nl_test::has_temporary(ckpt / "layer"); },
                                     [&] { return nl_test::newest_step(ckpt / "batch") >= 10; }},
                                    1);
  CHECK(json_lines_without_seconds(out) == expected);
  for (const char* norm : {"none", "layer", "batch"}) {
    INFO(norm);
    nl_test::require_same_tensors(ckpt / norm / "step_30.safetensors", ref / norm / "step_30.safetensors");
    CHECK_FALSE(nl_test::has_temporary(ckpt / norm));
  }
}

TEST_CASE(
    "mlp checkpoints: SIGINT (mlp_norm) and SIGTERM (train_mlp) finish the step, write a checkpoint, say how "
    "to resume, exit 128 + signal",
    "[examples][mlp_checkpoints]") {
  auto dir = nl_test::fresh_dir("mlp_checkpoints_signals");
  std::string data = tiny_data(dir);
  struct Case {
    std::string program, args;
    int signal;
    fs::path ckpt;
  };
  std::vector<Case> cases = {
      {"mlp_norm", "--data " + data + " --batch-size 1 --epochs 1000 --hidden 8 --threads 1 --out " + dir.string(),
       SIGINT, dir / "ckpt"},
      {"train_mlp", "--norm layer --depth 2 --hidden 8 --steps 10000000 --points 100 --threads 1", SIGTERM,
       dir / "ckpt2"}};
  for (const Case& c : cases) {
    INFO(c.program);
    fs::path err_file = dir / (c.program + ".err");  // its own: the other's says "step" already
    pid_t pid =
        nl_test::start_example(c.program, c.args + " --checkpoint-dir " + c.ckpt.string(), dir / "out.txt", err_file);
    // training has begun once the progress line shows a step
    REQUIRE(nl_test::wait_until([&] { return nl_test::read_file(err_file).find("step") != std::string::npos; }));
    kill(pid, c.signal);
    CHECK(nl_test::wait_for_exit(pid) == 128 + c.signal);
    std::string err = nl_test::read_file(err_file);
    INFO(err);
    std::smatch m;
    REQUIRE(std::regex_search(
        err, m,
        std::regex("interrupted by " + nl::train::signal_name(c.signal) + " after step (\\d+) of \\d+: wrote (\\S+)")));
    fs::path written = c.program == "train_mlp" ? c.ckpt / "layer" : c.ckpt;
    CHECK(m[2].str() == (written / ("step_" + m[1].str() + ".safetensors")).string());
    CHECK(err.find("run the same command with --resume") != std::string::npos);
    CHECK(nl::train::read_checkpoint(m[2].str()).tensors.at("step").item<int64_t>() == std::stoll(m[1].str()));
  }
  CHECK_FALSE(fs::exists(dir / "steps.csv"));  // mlp_norm's run did not finish: no results yet
}

TEST_CASE(
    "mlp checkpoints: mlp_norm refuses another model, norm, optimizer or data set, a used directory and an empty "
    "one",
    "[examples][mlp_checkpoints][errors]") {
  auto dir = nl_test::fresh_dir("mlp_checkpoints_mlp_norm_refusals");
  std::string data = tiny_data(dir);
  std::string args =
      std::regex_replace(mlp_norm_args(data), std::regex("--batch-size 8 --epochs 2"), "--batch-size 64 --epochs 1") +
      " --out " + (dir / "out").string();
  std::string ckpt = " --checkpoint-dir " + (dir / "ckpt").string();
  REQUIRE(nl_test::run_example("mlp_norm", args + ckpt + " 2>/dev/null").exit_code == 0);
  std::string file = (dir / "ckpt/step_4.safetensors").string();
  // the run above with `from` replaced by `to`, resumed: refused, the message says `says`
  auto refused = [&](const std::string& from, const std::string& to, const std::string& says) {
    INFO(to);
    auto run =
        nl_test::run_example("mlp_norm", std::regex_replace(args, std::regex(from), to) + ckpt + " --resume 2>&1");
    INFO(run.out);
    CHECK(run.exit_code == 1);
    CHECK(run.out.find(file + " is a checkpoint of a different run") != std::string::npos);
    CHECK(run.out.find(says) != std::string::npos);
    CHECK(run.out.find("resuming") == std::string::npos);
  };
  refused("--hidden 8", "--hidden 16", "model: \"MLP 6-8-8-3\" in the checkpoint, \"MLP 6-16-16-3\" in this run");
  refused("--norm batch", "--norm layer", "norm: \"batch\" in the checkpoint, \"layer\" in this run");
  refused("--optim adam", "--optim sgd", "optimizer: \"adam\" in the checkpoint, \"sgd\" in this run");
  refused("--data \\S+", "--data " + data + " --limit 192", "train_size: \"256\" in the checkpoint, \"192\"");
  // the same sizes, other labels: only the fingerprint tells
  fs::create_directories(dir / "other");
  fs::copy(data, dir / "other", fs::copy_options::recursive);
  std::vector<uint8_t> labels;
  for (int i = 0; i < 256; ++i) labels.push_back(uint8_t((i + 1) % 3));
  nl::data::write_idx((dir / "other/train-labels-idx1-ubyte.gz").string(), {256}, labels, true);
  refused("--data \\S+", "--data " + (dir / "other").string(), "train_fnv1a:");

  auto again = nl_test::run_example("mlp_norm", args + ckpt + " 2>&1");  // without --resume
  CHECK(again.exit_code == 1);
  CHECK(again.out.find("already holds checkpoints") != std::string::npos);

  fs::create_directories(dir / "empty");
  std::string out = (dir / "e").string();
  auto empty = nl_test::run_example("mlp_norm", std::regex_replace(args, std::regex("--out \\S+"), "--out " + out) +
                                                    " --resume --checkpoint-dir " + (dir / "empty").string() + " 2>&1");
  CHECK(empty.exit_code == 1);
  CHECK(empty.out.find("nothing to resume in " + (dir / "empty").string()) != std::string::npos);
  CHECK_FALSE(fs::exists(out + "/steps.csv"));
}

TEST_CASE(
    "mlp checkpoints: train_mlp refuses another model, optimizer or data set, a used and an empty directory, "
    "and skips a damaged newest checkpoint",
    "[examples][mlp_checkpoints][errors]") {
  auto dir = nl_test::fresh_dir("mlp_checkpoints_train_mlp_refusals");
  std::string args = "--norm layer --depth 2 --hidden 8 --steps 10 --points 100 --threads 1 --seed 4";
  std::string ckpt = " --checkpoint-dir " + (dir / "ckpt").string() + " --checkpoint-every 5";
  auto first = nl_test::run_example("train_mlp", args + ckpt + " 2>/dev/null");
  REQUIRE(first.exit_code == 0);
  std::string file = (dir / "ckpt/layer/step_10.safetensors").string();
  auto refused = [&](const std::string& from, const std::string& to, const std::string& says) {
    INFO(to);
    auto run =
        nl_test::run_example("train_mlp", std::regex_replace(args, std::regex(from), to) + ckpt + " --resume 2>&1");
    INFO(run.out);
    CHECK(run.exit_code == 1);
    CHECK(run.out.find(file + " is a checkpoint of a different run") != std::string::npos);
    CHECK(run.out.find(says) != std::string::npos);
  };
  refused("--depth 2", "--depth 3", "depth: \"2\" in the checkpoint, \"3\" in this run");
  refused("--threads 1", "--threads 1 --momentum 0.5", "momentum: \"0.90000000000000002\" in the checkpoint");
  refused("--points 100", "--points 100 --noise 0.05", "spirals_fnv1a:");
  refused("--points 100", "--points 120", "spirals_size: \"300\" in the checkpoint, \"360\" in this run");

  auto again = nl_test::run_example("train_mlp", args + ckpt + " 2>&1");  // without --resume
  CHECK(again.exit_code == 1);
  CHECK(again.out.find("already holds checkpoints") != std::string::npos);
  auto empty =
      nl_test::run_example("train_mlp", args + " --resume --checkpoint-dir " + (dir / "empty").string() + " 2>&1");
  CHECK(empty.exit_code == 1);
  CHECK(empty.out.find("nothing to resume in " + (dir / "empty").string()) != std::string::npos);

  // the newest checkpoint damaged (a flipped byte): skipped with a warning naming it, step 5's resumed
  std::string bytes = nl_test::read_file(file);
  bytes[bytes.size() - 3] ^= 0x40;
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  auto resumed = nl_test::run_example("train_mlp", args + ckpt + " --resume 2>&1");
  CHECK(resumed.exit_code == 0);
  CHECK(resumed.out.find("warning: skipping checkpoint " + file) != std::string::npos);
  CHECK(resumed.out.find("resuming from " + (dir / "ckpt/layer/step_5.safetensors").string()) != std::string::npos);
  CHECK(json_lines_without_seconds(resumed.out) == json_lines_without_seconds(first.out));
}

TEST_CASE(
    "mlp checkpoints: mlp_norm --sweep killed in its sixth run and resumed writes the uninterrupted sweep's files",
    "[examples][mlp_checkpoints]") {
  auto dir = nl_test::fresh_dir("mlp_checkpoints_sweep");
  std::string args = "--sweep --epochs 1 --hidden 8 --threads 1 --data " + tiny_data(dir) + " --checkpoint-every 8";
  std::string ref = (dir / "ref").string();
  REQUIRE(
      nl_test::run_example("mlp_norm", args + " --out " + ref + " --checkpoint-dir " + ref + "/ckpt >/dev/null 2>&1")
          .exit_code == 0);
  fs::path ckpt = dir / "killed/ckpt";
  std::string killed = args + " --out " + (dir / "killed").string() + " --checkpoint-dir " + ckpt.string();
  // runs 1-5 finished, run 6 (batch norm at batch 4: 64 steps) past step 16
  // (no kill inside a write: 10 ms more per write, of which the sweep has about 40, are enough to kill it in run 6)
  kill_and_resume("mlp_norm", killed, dir, {[&] { return nl_test::newest_step(ckpt / "batch_b4_seed0") >= 16; }}, 1,
                  10);
  // results.csv without its last column (seconds)
  auto without_seconds = [](const fs::path& path) {
    return std::regex_replace(nl_test::read_file(path), std::regex(",[^,\n]*\n"), "\n");
  };
  CHECK(without_seconds(dir / "killed/results.csv") == without_seconds(dir / "ref/results.csv"));
  CHECK(nl_test::read_file(dir / "killed/curves.csv") == nl_test::read_file(dir / "ref/curves.csv"));
  for (const char* run : {"none_b128_seed0", "batch_b4_seed0", "layer_b4_seed0"}) {
    INFO(run);
    CHECK(nl_test::read_file(dir / "killed/runs" / (std::string(run) + ".csv")) ==
          nl_test::read_file(dir / "ref/runs" / (std::string(run) + ".csv")));
  }
  nl_test::require_same_tensors(ckpt / "batch_b4_seed0/step_64.safetensors",
                                dir / "ref/ckpt/batch_b4_seed0/step_64.safetensors");
}
