// The MNIST-format loader (data/mnist.h) on a tiny synthetic dataset written
// by the test, with hand-computed standardization, and on the installed
// Fashion-MNIST (Debian's dataset-fashion-mnist) when it is there.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include "tests/data/data_test_helpers.h"

using Catch::Contains;
using data_test::tiny_pixel;
using data_test::write_tiny_mnist;
using nl_test::error_of;
using normlab_test::TempDir;

namespace {
// Mean and population std of x/255 over the first n tiny training images.
std::pair<double, double> tiny_statistics(int64_t n) {
  double sum = 0, squares = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < 6; ++p) sum += tiny_pixel(i, p) / 255.0;
  double mean = sum / double(6 * n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < 6; ++p) squares += std::pow(tiny_pixel(i, p) / 255.0 - mean, 2);
  return {mean, std::sqrt(squares / double(6 * n))};
}
}  // namespace

TEST_CASE("mnist: a tiny MNIST-format directory loads, standardized with the training statistics", "[data][mnist]") {
  TempDir dir;
  std::string root = dir.file("mnist");
  for (bool compressed : {true, false}) {
    INFO("gzip " << compressed);
    std::filesystem::remove_all(root);
    std::filesystem::create_directories(root);
    write_tiny_mnist(root, 40, 7, compressed);
    nl::data::Mnist m = nl::data::load_mnist(root);
    CHECK(m.height == 2);
    CHECK(m.width == 3);
    CHECK(m.num_classes == 3);
    CHECK(m.train.images.shape() == nl::Shape{40, 6});
    CHECK(m.train.images.dtype() == nl::f32);
    CHECK(m.test.images.shape() == nl::Shape{7, 6});
    CHECK(m.train.labels.dtype() == nl::i64);
    CHECK(m.test.labels.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0});

    auto [mean, std] = tiny_statistics(40);
    CHECK(m.pixel_mean == Approx(mean).epsilon(1e-12));
    CHECK(m.pixel_std == Approx(std).epsilon(1e-12));
    // every pixel is (x/255 − mean)/std with the TRAINING mean and std, the test set's too
    CHECK(m.train.images.to_vector<float>()[13] == Approx((tiny_pixel(2, 1) / 255.0 - mean) / std).epsilon(1e-6));
    CHECK(m.test.images.to_vector<float>()[40] == Approx((tiny_pixel(6, 4) / 255.0 - mean) / std).epsilon(1e-6));
    CHECK(m.train.images.mean().item<double>() == Approx(0).margin(1e-6));
    CHECK(m.train.images.var({0, 1}, false).item<double>() == Approx(1).epsilon(1e-5));
  }
}

TEST_CASE("mnist: limits take the first samples, and the statistics come from those", "[data][mnist]") {
  TempDir dir;
  std::string root = dir.file("");
  write_tiny_mnist(root, 40, 7);
  nl::data::Mnist m = nl::data::load_mnist(root, {.train_limit = 5, .test_limit = 3});
  CHECK(m.train.size() == 5);
  CHECK(m.test.size() == 3);
  CHECK(m.num_classes == 3);  // from the full label files
  CHECK(m.pixel_mean == Approx(tiny_statistics(5).first).epsilon(1e-12));
  CHECK(nl::data::load_mnist(root, {.train_limit = 1000}).train.size() == 40);  // a limit past the end is all

  nl::data::Mnist raw = nl::data::load_mnist(root, {.standardize = false});
  std::vector<float> pixels = raw.train.images.to_vector<float>();
  CHECK(pixels[9] == Approx(tiny_pixel(1, 3) / 255.0).epsilon(1e-7));
  CHECK(raw.train.images.max().item<double>() <= 1.0);
}

TEST_CASE("mnist: names with a dot before idx are accepted", "[data][mnist]") {
  TempDir dir;
  std::string root = dir.file("mnist");
  std::filesystem::create_directories(root);
  write_tiny_mnist(root, 4, 2, false);
  for (std::string name : {"train-images", "train-labels", "t10k-images", "t10k-labels"}) {
    std::string rank = name.ends_with("images") ? "idx3" : "idx1";
    std::filesystem::rename(root + "/" + name + "-" + rank + "-ubyte", root + "/" + name + "." + rank + "-ubyte");
  }
  CHECK(nl::data::load_mnist(root).train.size() == 4);
  CHECK(nl::data::find_mnist_file(root, "t10k", "labels") == root + "/t10k-labels.idx1-ubyte");
}

TEST_CASE("mnist: missing and inconsistent files are clear errors", "[data][mnist]") {
  TempDir dir;
  std::string root = dir.file("mnist");
  std::filesystem::create_directories(root);
  CHECK_THAT(error_of([&] { nl::data::load_mnist(root + "/nope"); }), Contains("is not a directory"));
  CHECK_THAT(
      error_of([&] { nl::data::load_mnist(root); }),
      Contains("no train images file in " + root + " (tried train-images-idx3-ubyte.gz, train-images-idx3-ubyte,"));

  write_tiny_mnist(root, 6, 2);
  nl::data::write_idx(root + "/train-labels-idx1-ubyte.gz", {5}, {0, 1, 2, 0, 1}, true);
  CHECK_THAT(error_of([&] { nl::data::load_mnist(root); }), Contains("holds 6 images but"));
  CHECK_THAT(error_of([&] { nl::data::load_mnist(root); }), Contains("holds 5 labels"));

  write_tiny_mnist(root, 6, 2);
  nl::data::write_idx(root + "/t10k-images-idx3-ubyte.gz", {2, 3, 2}, std::vector<uint8_t>(12, 1), true);
  CHECK_THAT(error_of([&] { nl::data::load_mnist(root); }),
             Contains("training images are 2x3 but test images are 3x2"));

  write_tiny_mnist(root, 6, 2);
  nl::data::write_idx(root + "/t10k-images-idx3-ubyte.gz", {2, 6}, std::vector<uint8_t>(12, 1), true);
  CHECK_THAT(error_of([&] { nl::data::load_mnist(root); }),
             Contains("images must have dims (n, height, width), got 2x6"));

  write_tiny_mnist(root, 6, 2);
  nl::data::write_idx(root + "/train-images-idx3-ubyte.gz", {6, 2, 3}, std::vector<uint8_t>(36, 9), true);
  CHECK_THAT(error_of([&] { nl::data::load_mnist(root); }), Contains("cannot standardize (std 0)"));
  CHECK(nl::data::load_mnist(root, {.standardize = false}).pixel_std == 0);

  write_tiny_mnist(root, 6, 2);
  CHECK_THAT(error_of([&] { nl::data::load_mnist(root, {.train_limit = 0}); }), Contains("a limit of 0 samples"));
}

TEST_CASE("mnist: the installed Fashion-MNIST has its known shape and statistics", "[data][mnist][fashion-mnist]") {
  // scripts/install_deps.sh installs dataset-fashion-mnist; without it this test says so and fails
  REQUIRE(std::filesystem::is_directory(nl::data::kFashionMnistDir));
  nl::data::Mnist m = nl::data::load_mnist(nl::data::kFashionMnistDir, {.test_limit = 100});
  CHECK(m.train.images.shape() == nl::Shape{60000, 784});
  CHECK(m.test.size() == 100);
  CHECK(m.num_classes == 10);
  // torchvision's documented Fashion-MNIST normalization constants
  CHECK(m.pixel_mean == Approx(0.2860).margin(5e-5));
  CHECK(m.pixel_std == Approx(0.3530).margin(5e-5));
}
