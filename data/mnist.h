#pragma once
// MNIST-format image classification data (Fashion-MNIST, MNIST, KMNIST, ...):
// a directory holding the four IDX files
//
//   train-images-idx3-ubyte  train-labels-idx1-ubyte  t10k-images-idx3-ubyte  t10k-labels-idx1-ubyte
//
// each plain or .gz (a "." before "idx" is accepted too, as some mirrors name them).
// Debian's dataset-fashion-mnist package installs Fashion-MNIST in
// kFashionMnistDir. Pixels become float32 x/255 ∈ [0, 1], then are standardized
// with ONE scalar mean and std over every pixel of the training images used
// (torchvision's Normalize((0.2860,), (0.3530,)) for Fashion-MNIST): the test
// set is standardized with the training set's statistics, never its own.
// Images are flattened to rows of height·width (784) features, the input of
// an MLP; images.view({n, 1, 28, 28}) gives them back as pictures.
//
//   auto mnist = nl::data::load_mnist(nl::data::kFashionMnistDir);
//   mnist.train.images;   // (60000, 784) float32, mean 0 and std 1 over all pixels
//   mnist.train.labels;   // (60000) int64 in [0, 10)
#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace nl::data {

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

struct MnistSplit {
  Tensor images;  // (n, height·width) float32
  Tensor labels;  // (n) int64
  int64_t size() const { return labels.numel(); }
};

struct MnistOptions {
  int64_t train_limit = -1;  // use only the first n training samples (−1: all)
  int64_t test_limit = -1;   // use only the first n test samples (−1: all)
  bool standardize = true;   // false: pixels stay in [0, 1]
};

struct Mnist {
  MnistSplit train, test;
  int64_t height = 0, width = 0;
  int64_t num_classes = 0;  // 1 + the largest label in either full label file
  double pixel_mean = 0;    // of the training pixels in [0, 1], before standardizing
  double pixel_std = 1;     // (population std over every pixel)
  std::string dir;
};

// The path of split ("train" or "t10k") and kind ("images" or "labels") in dir:
// the first of <split>-<kind>-idx{3,1}-ubyte[.gz] and <split>-<kind>.idx{3,1}-ubyte[.gz]
// that exists; an nl::Error listing the names tried when none does.
std::string find_mnist_file(const std::string& dir, const std::string& split, const std::string& kind);

// Loads and validates all four files (shapes agree, labels fit) and standardizes.
Mnist load_mnist(const std::string& dir = kFashionMnistDir, const MnistOptions& options = {});

}  // namespace nl::data
