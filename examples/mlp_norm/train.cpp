#include "examples/mlp_norm/train.h"

#include <cmath>
#include <memory>

#include "examples/common/report.h"
#include "normlab.h"

namespace mlp_norm {

namespace {

using nl::Tensor;

std::unique_ptr<nl::optim::Optimizer> make_optimizer(const RunConfig& cfg, const std::vector<Tensor>& params) {
  if (cfg.optim == "adam") return std::make_unique<nl::optim::Adam>(params, nl::optim::AdamOptions{.lr = cfg.lr});
  if (cfg.optim == "sgd")
    return std::make_unique<nl::optim::SGD>(params, nl::optim::SGDOptions{.lr = cfg.lr, .momentum = cfg.momentum});
  nl::fail("mlp_norm: --optim must be sgd or adam, got \"{}\"", cfg.optim);
}

// Test loss and accuracy in eval mode (BatchNorm uses its running statistics),
// in chunks of 1000 rows: views of the test set, no copies, no graph.
std::pair<double, double> evaluate(nl::layers::Module& model, const nl::data::MnistSplit& test) {
  nl::NoGradGuard no_grad;
  model.eval();
  double loss_sum = 0;
  int64_t correct = 0, n = test.size();
  for (int64_t begin = 0; begin < n; begin += 1000) {
    int64_t end = std::min(n, begin + 1000);
    Tensor logits = model(test.images.slice(0, begin, end));
    Tensor labels = test.labels.slice(0, begin, end);
    loss_sum += nl::cross_entropy(logits, labels).item<double>() * double(end - begin);
    std::vector<int64_t> predicted = logits.argmax(1).to_vector<int64_t>(), truth = labels.to_vector<int64_t>();
    for (size_t i = 0; i < truth.size(); ++i) correct += predicted[i] == truth[i];
  }
  model.train();
  return {loss_sum / double(n), double(correct) / double(n)};
}

void save_init(const nl::models::MLP& model, const nl::data::DataLoader& loader, const RunConfig& cfg) {
  examples::ensure_dir(cfg.save_init_dir);
  for (const auto& [name, tensor] : model.state_dict())
    nl::io::save_npy(cfg.save_init_dir + "/" + name + ".npy", tensor);
  std::vector<int64_t> order;
  for (int64_t epoch = 0; epoch < cfg.epochs; ++epoch) {
    std::vector<int64_t> epoch_order = nl::data::shuffled_indices(loader.num_samples(), cfg.seed, epoch);
    order.insert(order.end(), epoch_order.begin(), epoch_order.end());
  }
  nl::io::save_npy(cfg.save_init_dir + "/order.npy", nl::from_vector(order, {cfg.epochs, loader.num_samples()}));
}

}  // namespace

RunResult train_run(const RunConfig& cfg, const nl::data::Mnist& data, const std::string& steps_csv,
                    const std::string& label) {
  RunResult result{.config = cfg};
  nl::manual_seed(cfg.seed);  // the initial weights
  int64_t inputs = data.height * data.width;
  nl::models::MLP model({inputs, cfg.hidden, cfg.hidden, data.num_classes}, nl::models::parse_norm_kind(cfg.norm));
  std::unique_ptr<nl::optim::Optimizer> optimizer = make_optimizer(cfg, model.parameters());

  // drop_last: every step sees exactly batch_size samples, so BatchNorm's
  // statistics are always over batch_size values (the point of the experiment)
  nl::data::DataLoader loader(data.train.images, data.train.labels,
                              {.batch_size = cfg.batch_size, .shuffle = true, .seed = cfg.seed, .drop_last = true});
  result.steps_per_epoch = loader.size();
  if (!cfg.save_init_dir.empty()) save_init(model, loader, cfg);
  if (loader.size() == 0)
    nl::fail("mlp_norm: {} training samples make no full batch of {} (raise --limit or lower --batch-size)",
             data.train.size(), cfg.batch_size);
  int64_t total_steps = loader.size() * cfg.epochs;
  int64_t report_every = std::max<int64_t>(1, total_steps / 200);
  examples::Progress progress(label, total_steps);
  std::vector<std::string> rows;
  rows.reserve(size_t(total_steps));

  int64_t step = 0;
  for (int64_t epoch = 0; epoch < cfg.epochs && !result.diverged; ++epoch) {
    loader.set_epoch(epoch);
    for (const nl::data::Batch& batch : loader) {
      optimizer->zero_grad();
      Tensor loss = nl::cross_entropy(model(batch.inputs), batch.targets);
      loss.backward();
      optimizer->step();
      float value = loss.item<float>();
      result.losses.push_back(value);
      rows.push_back(fmt::format("{},{},{:.6g}", ++step, epoch, value));
      if (step % report_every == 0 || step == total_steps) progress.update(step, value);
      if (!std::isfinite(value)) {  // a diverged run is a result, not a crash
        result.diverged = true;
        break;
      }
    }
  }
  progress.finish();

  size_t tail = std::max<size_t>(1, result.losses.size() / 10);
  for (size_t i = result.losses.size() - tail; i < result.losses.size(); ++i)
    result.train_loss += result.losses[i] / double(tail);
  std::tie(result.test_loss, result.test_acc) = evaluate(model, data.test);
  result.seconds = progress.elapsed();
  examples::write_csv(steps_csv, "step,epoch,loss", rows);
  return result;
}

nlohmann::json to_json(const RunResult& result, const nl::data::Mnist& data) {
  const RunConfig& cfg = result.config;
  auto finite_or_null = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  return {{"norm", cfg.norm},
          {"batch_size", cfg.batch_size},
          {"epochs", cfg.epochs},
          {"lr", cfg.lr},
          {"optim", cfg.optim},
          {"momentum", cfg.momentum},
          {"seed", cfg.seed},
          {"hidden", cfg.hidden},
          {"steps", int64_t(result.losses.size())},
          {"train_samples", data.train.size()},
          {"test_samples", data.test.size()},
          {"threads", nl::get_num_threads()},
          {"test_acc", result.test_acc},
          {"test_loss", finite_or_null(result.test_loss)},
          {"train_loss", finite_or_null(result.train_loss)},
          {"diverged", result.diverged},
          {"seconds", result.seconds}};
}

}  // namespace mlp_norm
