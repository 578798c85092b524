#include "examples/cnn_norm/train.h"

#include <algorithm>
#include <cmath>

#include "examples/cnn_norm/batches.h"
#include "examples/common/classifier_run.h"
#include "examples/common/job_checkpoints.h"
#include "examples/common/renorm_schedule.h"
#include "examples/common/stats.h"
#include "examples/common/step_log.h"
#include "examples/common/sweep_results.h"
#include "normlab.h"

namespace cnn_norm {

namespace {

using nl::Tensor;

nl::models::CNNConfig model_config(const RunConfig& cfg, const nl::data::Mnist& data) {
  if (data.height != data.width)
    nl::fail("cnn_norm: models::CNN takes square images; the data's are {}x{}", data.height, data.width);
  return {.in_channels = 1,
          .image_size = data.height,
          .num_classes = data.num_classes,
          .norm = nl::models::parse_cnn_norm(cfg.norm),
          .groups = cfg.groups};
}

// Every epoch's batches, in order (batches.h). The whole run's order is known
// before the first step: its length is the progress line's total, and a
// resumed run finds its place in it by counting steps.
std::vector<std::vector<std::vector<int64_t>>> run_batches(const RunConfig& cfg, const nl::data::Mnist& data) {
  std::vector<int64_t> labels = data.train.labels.to_vector<int64_t>();
  std::vector<std::vector<std::vector<int64_t>>> epochs;
  for (int64_t e = 0; e < cfg.epochs; ++e)
    epochs.push_back(epoch_batches(labels, data.num_classes, cfg.batch_size, cfg.seed, e, cfg.noniid));
  if (epochs.front().empty())
    nl::fail("cnn_norm: {} training samples make no full batch of {}{} (raise --limit or lower --batch-size)",
             labels.size(), cfg.batch_size, cfg.noniid ? " from two classes" : "");
  return epochs;
}

void save_init(const nl::layers::Module& model, const std::vector<std::vector<std::vector<int64_t>>>& epochs,
               const RunConfig& cfg) {
  nl::io::create_directories(cfg.save_init_dir);
  for (const auto& [name, tensor] : model.state_dict())
    nl::io::save_npy(cfg.save_init_dir + "/" + name + ".npy", tensor);
  std::vector<int64_t> order;
  for (const auto& epoch : epochs)
    for (const auto& batch : epoch) order.insert(order.end(), batch.begin(), batch.end());
  int64_t steps = int64_t(order.size()) / cfg.batch_size;
  nl::io::save_npy(cfg.save_init_dir + "/order.npy", nl::from_vector(order, {steps, cfg.batch_size}));
}

// What a resumed run must share with its checkpoint (as mlp_norm's): the
// model, the optimizer, the batches and the data by size and fingerprint.
nl::io::Metadata identity(const RunConfig& cfg, const nl::data::Mnist& data) {
  nl::io::Metadata id = {{"program", "cnn_norm"},
                         {"model", fmt::format("CNN 32-64-128 on {}x{}", data.height, data.width)},
                         {"norm", cfg.norm},
                         {"groups", std::to_string(cfg.groups)},
                         {"optimizer", "sgd"},
                         {"lr", nl::train::exact_text(cfg.lr)},
                         {"momentum", nl::train::exact_text(cfg.momentum)},
                         {"batch_size", std::to_string(cfg.batch_size)},
                         {"noniid", cfg.noniid ? "true" : "false"},
                         {"epochs", std::to_string(cfg.epochs)},
                         {"seed", std::to_string(cfg.seed)}};
  id.merge(examples::mnist_identity(data));
  return id;
}

constexpr const char* kRunLogKey = "cnn_norm_run_log";

}  // namespace

double scaled_lr(double base_lr, int64_t batch_size) { return base_lr * double(batch_size) / 32.0; }

RunResult train_run(const RunConfig& cfg, const nl::data::Mnist& data, const std::string& steps_csv,
                    const std::string& label) {
  RunResult result{.config = cfg};
  nl::manual_seed(cfg.seed);  // the initial weights
  nl::models::CNN model(model_config(cfg, data));
  nl::optim::SGD optimizer(model.parameters(), {.lr = cfg.lr, .momentum = cfg.momentum});
  std::vector<std::vector<std::vector<int64_t>>> epochs = run_batches(cfg, data);
  if (!cfg.save_init_dir.empty()) save_init(model, epochs, cfg);
  int64_t total_steps = 0;
  for (const auto& epoch : epochs) total_steps += int64_t(epoch.size());
  int64_t report_every = std::max<int64_t>(1, total_steps / 200);
  nl::train::Progress progress(label, total_steps);
  Tensor images = data.train.images.contiguous().view({data.train.size(), 1, data.height, data.width});
  Tensor labels = data.train.labels.contiguous();
  bool renorm = model.config.norm == nl::models::CNNNorm::batch_renorm;

  examples::StepLog steps(false);
  examples::JobCheckpoints checkpoints(
      cfg.checkpoint, [&] { return identity(cfg, data); }, total_steps, false);
  int64_t step = 0;
  double prior_seconds = 0;  // resumed: the run's time before the checkpoint
  if (auto resumed = checkpoints.start(model, &optimizer, nullptr)) {
    step = resumed->step;
    prior_seconds = examples::restore_run_log(resumed->file, kRunLogKey, steps, result.losses);
    progress.resumed_at(step);
  }
  // the global step of each epoch's first batch: a resumed run skips the batches before `step`
  int64_t epoch_start = 0;
  for (size_t e = 0; e < epochs.size() && !result.diverged; epoch_start += int64_t(epochs[e].size()), ++e)
    for (int64_t b = std::max<int64_t>(0, step - epoch_start); b < int64_t(epochs[e].size()) && !result.diverged;
         ++b) {
      Tensor x = nl::data::gather_rows(images, epochs[e][size_t(b)]);
      Tensor y = nl::data::gather_rows(labels, epochs[e][size_t(b)]);
      if (renorm) {  // Ioffe's schedule, relaxed over the run
        auto [r_max, d_max] = examples::renorm_limits(step + 1, total_steps);
        model.set_renorm_limits(r_max, d_max);
      }
      steps.begin();
      optimizer.zero_grad();
      Tensor loss = nl::cross_entropy(model(x), y);
      loss.backward();
      optimizer.step();
      float value = loss.item<float>();
      steps.end(fmt::format("{},{},{:.6g}", ++step, e, value));
      result.losses.push_back(value);
      if (step % report_every == 0 || step == total_steps) progress.update(step, value);
      result.diverged = !std::isfinite(value);  // a diverged run is a result, not a crash
      if (!result.diverged && checkpoints.due(step))
        checkpoints.write(step, model, &optimizer, nullptr, steps.total(),
                          examples::run_log_metadata(kRunLogKey, steps, result.losses,
                                                     prior_seconds + progress.elapsed()));
    }
  progress.finish();

  result.train_loss = examples::mean_of_last(result.losses, result.losses.size() / 10);
  Tensor test_images = data.test.images.contiguous().view({data.test.size(), 1, data.height, data.width});
  std::tie(result.test_loss, result.test_acc) = examples::evaluate_classifier(model, test_images, data.test.labels);
  result.seconds = prior_seconds + progress.elapsed();
  nl::train::write_csv(steps_csv, "step,epoch,loss", steps.rows());
  return result;
}

nlohmann::json to_json(const RunResult& result, const nl::data::Mnist& data) {
  const RunConfig& cfg = result.config;
  nlohmann::json j = {{"norm", cfg.norm},         {"batch_size", cfg.batch_size}, {"epochs", cfg.epochs},
                      {"lr", cfg.lr},             {"momentum", cfg.momentum},     {"seed", cfg.seed},
                      {"noniid", cfg.noniid}};
  j.update(examples::result_json(result, data));
  return j;
}

}  // namespace cnn_norm
