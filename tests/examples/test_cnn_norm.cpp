// examples/cnn_norm: a single run, the batch orders (i.i.d. and two classes
// per batch), the sweep's files, checkpoints and resuming, and bad flags —
// on a small MNIST-format set of 8x8 images written by the test (fast), and
// once on the installed Fashion-MNIST.
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>

#include "tests/examples/checkpoint_test_helpers.h"
#include "tests/examples/example_test_helpers.h"

namespace fs = std::filesystem;
using nl_test::fresh_dir;
using nl_test::last_json_line;
using nl_test::run_example;

namespace {

std::vector<std::string> lines_of(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// 8x8 images of 4 classes (192 training, 48 test samples): class c lights
// rows 2c and 2c + 1 over a pixel noise, so a CNN learns it in a few steps.
std::string small_images(const fs::path& dir) {
  fs::create_directories(dir / "data");
  for (auto [split, n] : {std::pair<std::string, int64_t>{"train", 192}, {"t10k", 48}}) {
    std::vector<uint8_t> pixels, labels;
    for (int64_t i = 0; i < n; ++i) {
      int64_t c = (i * 7) % 4;
      for (int64_t p = 0; p < 64; ++p) pixels.push_back(uint8_t((p / 8) / 2 == c ? 200 : (i * 13 + p * 29) % 90));
      labels.push_back(uint8_t(c));
    }
    nl::data::write_idx((dir / "data" / (split + "-images-idx3-ubyte")).string(), {n, 8, 8}, pixels, false);
    nl::data::write_idx((dir / "data" / (split + "-labels-idx1-ubyte")).string(), {n}, labels, false);
  }
  return (dir / "data").string();
}

std::vector<int64_t> labels_of(const std::string& data) {
  return nl::data::load_mnist(data).train.labels.to_vector<int64_t>();
}

}  // namespace

TEST_CASE("cnn_norm: a run prints its JSON line, logs every step, and the lr follows batch / 32", "[examples]") {
  auto dir = fresh_dir("cnn_norm_run");
  std::string data = small_images(dir);
  for (const char* norm : {"batch", "weight", "batch_renorm"}) {
    INFO(norm);
    auto run = run_example("cnn_norm", fmt::format("--data {} --norm {} --batch-size 16 --epochs 2 --seed 3 --base-lr 0.08 "
                                                   "--threads 1 --out {} 2>/dev/null",
                                                   data, norm, (dir / "out").string()));
    REQUIRE(run.exit_code == 0);
    nlohmann::json j = last_json_line(run.out);
    CHECK(j["norm"] == norm);
    CHECK(j["lr"] == Approx(0.08 * 16 / 32));  // --base-lr x batch / 32
    CHECK(j["momentum"] == 0.9);
    CHECK(j["steps"] == 24);  // 192 / 16 per epoch, 2 epochs
    CHECK(j["train_samples"] == 192);
    CHECK(j["test_samples"] == 48);
    CHECK(j["noniid"] == false);
    std::vector<std::string> steps = lines_of(dir / "out" / "steps.csv");
    REQUIRE(steps.size() == 25);
    CHECK(steps[0] == "step,epoch,loss");
    CHECK(steps[24].rfind("24,1,", 0) == 0);
    // the pattern is easy: the last steps' loss is well below the first's
    CHECK(j["train_loss"].get<double>() < 0.7 * std::stod(steps[1].substr(4)));
    CHECK(nlohmann::json::parse(std::ifstream(dir / "out" / "result.json"))["steps"] == 24);
  }
  auto given = run_example("cnn_norm", "--data " + data + " --norm group --groups 4 --lr 0.03 --batch-size 32 "
                                           "--threads 1 --out " + (dir / "out").string() + " 2>/dev/null");
  REQUIRE(given.exit_code == 0);
  CHECK(last_json_line(given.out)["lr"] == 0.03);
}

TEST_CASE("cnn_norm --save-init: the weights, and batch orders i.i.d. and of two classes", "[examples]") {
  auto dir = fresh_dir("cnn_norm_orders");
  std::string data = small_images(dir), init = (dir / "init").string();
  std::vector<int64_t> labels = labels_of(data);
  auto save = [&](const std::string& extra) {
    auto run = run_example("cnn_norm", "--data " + data + " --batch-size 16 --epochs 2 --seed 4 --threads 1 " +
                                           "--save-init " + init + " --out " + (dir / "out").string() + " " + extra +
                                           " 2>/dev/null");
    REQUIRE(run.exit_code == 0);
    return nl::io::load_npy(init + "/order.npy");
  };
  nl::Tensor iid = save("--norm weight");
  REQUIRE(iid.shape() == nl::Shape{24, 16});
  std::vector<int64_t> first_epoch = nl::data::shuffled_indices(192, 4, 0);
  CHECK(iid.slice(0, 0, 12).reshape({192}).to_vector<int64_t>() == first_epoch);
  // the weights the run started from: the same seed builds the same model, here weight-normed
  nl::manual_seed(4);
  nl::models::CNN model({.image_size = 8, .num_classes = 4, .norm = nl::models::CNNNorm::weight});
  for (const auto& [name, tensor] : model.state_dict()) {
    INFO(name);
    CHECK(nl::io::load_npy(init + "/" + name + ".npy").to_vector<double>() == tensor.to_vector<double>());
  }

  nl::Tensor two = save("--norm batch --noniid");
  // 4 classes of 48 samples: 2 pairs x 48 / 8 batches per epoch
  REQUIRE(two.shape() == nl::Shape{24, 16});
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    std::set<int64_t> seen;
    for (int64_t b = 12 * epoch; b < 12 * (epoch + 1); ++b) {
      std::vector<int64_t> batch = two.select(0, b).to_vector<int64_t>();
      std::map<int64_t, int> per_class;
      for (int64_t i : batch) {
        ++per_class[labels[size_t(i)]];
        CHECK(seen.insert(i).second);  // no sample twice in an epoch
      }
      REQUIRE(per_class.size() == 2);
      CHECK(per_class.begin()->second == 8);
    }
  }
  // another epoch pairs and orders the classes anew, from the seed alone
  CHECK(two.select(0, 0).to_vector<int64_t>() != two.select(0, 12).to_vector<int64_t>());
  CHECK(save("--norm batch --noniid").to_vector<int64_t>() == two.to_vector<int64_t>());
}

TEST_CASE("cnn_norm --sweep: norms x batch sizes x seeds, the tables, errors.csv and the figure", "[examples]") {
  auto dir = fresh_dir("cnn_norm_sweep");
  std::string data = small_images(dir), out = (dir / "sweep").string();
  auto run = run_example("cnn_norm", "--sweep --sweep-norms batch,group,weight --sweep-batches 32,8 --seeds 2 "
                                     "--seed 5 --threads 1 --data " + data + " --out " + out + " 2>/dev/null");
  REQUIRE(run.exit_code == 0);
  nlohmann::json j = last_json_line(run.out);
  REQUIRE(j["sweep"].size() == 6);
  CHECK(j["runs"] == 12);
  for (const auto& config : j["sweep"]) CHECK(config["lr"] == Approx(0.02 * config["batch_size"].get<double>() / 32));
  std::vector<std::string> results = lines_of(out + "/results.csv");
  REQUIRE(results.size() == 13);
  CHECK(results[1].rfind("batch,32,0.02,5,6,", 0) == 0);   // 192 samples: 6 steps of 32
  CHECK(results[12].rfind("weight,8,0.005,6,24,", 0) == 0);  // and 24 of 8
  CHECK(lines_of(out + "/errors.csv")[0] ==
        "batch_size,batch_mean,batch_min,batch_max,group_mean,group_min,group_max,weight_mean,weight_min,weight_max");
  CHECK(lines_of(out + "/errors.csv").size() == 3);
  CHECK(lines_of(out + "/curves.csv")[0] == "epoch,batch,group,weight");
  std::vector<std::string> summary = lines_of(out + "/summary.md");
  REQUIRE(!summary.empty());
  CHECK(summary[0] == "# cnn_norm sweep");
  CHECK(std::count_if(summary.begin(), summary.end(), [](const std::string& l) { return l.rfind("| 8 ", 0) == 0; }) ==
        1);  // the ordering row of batch 8
  CHECK(fs::exists(out + "/runs/group_b8_seed6.csv"));
  if (std::system("command -v gnuplot > /dev/null 2>&1") == 0) {
    CHECK(fs::file_size(out + "/sweep.png") > 1000);
    CHECK(j["plot"] == out + "/sweep.png");
  }
}

TEST_CASE("cnn_norm: killed and resumed, a run ends as the uninterrupted one, bit for bit", "[examples][checkpoint]") {
  auto dir = fresh_dir("cnn_norm_resume");
  std::string data = small_images(dir);
  std::string args = "--data " + data + " --norm batch_renorm --batch-size 8 --epochs 2 --seed 2 --threads 1 ";
  auto plain = run_example("cnn_norm", args + "--checkpoint-dir " + (dir / "plain").string() +
                                           " --out " + (dir / "plain_out").string() + " 2>/dev/null");
  REQUIRE(plain.exit_code == 0);
  std::string resumed_args = args + "--checkpoint-dir " + (dir / "ckpt").string() + " --checkpoint-every 5 --out " +
                             (dir / "out").string();
  pid_t pid = nl_test::start_example("cnn_norm", resumed_args, dir / "o.txt", dir / "e.txt",
                                     "NORMLAB_TEST_ATOMIC_WRITE_DELAY_MS=30");
  REQUIRE(nl_test::wait_until([&] { return nl_test::newest_step(dir / "ckpt") >= 15; }));
  kill(pid, SIGKILL);
  REQUIRE(nl_test::wait_for_exit(pid) == 128 + SIGKILL);
  pid = nl_test::start_example("cnn_norm", resumed_args + " --resume", dir / "o.txt", dir / "e.txt");
  REQUIRE(nl_test::wait_for_exit(pid) == 0);
  CHECK(nl_test::read_file(dir / "e.txt").find("resuming from") != std::string::npos);
  CHECK(nl_test::read_file(dir / "out" / "steps.csv") == nl_test::read_file(dir / "plain_out" / "steps.csv"));
  nlohmann::json a = last_json_line(plain.out), b = last_json_line(nl_test::read_file(dir / "o.txt"));
  a.erase("seconds"), b.erase("seconds");
  CHECK(a == b);
  nl_test::require_same_tensors(dir / "plain" / "step_48.safetensors", dir / "ckpt" / "step_48.safetensors");
  // another norm's checkpoint is refused, naming the difference
  auto other = run_example("cnn_norm", "--data " + data + " --norm batch --batch-size 8 --epochs 2 --seed 2 "
                                       "--threads 1 --checkpoint-dir " + (dir / "ckpt").string() + " --resume 2>&1");
  CHECK(other.exit_code == 1);
  CHECK_THAT(other.out, Catch::Contains("norm"));
}

TEST_CASE("cnn_norm: bad flags and data are errors, not crashes", "[examples]") {
  auto dir = fresh_dir("cnn_norm_errors");
  std::string data = small_images(dir);
  CHECK(run_example("cnn_norm", "--help").exit_code == 0);
  auto fails = [&](const std::string& args, const std::string& says) {
    INFO(args);
    auto run = run_example("cnn_norm", "--data " + data + " --threads 1 --out " + (dir / "out").string() + " " +
                                           args + " 2>&1");
    CHECK(run.exit_code != 0);
    CHECK_THAT(run.out, Catch::Contains(says));
  };
  fails("--sweep --norm batch", "--sweep sets norm");
  fails("--seeds 2", "are for --sweep");
  fails("--noniid --batch-size 7", "must be even");
  fails("--batch-size 256", "no full batch of 256");
  fails("--norm group --groups 3", "groups dividing");
  fails("--norm spectral", "spectral");
  CHECK(run_example("cnn_norm", "--data " + (dir / "nothing").string() + " 2>/dev/null").exit_code == 1);
}

TEST_CASE("cnn_norm: the installed Fashion-MNIST with --limit", "[examples][fashion-mnist]") {
  auto dir = fresh_dir("cnn_norm_fashion");
  auto run = run_example("cnn_norm", "--norm batch --limit 600 --batch-size 16 --threads 2 --out " +
                                         (dir / "out").string() + " 2>/dev/null");
  REQUIRE(run.exit_code == 0);
  nlohmann::json j = last_json_line(run.out);
  CHECK(j["train_samples"] == 600);
  CHECK(j["test_samples"] == 100);
  CHECK(j["steps"] == 37);
  CHECK(j["test_acc"].get<double>() > 0.3);  // 10 classes: chance is 0.1 (seed 0 reaches 0.46)
}
