#pragma once
// One training run of cnn_norm: models::CNN (the norm as the switch) trained
// with SGD + momentum on the MNIST-format training set, then evaluated on the
// test set.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "data/mnist.h"
#include "train/run_checkpoints.h"

namespace cnn_norm {

// The learning rate of a batch size: Wu & He's linear scaling rule,
// lr = base_lr · batch_size / 32.
double scaled_lr(double base_lr, int64_t batch_size);

struct RunConfig {
  std::string norm = "batch";  // models::CNNNorm's names
  int64_t batch_size = 128;
  int64_t epochs = 1;
  double lr = 0.08;  // scaled_lr(0.02, 128)
  double momentum = 0.9;
  int64_t groups = 8;  // norm group: GroupNorm's groups
  uint64_t seed = 0;
  bool noniid = false;  // batches of two classes (batches.h)
  // If set: the initial state dict (<name>.npy, PyTorch's names) and the batch
  // order (order.npy, steps × batch_size) are written there, for
  // torch_cnn_norm.py --init-from.
  std::string save_init_dir;
  nl::train::CheckpointOptions checkpoint;  // --checkpoint-dir, --resume: see train_run
};

struct RunResult {
  RunConfig config;
  std::vector<float> losses;  // training loss of every step, in order
  double train_loss = 0;      // mean over the last 10% of steps (at least one)
  double test_loss = 0, test_acc = 0;
  double seconds = 0;     // training + evaluation, without loading the data
  bool diverged = false;  // a non-finite loss stopped training
};

// Trains one CNN from cfg.seed: the same seed gives the same initial weights
// and the same batches whatever the norm. Writes every step's loss to
// steps_csv (step,epoch,loss) and shows a progress line labelled `label`.
// With cfg.checkpoint.dir, checkpoints there as mlp_norm does
// (examples/common/job_checkpoints.h): the model, the optimizer, the global
// generator and the log; the batches need nothing more (batches.h), and a
// resumed run ends as the uninterrupted one, bit for bit.
RunResult train_run(const RunConfig& cfg, const nl::data::Mnist& data, const std::string& steps_csv,
                    const std::string& label);

// The run's JSON: the config, the data sizes and the results.
nlohmann::json to_json(const RunResult& result, const nl::data::Mnist& data);

}  // namespace cnn_norm
