// train_mlp: a deep MLP learns the three-spirals classification task, once
// without normalization and once with LayerNorm written out from primitive
// ops — y = (x - mean) / sqrt(var + eps) * gain + bias — so the whole model,
// its normalization and its SGD loop are plain core ops and autograd.
//
//   build/bin/train_mlp                       # both variants, side by side
//   build/bin/train_mlp --norm layer --depth 8 --steps 3000
//
// Prints a progress line (step, loss, steps/s, ETA), a summary table, and one
// JSON line per run with the config and the results.
#include <chrono>
#include <cmath>
#include <numbers>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "normlab.h"

namespace {

using nl::Tensor;

struct Config {
  std::string norm = "both";
  int depth = 6, hidden = 64, steps = 2000, batch_size = 128, points = 3000, threads = 2;
  double lr = 0.05, momentum = 0.9, noise = 0.03;
  uint64_t seed = 0;
};

// Three interleaved spirals in the plane, `n` points each class. Class k's
// arm is r·(cos, sin)(θ) with θ = 3.5·r·π + 2πk/3, plus Gaussian noise.
std::pair<Tensor, Tensor> spirals(int64_t n, double noise) {
  constexpr int64_t kClasses = 3;
  Tensor radius = nl::rand({kClasses * n}, nl::f32);
  Tensor jitter = nl::randn({kClasses * n, 2}, nl::f32) * noise;
  std::vector<float> xy(size_t(kClasses * n * 2));
  std::vector<int64_t> labels(size_t(kClasses * n));
  std::vector<float> r = radius.to_vector<float>(), j = jitter.to_vector<float>();
  for (int64_t i = 0; i < kClasses * n; ++i) {
    int64_t k = i % kClasses;
    double theta = 3.5 * r[size_t(i)] * std::numbers::pi + 2 * std::numbers::pi * double(k) / kClasses;
    xy[size_t(2 * i)] = float(r[size_t(i)] * std::cos(theta)) + j[size_t(2 * i)];
    xy[size_t(2 * i + 1)] = float(r[size_t(i)] * std::sin(theta)) + j[size_t(2 * i + 1)];
    labels[size_t(i)] = k;
  }
  return {nl::from_vector(xy, {kClasses * n, 2}), nl::from_vector(labels)};
}

struct Layer {
  Tensor weight, bias, gain, shift;  // gain/shift only with LayerNorm
};

// PyTorch's nn.Linear initialization: U(-1/√in, 1/√in) for weight and bias.
Layer make_layer(int64_t in, int64_t out, bool layer_norm) {
  double bound = 1.0 / std::sqrt(double(in));
  Layer l{nl::rand({out, in}, nl::f32, -bound, bound).requires_grad_(),
          nl::rand({out}, nl::f32, -bound, bound).requires_grad_(), {}, {}};
  if (layer_norm) {
    l.gain = nl::ones({out}).requires_grad_();
    l.shift = nl::zeros({out}).requires_grad_();
  }
  return l;
}

// LayerNorm over the last dim, composed from primitives (autograd derives the backward).
Tensor layer_norm(const Tensor& x, const Tensor& gain, const Tensor& shift, double eps = 1e-5) {
  Tensor mean = x.mean({-1}, true);
  Tensor var = x.var({-1}, /*unbiased=*/false, true);
  return (x - mean) * nl::rsqrt(var + eps) * gain + shift;
}

struct Model {
  std::vector<Layer> layers;
  Tensor forward(Tensor x) const {
    for (size_t i = 0; i + 1 < layers.size(); ++i) {
      const Layer& l = layers[i];
      x = nl::matmul(x, l.weight.t()) + l.bias;
      if (l.gain.defined()) x = layer_norm(x, l.gain, l.shift);
      x = nl::tanh(x);
    }
    return nl::matmul(x, layers.back().weight.t()) + layers.back().bias;
  }
  std::vector<Tensor> parameters() const {
    std::vector<Tensor> ps;
    for (const Layer& l : layers)
      for (const Tensor& p : {l.weight, l.bias, l.gain, l.shift})
        if (p.defined()) ps.push_back(p);
    return ps;
  }
};

double accuracy(const Model& model, const Tensor& x, const Tensor& y) {
  nl::NoGradGuard no_grad;
  std::vector<int64_t> predicted = model.forward(x).argmax(1).to_vector<int64_t>(), truth = y.to_vector<int64_t>();
  int64_t correct = 0;
  for (size_t i = 0; i < truth.size(); ++i) correct += predicted[i] == truth[i];
  return double(correct) / double(truth.size());
}

nlohmann::json train(const Config& cfg, bool layer_norm) {
  nl::manual_seed(cfg.seed);
  auto [train_x, train_y] = spirals(cfg.points, cfg.noise);
  auto [test_x, test_y] = spirals(cfg.points / 3, cfg.noise);
  Model model;
  for (int i = 0; i < cfg.depth; ++i) model.layers.push_back(make_layer(i == 0 ? 2 : cfg.hidden, cfg.hidden, layer_norm));
  model.layers.push_back(make_layer(cfg.hidden, 3, false));
  std::vector<Tensor> params = model.parameters(), velocity;
  for (const Tensor& p : params) velocity.push_back(nl::zeros_like(p));

  const std::string name = layer_norm ? "layer" : "none";
  int64_t n = train_x.size(0);
  std::vector<int64_t> labels = train_y.to_vector<int64_t>();
  auto start = std::chrono::steady_clock::now();
  double tail_loss = 0;
  int tail_steps = std::max(1, cfg.steps / 10);
  for (int step = 1; step <= cfg.steps; ++step) {
    // a random minibatch (with replacement); embedding is exactly a row lookup
    Tensor index = (nl::rand({cfg.batch_size}, nl::f64) * double(n)).to(nl::i64);
    std::vector<int64_t> picked;
    for (int64_t i : index.to_vector<int64_t>()) picked.push_back(labels[size_t(i)]);
    Tensor logits = model.forward(nl::embedding(train_x, index));
    Tensor loss = nl::cross_entropy(logits, nl::from_vector(picked));
    for (Tensor& p : params) p.set_grad(Tensor());
    loss.backward();
    {
      // SGD with momentum (PyTorch's form): v = μ·v + g;  p = p - lr·v
      nl::NoGradGuard no_grad;
      for (size_t i = 0; i < params.size(); ++i) {
        velocity[i].mul_(cfg.momentum).add_(params[i].grad());
        params[i].add_(velocity[i], -cfg.lr);
      }
    }
    double value = loss.item<double>();
    if (step > cfg.steps - tail_steps) tail_loss += value / tail_steps;
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (step % 100 == 0 || step == cfg.steps) {
      double rate = step / seconds;
      fmt::print(stderr, "\r[{:>5}] step {:>5}/{}  loss {:.4f}  {:.0f} steps/s  ETA {:.1f}s   ", name, step, cfg.steps,
                 value, rate, (cfg.steps - step) / rate);
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print(stderr, "\n");
  return {{"norm", name},           {"depth", cfg.depth},
          {"hidden", cfg.hidden},   {"steps", cfg.steps},
          {"batch_size", cfg.batch_size}, {"lr", cfg.lr},
          {"momentum", cfg.momentum}, {"seed", cfg.seed},
          {"train_loss", tail_loss}, {"train_acc", accuracy(model, train_x, train_y)},
          {"test_acc", accuracy(model, test_x, test_y)}, {"seconds", seconds}};
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"Train a deep MLP on three spirals with and without (composed) LayerNorm"};
  app.add_option("--norm", cfg.norm, "none, layer, or both")->check(CLI::IsMember({"none", "layer", "both"}));
  app.add_option("--depth", cfg.depth, "hidden layers")->check(CLI::Range(1, 64));
  app.add_option("--hidden", cfg.hidden, "units per hidden layer")->check(CLI::Range(1, 4096));
  app.add_option("--steps", cfg.steps, "SGD steps")->check(CLI::Range(1, 10000000));
  app.add_option("--batch-size", cfg.batch_size, "examples per step")->check(CLI::Range(1, 65536));
  app.add_option("--points", cfg.points, "training points per class")->check(CLI::Range(10, 1000000));
  app.add_option("--lr", cfg.lr, "learning rate")->check(CLI::PositiveNumber);
  app.add_option("--momentum", cfg.momentum, "SGD momentum")->check(CLI::Range(0.0, 0.999));
  app.add_option("--noise", cfg.noise, "std of the noise added to the points")->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", cfg.seed, "random seed");
  app.add_option("--threads", cfg.threads, "threads")->check(CLI::Range(1, 256));
  CLI11_PARSE(app, argc, argv);
  nl::set_num_threads(cfg.threads);

  std::vector<nlohmann::json> results;
  try {
    for (bool ln : {false, true})
      if (cfg.norm == "both" || cfg.norm == (ln ? "layer" : "none")) results.push_back(train(cfg, ln));
  } catch (const nl::Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  fmt::print("\n{:<8} {:>12} {:>10} {:>9} {:>8}\n", "norm", "train_loss", "train_acc", "test_acc", "seconds");
  for (const auto& r : results)
    fmt::print("{:<8} {:>12.4f} {:>10.3f} {:>9.3f} {:>8.1f}\n", r["norm"].get<std::string>(),
               r["train_loss"].get<double>(), r["train_acc"].get<double>(), r["test_acc"].get<double>(),
               r["seconds"].get<double>());
  for (const auto& r : results) fmt::print("{}\n", r.dump());
  return 0;
}
