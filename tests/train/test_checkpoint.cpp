// Checkpoints: a resumed run reproduces the uninterrupted one bit for bit;
// mismatches are refused; saving is atomic.
#include <catch2/catch.hpp>
#include <fstream>
#include <limits>

#include "normlab.h"
#include "tests/core/io/io_test_helpers.h"

namespace layers = nl::layers;
namespace optim = nl::optim;

namespace {
// A model that uses everything a checkpoint must carry: parameters, BatchNorm
// buffers, dropout (RNG), Adam state and a schedule; batches come from the RNG.
struct Run {
  layers::Sequential model{std::make_shared<layers::Linear>(6, 16), std::make_shared<layers::BatchNorm1d>(16),
                           std::make_shared<layers::ReLU>(), std::make_shared<layers::Dropout>(0.2),
                           std::make_shared<layers::Linear>(16, 3)};
  optim::AdamW opt{model.parameters(), {.lr = 0.01}};
  optim::WarmupDecayLR schedule{opt, 3, 20};

  float train_step() {
    nl::Tensor x = nl::randn({32, 6});
    nl::Tensor y = x.slice(1, 0, 3).argmax(1);  // a learnable rule: the largest of the first three
    opt.zero_grad();
    nl::Tensor loss = nl::cross_entropy(model(x), y);
    loss.backward();
    opt.step();
    schedule.step();
    return loss.item<float>();
  }
};
}  // namespace

TEST_CASE("checkpoint: a resumed run gives bit-identical losses", "[train][checkpoint]") {
  normlab_test::TempDir dir;
  std::string path = dir.file("run.safetensors");
  nl::manual_seed(42);
  std::vector<float> straight;
  {
    Run run;
    for (int k = 0; k < 12; ++k) straight.push_back(run.train_step());
  }
  nl::manual_seed(42);
  std::vector<float> resumed;
  {
    Run run;
    for (int k = 0; k < 6; ++k) resumed.push_back(run.train_step());
    nl::train::save_checkpoint(path, run.model, &run.opt, &run.schedule, 6);
  }
  nl::manual_seed(999);  // a different process, a different seed: all of it comes from the file
  Run run;
  int64_t step = nl::train::load_checkpoint(path, run.model, &run.opt, &run.schedule);
  CHECK(step == 6);
  for (int k = 6; k < 12; ++k) resumed.push_back(run.train_step());
  CHECK(resumed == straight);
}

TEST_CASE("checkpoint: model only, and mismatches are refused", "[train][checkpoint][errors]") {
  normlab_test::TempDir dir;
  std::string path = dir.file("model.safetensors");
  layers::Linear fc(3, 2);
  nl::train::save_checkpoint(path, fc, nullptr, nullptr, 5);
  layers::Linear other(3, 2);
  CHECK(nl::train::load_checkpoint(path, other) == 5);
  CHECK(other.weight.to_vector<float>() == fc.weight.to_vector<float>());
  optim::SGD opt(other.parameters(), {.lr = 0.1});
  REQUIRE_THROWS_WITH(nl::train::load_checkpoint(path, other, &opt), Catch::Contains("has no optimizer state"));
  layers::Linear wrong(4, 2);
  REQUIRE_THROWS_WITH(nl::train::load_checkpoint(path, wrong), Catch::Contains("size mismatch for weight"));
  nl::io::save_safetensors(path, {{"weight", nl::zeros({2, 3})}});
  REQUIRE_THROWS_WITH(nl::train::load_checkpoint(path, other), Catch::Contains("not a normlab checkpoint"));
}

TEST_CASE("checkpoint: metadata is kept and checksummed, reserved keys refused", "[train][checkpoint]") {
  normlab_test::TempDir dir;
  std::string path = dir.file("meta.safetensors");
  layers::Linear fc(3, 2);
  nl::train::save_checkpoint(path, fc, nullptr, nullptr, 3, {{"hidden", "16"}, {"log", "[1, 2]"}});
  nl::train::CheckpointFile file = nl::train::read_checkpoint(path);
  CHECK(file.metadata.at("hidden") == "16");
  CHECK(file.metadata.at("log") == "[1, 2]");
  CHECK(file.metadata.at("checksum").size() == 16);
  layers::Linear other(3, 2);
  CHECK(nl::train::load_checkpoint(file, other) == 3);
  CHECK(other.weight.to_vector<float>() == fc.weight.to_vector<float>());
  // the same bytes with a metadata value changed (same length): the checksum no longer matches
  std::string bytes = normlab_test::read_bytes(path);
  bytes.replace(bytes.find("\"16\""), 4, "\"32\"");
  std::ofstream(path, std::ios::binary) << bytes;
  REQUIRE_THROWS_WITH(nl::train::read_checkpoint(path), Catch::Contains("corrupt") && Catch::Contains(path));
  REQUIRE_THROWS_WITH(nl::train::save_checkpoint(path, fc, nullptr, nullptr, 0, {{"checksum", "x"}}),
                      Catch::Contains("reserved"));
}

// Inputs that broke the checkpoint fuzz harness's contract (tests/fuzz/fuzz_checkpoint.cpp;
// the files are tests/fuzz/corpus/checkpoint/regress_*): values a file may hold that
// were undefined behaviour to load or to train on (UBSan reports; build-asan/ runs this).
TEST_CASE("checkpoint: counts out of range are refused or saturate, never overflow", "[train][checkpoint][errors]") {
  normlab_test::TempDir dir;
  std::string path = dir.file("run.safetensors");
  nl::manual_seed(3);
  Run saved;
  saved.train_step();
  nl::train::save_checkpoint(path, saved.model, &saved.opt, &saved.schedule, 1);
  nl::StateDict good = nl::io::load_safetensors(path);
  nl::Tensor int64_max = nl::zeros({}, nl::i64);
  *int64_max.data<int64_t>() = std::numeric_limits<int64_t>::max();
  auto load_with = [&](const std::string& key, const nl::Tensor& value, Run& run) {
    nl::StateDict bad = good;
    bad[key] = value;
    nl::io::save_safetensors(path, bad, {{"format", "normlab-checkpoint-1"}});
    nl::train::load_checkpoint(path, run.model, &run.opt, &run.schedule);
  };
  Run run;
  // A float can hold what no int64 can: converting 1e300 into the count was undefined.
  REQUIRE_THROWS_WITH(load_with("model.1.num_batches_tracked", nl::full({}, 1e300, nl::f64), run),
                      Catch::Contains("dtype mismatch for 1.num_batches_tracked (checkpoint float64, model int64)"));
  // Counters that step() increments: refused when they could not be counted on.
  REQUIRE_THROWS_WITH(load_with("optimizer.state.0.step", int64_max, run),
                      Catch::Contains("state.0.step is 9223372036854775807, not a step count"));
  REQUIRE_THROWS_WITH(load_with("optimizer.state.0.step", nl::full({}, -1, nl::i64), run),
                      Catch::Contains("not a step count in [0, 2^53]"));
  REQUIRE_THROWS_WITH(load_with("scheduler.last_epoch", int64_max, run),
                      Catch::Contains("last_epoch is 9223372036854775807"));
  // BatchNorm's count is the module's own business: it loads, and training saturates it.
  load_with("model.1.num_batches_tracked", int64_max, run);
  run.train_step();
  auto& bn = dynamic_cast<layers::BatchNorm1d&>(*run.model[1]);
  CHECK(bn.num_batches_tracked.item<int64_t>() == std::numeric_limits<int64_t>::max());
}
