// RunCheckpoints: a checkpoint every N steps and after the last, the
// identity and the caller's log in its metadata; resume from the newest; a
// used directory refused without --resume; a signal: a checkpoint, then
// Interrupted. The sequence helpers: one subdirectory per run, "nothing to
// resume" only when no run has a checkpoint. (On real programs:
// tests/examples/test_mlp_checkpoints.cpp.)
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>

#include "normlab.h"
#include "tests/core/io/io_test_helpers.h"

namespace {
using nl::train::CheckpointOptions;
using nl::train::RunCheckpoints;

std::vector<int64_t> steps_in(const std::string& dir) {
  std::vector<int64_t> steps;
  for (auto& entry : nl::train::CheckpointDir(dir).list()) steps.push_back(entry.step);
  return steps;
}

nl::io::Metadata identity() { return {{"model", "linear 3 2"}}; }
}  // namespace

TEST_CASE("run_checkpoints: every N steps and after the last, with identity and log, resumed from the newest",
          "[train][run_checkpoints]") {
  normlab_test::TempDir tmp;
  CheckpointOptions options{.dir = tmp.file("ckpt"), .every = 3, .keep = 2};
  nl::layers::Linear fc(3, 2);
  int log_calls = 0;
  {
    RunCheckpoints checkpoints(options, identity, 7);
    CHECK(checkpoints.active());
    CHECK_FALSE(checkpoints.start().has_value());  // not resuming
    for (int64_t step = 1; step <= 7; ++step)
      checkpoints.after_step(step, fc, nullptr, nullptr, [&] {
        ++log_calls;
        return nl::io::Metadata{{"log", std::to_string(step)}};
      });
  }
  CHECK(log_calls == 3);                                       // steps 3, 6 and 7 (the last)
  CHECK(steps_in(options.dir) == std::vector<int64_t>{6, 7});  // the newest two
  {
    RunCheckpoints again(options, identity, 7);  // without resume: refused
    REQUIRE_THROWS_WITH(again.start(), Catch::Contains("already holds checkpoints") && Catch::Contains("step_7"));
  }
  options.resume = true;
  RunCheckpoints resumed(options, identity, 7);
  std::optional<nl::train::CheckpointFile> file = resumed.start();
  REQUIRE(file.has_value());
  CHECK(file->path == options.dir + "/step_7.safetensors");
  CHECK(nl::train::metadata_entry(*file, "log") == "7");
  CHECK(file->metadata.at("model") == "linear 3 2");
  REQUIRE_THROWS_WITH(nl::train::metadata_entry(*file, "other"),
                      Catch::Contains("no \"other\" in its metadata") && Catch::Contains("step_7"));
  CHECK(nl::train::load_checkpoint(*file, fc) == 7);
}

TEST_CASE("run_checkpoints: without a directory nothing happens, a signal writes a checkpoint, then Interrupted",
          "[train][run_checkpoints]") {
  normlab_test::TempDir tmp;
  nl::layers::Linear fc(3, 2);
  bool identity_called = false;
  RunCheckpoints off(
      CheckpointOptions{},
      [&] {
        identity_called = true;
        return identity();
      },
      5);
  CHECK_FALSE(off.active());
  CHECK_FALSE(identity_called);  // a data set's fingerprint is not computed for nothing
  CHECK_FALSE(off.start().has_value());
  off.after_step(5, fc, nullptr, nullptr, [] { return nl::io::Metadata{}; });

  CheckpointOptions options{.dir = tmp.file("ckpt"), .every = 0};
  RunCheckpoints checkpoints(options, identity, 100);
  checkpoints.after_step(1, fc, nullptr, nullptr, [] { return nl::io::Metadata{}; });
  CHECK(steps_in(options.dir).empty());  // every 0: only at the end and when interrupted
  std::raise(SIGTERM);
  try {
    checkpoints.after_step(2, fc, nullptr, nullptr, [] { return nl::io::Metadata{}; });
    FAIL("no Interrupted");
  } catch (const nl::train::Interrupted& e) {
    CHECK(e.exit_status() == 128 + SIGTERM);
    CHECK_THAT(e.what(), Catch::Contains("interrupted by SIGTERM after step 2 of 100: wrote " + options.dir +
                                         "/step_2.safetensors") &&
                             Catch::Contains("--resume"));
  }
  CHECK(steps_in(options.dir) == std::vector<int64_t>{2});
  REQUIRE_THROWS_WITH(checkpoints.after_step(3, fc, nullptr, nullptr,
                                             [] {
                                               return nl::io::Metadata{{"model", "mine"}};
                                             }),
                      Catch::Contains("\"model\" is an identity entry"));
}

TEST_CASE("run_checkpoints: a sequence of runs, one directory each, nothing to resume only when none has one",
          "[train][run_checkpoints]") {
  normlab_test::TempDir tmp;
  CheckpointOptions sequence{.dir = tmp.file("ckpt"), .every = 1};
  std::vector<std::string> runs = {"none", "layer"};
  nl::train::check_sequence(sequence, runs);  // fresh: fine
  CHECK(nl::train::member_options(sequence, "layer").dir == tmp.file("ckpt") + "/layer");
  sequence.resume = true;
  REQUIRE_THROWS_WITH(nl::train::check_sequence(sequence, runs),
                      Catch::Contains("nothing to resume in " + tmp.file("ckpt")) && Catch::Contains("none, layer"));
  nl::layers::Linear fc(3, 2);
  nl::train::CheckpointDir(tmp.file("ckpt/none")).save(4, fc, nullptr, nullptr, identity());
  nl::train::check_sequence(sequence, runs);
  CHECK(nl::train::member_options(sequence, "none").resume);
  CHECK_FALSE(nl::train::member_options(sequence, "layer").resume);  // not begun: it starts
  sequence.resume = false;
  REQUIRE_THROWS_WITH(nl::train::check_sequence(sequence, runs),
                      Catch::Contains("already holds checkpoints") && Catch::Contains("none/step_4.safetensors"));
  nl::train::check_sequence(CheckpointOptions{}, runs);  // inactive: nothing to check
}

TEST_CASE("run_checkpoints: identity helpers: exact doubles, data by size and fingerprint",
          "[train][run_checkpoints]") {
  CHECK(nl::train::exact_text(0.1) == "0.10000000000000001");
  CHECK(std::stod(nl::train::exact_text(1.0 / 3)) == 1.0 / 3);
  nl::Tensor a = nl::arange(6, nl::f32).reshape({3, 2}), labels = nl::from_vector(std::vector<int64_t>{0, 1, 2});
  nl::io::Metadata id = nl::train::data_identity("train", {a, labels});
  CHECK(id.at("train_size") == "3");
  CHECK(id.at("train_fnv1a").size() == 16);
  CHECK(nl::train::data_identity("train", {a.t().contiguous().t(), labels}) == id);  // the values, not the layout
  nl::Tensor b = a.clone();
  b.data<float>()[5] = 6;
  CHECK(nl::train::data_identity("train", {b, labels}).at("train_fnv1a") != id.at("train_fnv1a"));
}
