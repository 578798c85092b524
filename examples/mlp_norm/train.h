#pragma once
// One training run of mlp_norm: an MLP 784-256-256-10 (norm before each ReLU)
// trained on the MNIST-format training set, then evaluated on the test set;
// on one process, or data-parallel on every process of an MPI job (distributed).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/mnist.h"
#include "examples/common/distributed.h"
#include "train/run_checkpoints.h"

namespace mlp_norm {

struct RunConfig {
  std::string norm = "layer";  // none | batch | layer | rms | renorm
  int64_t batch_size = 128;
  int64_t epochs = 1;
  double lr = 0.05;
  std::string optim = "sgd";  // sgd | adam
  double momentum = 0;        // SGD only
  uint64_t seed = 0;
  int64_t hidden = 256;  // width of both hidden layers
  // If set: the initial weights (<name>.npy, PyTorch's state_dict names) and
  // every epoch's sample order (order.npy, epochs × n) are written there, so
  // torch_mlp_norm.py --init-from can run the very same training step by step.
  std::string save_init_dir;
  // Data-parallel training over the processes of an MPI job (nl::dist::Context
  // alive): batch_size samples per rank and step, gradients averaged
  // (DataParallel). sync_bn (norm "batch" only): SyncBatchNorm, statistics over
  // the global batch, instead of BatchNorm1d's per-rank statistics.
  bool distributed = false;
  bool sync_bn = false;
  // --checkpoint-dir and --resume (train/run_checkpoints.h; one process only):
  // see train_run.
  nl::train::CheckpointOptions checkpoint;
};

struct RunResult {
  RunConfig config;
  std::vector<float> losses;  // training loss of every step, in order
  int64_t steps_per_epoch = 0;
  double train_loss = 0;  // mean over the last 10% of steps (at least one)
  double test_loss = 0, test_acc = 0;
  double seconds = 0;     // training + evaluation, without loading the data
  bool diverged = false;  // a non-finite loss stopped training
  // distributed only
  std::optional<examples::StepSummary> distributed;  // the training steps' time and communication
  bool params_in_sync = true;                        // all ranks' parameters bitwise identical after training
  bool buffers_in_sync = true;                       // ... and buffers (running statistics), before evaluation
};

// Trains one model from cfg.seed: the same seed gives the same initial
// weights and the same batch order whatever the norm. Writes the loss of every
// step to steps_csv (columns step,epoch,loss; distributed: and the step's time
// and communication, examples/common/step_log.h). The progress line is
// labelled `label`. Distributed: call it on every rank (it ends with
// collectives); only rank 0 shows progress and writes steps_csv, and N ranks ×
// batch_size see, step by step, the batches of one process with batch size
// N × batch_size.
//
// With cfg.checkpoint.dir, checkpoints there (nl::train::RunCheckpoints):
// the model, the optimizer, the global generator and the run's log (the CSV
// rows and losses so far). The data order needs no state of its own: epoch
// e's order is shuffled_indices(n, seed, e), a function of (seed, e) alone,
// and after global step s (counted from 1) the run is at epoch
// e = s / steps_per_epoch, batch b = s % steps_per_epoch of it — so a resumed
// run sees the same batches as the uninterrupted one. Resuming (and on
// SIGINT/SIGTERM: a checkpoint, then nl::train::Interrupted) as the LM loop.
RunResult train_run(const RunConfig& cfg, const nl::data::Mnist& data, const std::string& steps_csv,
                    const std::string& label);

// The final JSON line: the config, the data sizes and the results.
// Distributed: also the processes, global batch, whether the ranks stayed in
// sync, and the communication per step and in total (times are means over the
// ranks, examples::StepSummary).
nlohmann::json to_json(const RunResult& result, const nl::data::Mnist& data);

}  // namespace mlp_norm
