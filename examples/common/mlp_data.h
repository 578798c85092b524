#pragma once
// The data of the deep-MLP programs (grad_flow, landscape): Fashion-MNIST
// (nl::data::load_mnist) when the data module is built in, else — and with
// --data synthetic — Gaussian clusters of the same shape (784 features, 10
// classes); and the MLP's layer sizes and initial weight scale.
#include <string>
#include <vector>

#include "normlab.h"
#if __has_include("data/mnist.h")
#include "data/mnist.h"
#define EXAMPLES_HAVE_MNIST 1
#endif

namespace examples {

struct MLPData {
  nl::Tensor train_x, train_y, test_x, test_y;  // (n, 784) float32, (n) int64
  int64_t features = 0, classes = 0;
  std::string name;
};

#ifdef EXAMPLES_HAVE_MNIST
inline constexpr const char* kDefaultMLPData = "fashion-mnist";
inline constexpr const char* kDefaultMLPDataDir = nl::data::kFashionMnistDir;
#else
inline constexpr const char* kDefaultMLPData = "synthetic";
inline constexpr const char* kDefaultMLPDataDir = "";
#endif

// 10 Gaussian clusters in 784 dims: x = μ_k + N(0, I), μ_k ~ N(0, 0.1²·I).
inline MLPData synthetic_mlp_data(int64_t train, int64_t test, uint64_t seed) {
  constexpr int64_t kFeatures = 784, kClasses = 10;
  nl::manual_seed(seed + 7919);  // the data does not depend on the model's seed stream
  nl::Tensor centers = nl::randn({kClasses, kFeatures}) * 0.1;
  auto draw = [&](int64_t n) {
    nl::Tensor labels = (nl::rand({n}, nl::f64) * double(kClasses)).to(nl::i64);
    return std::pair{nl::embedding(centers, labels) + nl::randn({n, kFeatures}), labels};
  };
  auto [train_x, train_y] = draw(train);
  auto [test_x, test_y] = draw(test);
  return {train_x, train_y, test_x, test_y, kFeatures, kClasses, "synthetic Gaussian clusters"};
}

// `data` is "fashion-mnist" (from data_dir) or "synthetic"; limit: training
// samples (Fashion-MNIST's test set is cut to it too; synthetic gets limit/5).
inline MLPData load_mlp_data(const std::string& data, const std::string& data_dir, int64_t limit, uint64_t seed) {
  if (data == "synthetic") return synthetic_mlp_data(limit, std::max<int64_t>(limit / 5, 100), seed);
#ifdef EXAMPLES_HAVE_MNIST
  nl::data::Mnist mnist = nl::data::load_mnist(data_dir, {.train_limit = limit, .test_limit = limit});
  return {mnist.train.images,
          mnist.train.labels,
          mnist.test.images,
          mnist.test.labels,
          mnist.height * mnist.width,
          mnist.num_classes,
          "Fashion-MNIST (" + data_dir + ")"};
#else
  (void)data_dir;
  nl::fail("--data {}: this build has no MNIST reader (data/mnist.h); use --data synthetic", data);
#endif
}

// The MLP's layer sizes: the features, `depth` hidden layers of `width`, the classes.
inline std::vector<int64_t> mlp_layer_sizes(const MLPData& data, int64_t depth, int64_t width) {
  std::vector<int64_t> sizes{data.features};
  for (int64_t i = 0; i < depth; ++i) sizes.push_back(width);
  sizes.push_back(data.classes);
  return sizes;
}

// Every Linear weight multiplied by scale (PyTorch's default init has
// Var = 1/(3·fan_in); √6 gives He's 2/fan_in; > √6: exploding signals).
inline void scale_linear_weights(nl::models::MLP& model, double scale) {
  if (scale == 1.0) return;
  nl::NoGradGuard no_grad;
  for (auto& [name, p] : model.named_parameters())
    if (name.ends_with(".weight") && p.dim() == 2) p.mul_(scale);
}

}  // namespace examples
