#include "examples/mlp_norm/train.h"

#include <cmath>
#include <memory>
#include <optional>

#include "examples/common/checkpoint_options.h"
#include "examples/common/classifier_run.h"
#include "examples/common/distributed.h"
#include "examples/common/job_checkpoints.h"
#include "examples/common/renorm_schedule.h"
#include "examples/common/stats.h"
#include "examples/common/step_log.h"
#include "examples/common/sweep_results.h"
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

void save_init(const nl::models::MLP& model, int64_t num_samples, const RunConfig& cfg) {
  nl::io::create_directories(cfg.save_init_dir);
  for (const auto& [name, tensor] : model.state_dict())
    nl::io::save_npy(cfg.save_init_dir + "/" + name + ".npy", tensor);
  std::vector<int64_t> order;
  for (int64_t epoch = 0; epoch < cfg.epochs; ++epoch) {
    std::vector<int64_t> epoch_order = nl::data::shuffled_indices(num_samples, cfg.seed, epoch);
    order.insert(order.end(), epoch_order.begin(), epoch_order.end());
  }
  nl::io::save_npy(cfg.save_init_dir + "/order.npy", nl::from_vector(order, {cfg.epochs, num_samples}));
}

// This rank's samples of an epoch, in order. The epoch's order is the one a
// single process's DataLoader uses (shuffled_indices from seed and epoch);
// DistributedSampler deals its positions round-robin to the ranks (rank r gets
// positions r, r+N, r+2N, ...; drop_last cuts the tail to a multiple of N).
// So per-rank batch b of all N ranks together is batch b of one process with
// batch size N·B: the same samples in the same step, only split. In a world
// of one process it is the whole order, and the run is the single-process one.
std::vector<int64_t> epoch_samples(const nl::dist::DistributedSampler& sampler, int64_t num_samples, uint64_t seed,
                                   int64_t epoch) {
  std::vector<int64_t> order = nl::data::shuffled_indices(num_samples, seed, epoch), mine;
  for (int64_t position : sampler.indices()) mine.push_back(order[size_t(position)]);
  return mine;
}

// What a resumed run must share with its checkpoint: the model, the
// optimizer, the batch size and epochs, the seed, and the data (by size and
// fingerprint, not path: --limit or another directory is another data set);
// distributed, also --sync-bn (the world size is JobCheckpoints').
nl::io::Metadata identity(const RunConfig& cfg, const nl::data::Mnist& data) {
  nl::io::Metadata id = {
      {"program", "mlp_norm"},
      {"model", fmt::format("MLP {}-{}-{}-{}", data.height * data.width, cfg.hidden, cfg.hidden, data.num_classes)},
      {"norm", cfg.norm},
      {"optimizer", cfg.optim},
      {"lr", nl::train::exact_text(cfg.lr)},
      {"momentum", nl::train::exact_text(cfg.momentum)},
      {"batch_size", std::to_string(cfg.batch_size)},
      {"epochs", std::to_string(cfg.epochs)},
      {"seed", std::to_string(cfg.seed)}};
  id.merge(examples::mnist_identity(data));
  if (cfg.distributed) id["sync_bn"] = cfg.sync_bn ? "true" : "false";
  return id;
}

// The metadata entry holding a run's log so far: steps.csv's rows, the losses
// and the seconds spent.
constexpr const char* kRunLogKey = "mlp_norm_run_log";

}  // namespace

RunResult train_run(const RunConfig& cfg, const nl::data::Mnist& data, const std::string& steps_csv,
                    const std::string& label) {
  RunResult result{.config = cfg};
  nl::manual_seed(cfg.seed);  // the initial weights
  int64_t inputs = data.height * data.width;
  nl::models::MLP model({inputs, cfg.hidden, cfg.hidden, data.num_classes}, nl::models::parse_norm_kind(cfg.norm));
  if (cfg.sync_bn) nl::dist::convert_sync_batchnorm(model);
  // distributed: checks that every rank built the same model and copies rank 0's weights to all
  std::optional<nl::dist::DataParallel> ddp;
  if (cfg.distributed) ddp.emplace(model);
  std::unique_ptr<nl::optim::Optimizer> optimizer = make_optimizer(cfg, model.parameters());

  // drop_last (here and per rank): every step sees exactly batch_size samples
  // per rank, so BatchNorm's statistics are always over batch_size values (the
  // point of the experiment), or over N × batch_size with SyncBatchNorm
  int64_t num_samples = data.train.size(), ranks = nl::dist::world_size();
  nl::dist::DistributedSampler sampler(num_samples, {.shuffle = false, .drop_last = true});
  result.steps_per_epoch = sampler.num_samples() / cfg.batch_size;
  if (!cfg.save_init_dir.empty()) save_init(model, num_samples, cfg);
  if (result.steps_per_epoch == 0)
    nl::fail("mlp_norm: {} training samples make no full batch of {}{} (raise --limit or lower --batch-size)",
             num_samples, cfg.batch_size * ranks,
             ranks > 1 ? fmt::format(" ({} per process x {} processes)", cfg.batch_size, ranks) : "");
  int64_t total_steps = result.steps_per_epoch * cfg.epochs;
  int64_t report_every = std::max<int64_t>(1, total_steps / 200);
  bool prints = nl::dist::is_main();  // rank 0 shows progress and writes
  nl::train::Progress progress(label, total_steps);
  Tensor images = data.train.images.contiguous(), labels = data.train.labels.contiguous();

  examples::StepLog steps(cfg.distributed);  // steps.csv; distributed: each step's time and communication
  // distributed: rank 0 writes, every rank resumes (examples/common/job_checkpoints.h)
  examples::JobCheckpoints checkpoints(
      cfg.checkpoint, [&] { return identity(cfg, data); }, total_steps, cfg.distributed);
  int64_t step = 0;
  double prior_seconds = 0;  // resumed: the run's time before the checkpoint
  if (auto resumed = checkpoints.start(model, optimizer.get(), nullptr)) {
    step = resumed->step;
    prior_seconds = examples::restore_run_log(resumed->file, kRunLogKey, steps, result.losses);
    if (resumed->rank_steps) steps.restore_total(*resumed->rank_steps);
    progress.resumed_at(step);
  }
  auto run_log = [&] {  // the seconds are rank 0's (it writes)
    return examples::run_log_metadata(kRunLogKey, steps, result.losses, prior_seconds + progress.elapsed());
  };
  // after global step s: epoch s / steps_per_epoch, its batch s % steps_per_epoch next
  for (int64_t epoch = step / result.steps_per_epoch; epoch < cfg.epochs && !result.diverged; ++epoch) {
    std::vector<int64_t> mine = epoch_samples(sampler, num_samples, cfg.seed, epoch);
    for (int64_t b = step % result.steps_per_epoch; b < result.steps_per_epoch && !result.diverged; ++b) {
      std::vector<int64_t> batch(mine.begin() + b * cfg.batch_size, mine.begin() + (b + 1) * cfg.batch_size);
      Tensor x = nl::data::gather_rows(images, batch), y = nl::data::gather_rows(labels, batch);
      if (model.norm == nl::models::NormKind::renorm) {  // Ioffe's schedule, relaxed over the run
        auto [r_max, d_max] = examples::renorm_limits(step + 1, total_steps);
        nl::layers::set_renorm_limits(model, r_max, d_max);
      }
      steps.begin();
      optimizer->zero_grad();
      Tensor loss = nl::cross_entropy(model(x), y);
      loss.backward();
      if (ddp) ddp->average_gradients();  // grad ← the mean over the ranks: the global batch's gradient
      optimizer->step();
      // the global batch's loss (the mean over the ranks' equal shards): every
      // rank gets the same value, so all stop together if it is not finite
      float value = float(nl::dist::allreduce_mean(loss.item<double>()));
      steps.end(fmt::format("{},{},{:.6g}", ++step, epoch, value));
      result.losses.push_back(value);
      if (prints && (step % report_every == 0 || step == total_steps)) progress.update(step, value);
      result.diverged = !std::isfinite(value);  // a diverged run is a result, not a crash
      if (!result.diverged && checkpoints.due(step))
        checkpoints.write(step, model, optimizer.get(), nullptr, steps.total(), run_log());
    }
  }
  if (prints) progress.finish();

  result.train_loss = examples::mean_of_last(result.losses, result.losses.size() / 10);
  if (ddp) {
    result.params_in_sync = ddp->parameters_in_sync();
    result.buffers_in_sync = ddp->buffers_in_sync();
    // BatchNorm1d's running statistics follow each rank's shard: evaluate (on
    // every rank) with rank 0's, as its checkpoint would have them. SyncBatchNorm's
    // and the parameters are identical on all ranks already.
    ddp->broadcast_buffers();
  }
  std::tie(result.test_loss, result.test_acc) = examples::evaluate_classifier(model, data.test.images, data.test.labels);
  result.seconds = prior_seconds + progress.elapsed();
  if (cfg.distributed) result.distributed = examples::summarize_steps(steps.total());
  if (prints)
    nl::train::write_csv(steps_csv, examples::StepLog::header("step,epoch,loss", cfg.distributed), steps.rows());
  return result;
}

nlohmann::json to_json(const RunResult& result, const nl::data::Mnist& data) {
  const RunConfig& cfg = result.config;
  nlohmann::json j = {{"norm", cfg.norm}, {"batch_size", cfg.batch_size}, {"epochs", cfg.epochs},
                      {"lr", cfg.lr},     {"optim", cfg.optim},           {"momentum", cfg.momentum},
                      {"seed", cfg.seed}, {"hidden", cfg.hidden}};
  j.update(examples::result_json(result, data));
  if (result.distributed) {
    j.update(result.distributed->to_json());  // processes, per_step, total
    j["global_batch"] = cfg.batch_size * result.distributed->processes;
    j["sync_bn"] = cfg.sync_bn;
    j["params_in_sync"] = result.params_in_sync;
    j["buffers_in_sync"] = result.buffers_in_sync;
  }
  return j;
}

}  // namespace mlp_norm
