#include "data/mnist.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>

#include "data/idx.h"

namespace nl::data {

namespace {

constexpr const char* kOp = "load_mnist";

struct RawSplit {
  std::string images_path, labels_path;
  IdxArray images, labels;
  int64_t size() const { return labels.dims[0]; }
};

// Both files of a split, with their shapes checked against each other.
RawSplit read_split(const std::string& dir, const std::string& split) {
  RawSplit raw;
  raw.images_path = find_mnist_file(dir, split, "images");
  raw.labels_path = find_mnist_file(dir, split, "labels");
  raw.images = read_idx(raw.images_path);
  raw.labels = read_idx(raw.labels_path);
  const auto &image_dims = raw.images.dims, &label_dims = raw.labels.dims;
  if (image_dims.size() != 3 || image_dims[1] == 0 || image_dims[2] == 0)
    fail("{}: {}: images must have dims (n, height, width), got {}", kOp, raw.images_path, fmt::join(image_dims, "x"));
  if (label_dims.size() != 1)
    fail("{}: {}: labels must have one dim (n), got {}", kOp, raw.labels_path, fmt::join(label_dims, "x"));
  if (label_dims[0] != image_dims[0])
    fail("{}: {} holds {} images but {} holds {} labels", kOp, raw.images_path, image_dims[0], raw.labels_path,
         label_dims[0]);
  if (label_dims[0] == 0) fail("{}: {}: the {} split is empty", kOp, raw.labels_path, split);
  return raw;
}

int64_t limited(int64_t size, int64_t limit) { return limit < 0 ? size : std::min(size, limit); }

// The first n images as rows of float32 pixels, each byte mapped through a
// 256-entry table (value = (byte/255 − mean) / std): exact and one pass.
Tensor images_to_rows(const IdxArray& images, int64_t n, const std::array<float, 256>& table) {
  int64_t pixels = images.dims[1] * images.dims[2];
  Tensor rows = empty({n, pixels});
  float* out = rows.data<float>();
  const uint8_t* in = images.data.data();
  for (int64_t i = 0; i < n * pixels; ++i) out[i] = table[in[i]];
  return rows;
}

Tensor labels_to_tensor(const IdxArray& labels, int64_t n) {
  std::vector<int64_t> values(labels.data.begin(), labels.data.begin() + n);
  return from_vector(values);
}

}  // namespace

std::string find_mnist_file(const std::string& dir, const std::string& split, const std::string& kind) {
  if (!std::filesystem::is_directory(dir))
    fail(
        "{}: {} is not a directory (expected the four MNIST-format IDX files in it; Debian's "
        "dataset-fashion-mnist package installs Fashion-MNIST in {})",
        kOp, dir, kFashionMnistDir);
  std::string rank = kind == "images" ? "idx3" : "idx1";
  std::vector<std::string> tried;
  for (const char* separator : {"-", "."})
    for (const char* suffix : {".gz", ""}) {
      std::string name = split + "-" + kind + separator + rank + "-ubyte" + suffix;
      std::filesystem::path path = std::filesystem::path(dir) / name;
      if (std::filesystem::is_regular_file(path)) return path.string();
      tried.push_back(name);
    }
  fail("{}: no {} {} file in {} (tried {})", kOp, split, kind, dir, fmt::join(tried, ", "));
}

Mnist load_mnist(const std::string& dir, const MnistOptions& options) {
  RawSplit train = read_split(dir, "train"), test = read_split(dir, "t10k");
  if (train.images.dims[1] != test.images.dims[1] || train.images.dims[2] != test.images.dims[2])
    fail("{}: training images are {}x{} but test images are {}x{}", kOp, train.images.dims[1], train.images.dims[2],
         test.images.dims[1], test.images.dims[2]);
  if (options.train_limit == 0 || options.test_limit == 0)
    fail("{}: a limit of 0 samples leaves nothing to train or test on", kOp);

  Mnist mnist;
  mnist.dir = dir;
  mnist.height = train.images.dims[1];
  mnist.width = train.images.dims[2];
  for (const RawSplit* raw : {&train, &test})
    for (uint8_t label : raw->labels.data) mnist.num_classes = std::max<int64_t>(mnist.num_classes, label + 1);
  int64_t n_train = limited(train.size(), options.train_limit), n_test = limited(test.size(), options.test_limit);

  // mean and std of the training pixels x/255, from a histogram of the bytes (exact, in double)
  std::array<double, 256> histogram{};
  int64_t n_pixels = n_train * mnist.height * mnist.width;
  for (int64_t i = 0; i < n_pixels; ++i) histogram[train.images.data[size_t(i)]] += 1;
  double sum = 0, squares = 0;
  for (int b = 0; b < 256; ++b) sum += histogram[size_t(b)] * (b / 255.0);
  mnist.pixel_mean = sum / double(n_pixels);
  for (int b = 0; b < 256; ++b) squares += histogram[size_t(b)] * std::pow(b / 255.0 - mnist.pixel_mean, 2);
  mnist.pixel_std = std::sqrt(squares / double(n_pixels));

  double mean = 0, std = 1;
  if (options.standardize) {
    if (!(mnist.pixel_std > 0))
      fail("{}: {}: every training pixel has the same value; cannot standardize (std 0)", kOp, train.images_path);
    mean = mnist.pixel_mean;
    std = mnist.pixel_std;
  }
  std::array<float, 256> table;
  for (int b = 0; b < 256; ++b) table[size_t(b)] = float((b / 255.0 - mean) / std);

  mnist.train = {images_to_rows(train.images, n_train, table), labels_to_tensor(train.labels, n_train)};
  mnist.test = {images_to_rows(test.images, n_test, table), labels_to_tensor(test.labels, n_test)};
  return mnist;
}

}  // namespace nl::data
