// CheckpointDir: numbered files, the newest K kept, resume from the newest
// that reads back (a damaged one skipped with a warning naming it), a
// different run's checkpoint refused naming the difference, an empty
// directory refused.
#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "normlab.h"
#include "tests/core/io/io_test_helpers.h"

namespace {
std::vector<int64_t> steps_in(const nl::train::CheckpointDir& dir) {
  std::vector<int64_t> steps;
  for (auto& entry : dir.list()) steps.push_back(entry.step);
  return steps;
}
}  // namespace

TEST_CASE("checkpoint_dir: numbered files, the newest K kept, other files left alone", "[train][checkpoint_dir]") {
  normlab_test::TempDir tmp;
  nl::train::CheckpointDir dir(tmp.file("ckpt"), /*keep=*/2);
  CHECK(dir.path(7) == tmp.file("ckpt") + "/step_7.safetensors");
  CHECK(dir.list().empty());  // it does not exist yet
  std::filesystem::create_directories(tmp.file("ckpt"));
  std::ofstream(tmp.file("ckpt/notes.txt")) << "mine";
  std::ofstream(tmp.file("ckpt/step_x.safetensors")) << "not a step";
  std::ofstream(tmp.file("ckpt/step_3.safetensors.tmp.999.0")) << "left behind by a killed writer";
  nl::layers::Linear fc(3, 2);
  for (int64_t step : {5, 10, 15}) dir.save(step, fc, nullptr, nullptr, {{"run", "a"}});
  CHECK(steps_in(dir) == std::vector<int64_t>{10, 15});  // numeric order: 10 after 5, not before
  CHECK(std::filesystem::exists(tmp.file("ckpt/notes.txt")));
  CHECK(std::filesystem::exists(tmp.file("ckpt/step_x.safetensors")));
  CHECK_FALSE(std::filesystem::exists(tmp.file("ckpt/step_3.safetensors.tmp.999.0")));
  nl::train::CheckpointDir one(tmp.file("ckpt"), 1);
  one.save(100, fc, nullptr, nullptr, {});
  CHECK(steps_in(one) == std::vector<int64_t>{100});
  REQUIRE_THROWS_WITH(nl::train::CheckpointDir(tmp.file("ckpt"), 0), Catch::Contains("keep must be at least 1"));
}

TEST_CASE("checkpoint_dir: resume takes the newest valid one, skipping a damaged newest with a warning",
          "[train][checkpoint_dir]") {
  normlab_test::TempDir tmp;
  nl::train::CheckpointDir dir(tmp.file("ckpt"), 3);
  nl::layers::Linear fc(3, 2);
  dir.save(1, fc, nullptr, nullptr, {{"run", "a"}});
  nl::Tensor at_2 = fc.weight.detach().clone();
  dir.save(2, fc, nullptr, nullptr, {{"run", "a"}});
  dir.save(3, fc, nullptr, nullptr, {{"run", "a"}});
  CHECK(dir.newest_valid({{"run", "a"}}).path == dir.path(3));

  // step 3 truncated (a disk that filled up), then with one byte of a tensor flipped (a bad sector)
  std::string bytes = normlab_test::read_bytes(dir.path(3));
  std::ofstream(dir.path(3), std::ios::binary) << bytes.substr(0, bytes.size() - 5);
  nl::train::CheckpointFile file = dir.newest_valid({{"run", "a"}});
  CHECK(file.path == dir.path(2));
  bytes.back() ^= 0x40;
  std::ofstream(dir.path(3), std::ios::binary) << bytes;
  REQUIRE_THROWS_WITH(nl::train::read_checkpoint(dir.path(3)), Catch::Contains("corrupt") && Catch::Contains("step_3"));
  file = dir.newest_valid({{"run", "a"}});
  REQUIRE(file.path == dir.path(2));
  nl::layers::Linear other(3, 2);
  CHECK(nl::train::load_checkpoint(file, other) == 2);
  CHECK(other.weight.to_vector<float>() == at_2.to_vector<float>());

  std::ofstream(dir.path(2), std::ios::binary) << "garbage";
  std::ofstream(dir.path(1), std::ios::binary) << "";
  REQUIRE_THROWS_WITH(dir.newest_valid({{"run", "a"}}), Catch::Contains("none of its 3 checkpoints reads back"));
}

TEST_CASE("checkpoint_dir: a different run's checkpoint is refused naming the file and every difference",
          "[train][checkpoint_dir][errors]") {
  normlab_test::TempDir tmp;
  nl::train::CheckpointDir dir(tmp.file("ckpt"));
  nl::layers::Linear fc(3, 2);
  dir.save(4, fc, nullptr, nullptr, {{"hidden", "16"}, {"cell", "ln-lstm"}, {"optimizer", "adam"}});
  CHECK(dir.newest_valid({{"hidden", "16"}, {"cell", "ln-lstm"}}).path == dir.path(4));  // a subset is enough
  REQUIRE_THROWS_WITH(dir.newest_valid({{"hidden", "32"}, {"cell", "lstm"}, {"optimizer", "adam"}, {"data", "x"}}),
                      Catch::Contains(dir.path(4)) && Catch::Contains("different run") &&
                          Catch::Contains("hidden: \"16\" in the checkpoint, \"32\" in this run") &&
                          Catch::Contains("cell: \"ln-lstm\" in the checkpoint, \"lstm\" in this run") &&
                          Catch::Contains("data: missing in the checkpoint") && !Catch::Contains("optimizer:"));
}

TEST_CASE("checkpoint_dir: an empty or missing directory has nothing to resume", "[train][checkpoint_dir][errors]") {
  normlab_test::TempDir tmp;
  nl::train::CheckpointDir missing(tmp.file("missing"));
  REQUIRE_THROWS_WITH(missing.newest_valid({}), Catch::Contains("nothing to resume in " + tmp.file("missing")));
  CHECK_FALSE(std::filesystem::exists(tmp.file("missing")));  // looking creates nothing
  std::filesystem::create_directories(tmp.file("empty"));
  nl::train::CheckpointDir empty(tmp.file("empty"));
  REQUIRE_THROWS_WITH(empty.newest_valid({}), Catch::Contains("nothing to resume in " + tmp.file("empty")));
}

namespace {
// While alive, files this process writes may not grow past `bytes`
// (RLIMIT_FSIZE, what `ulimit -f` sets: a write past it fails with EFBIG, as
// on a full disk), and SIGXFSZ, which would otherwise kill the process at
// that point, is ignored. Both are restored at the end.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old_limit_) == 0);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = old_limit_;
    limit.rlim_cur = bytes;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &limit) == 0);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &old_limit_);
    std::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit old_limit_;
  void (*old_handler_)(int);
};
}  // namespace

TEST_CASE("checkpoint_dir: a write that runs out of space fails clearly and the previous checkpoint still loads",
          "[train][checkpoint_dir][errors]") {
  normlab_test::TempDir tmp;
  nl::train::CheckpointDir dir(tmp.file("ckpt"), /*keep=*/1);
  nl::layers::Linear fc(64, 64);
  nl::optim::Adam adam(fc.parameters(), {.lr = 0.01});
  dir.save(1, fc, &adam, nullptr, {{"run", "a"}});
  nl::Tensor at_1 = fc.weight.detach().clone();
  auto size = std::filesystem::file_size(dir.path(1));
  fc.weight.data<float>()[0] += 1;
  {
    FileSizeLimit limit(size / 2);  // the disk fills halfway through the next checkpoint
    REQUIRE_THROWS_WITH(dir.save(2, fc, &adam, nullptr, {{"run", "a"}}),
                        Catch::Contains("write " + dir.path(2)) && Catch::Contains("File too large"));
  }
  // nothing half-written is left behind, the older checkpoint was not deleted, and it loads
  CHECK(steps_in(dir) == std::vector<int64_t>{1});
  for (auto& entry : std::filesystem::directory_iterator(tmp.file("ckpt")))
    CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);
  nl::layers::Linear back(64, 64);
  nl::optim::Adam back_adam(back.parameters(), {.lr = 0.01});
  CHECK(nl::train::load_checkpoint(dir.newest_valid({{"run", "a"}}), back, &back_adam, nullptr) == 1);
  CHECK(back.weight.to_vector<float>() == at_1.to_vector<float>());
  // and once there is space again, the next save works and keeps only it
  dir.save(2, fc, &adam, nullptr, {{"run", "a"}});
  CHECK(steps_in(dir) == std::vector<int64_t>{2});
}
