#pragma once
// What the image-classifier programs (mlp_norm, cnn_norm) share around their
// training loops: the test-set evaluation, and the run's log as it is kept in
// a checkpoint so that a resumed run ends with the uninterrupted run's files.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "examples/common/checkpoint_options.h"
#include "examples/common/step_log.h"
#include "normlab.h"

namespace examples {

// Test loss and accuracy in eval mode (BatchNorm uses its running statistics),
// in chunks of 1000 rows: views of the test set, no copies, no graph. images
// is (n, ...) as the model takes it, labels (n) int64. Under data parallelism
// each rank evaluates its contiguous 1/N of the set and the sums are
// all-reduced, so every rank gets the same result. Leaves the model in
// training mode.
inline std::pair<double, double> evaluate_classifier(nl::layers::Module& model, const nl::Tensor& images,
                                                     const nl::Tensor& labels) {
  nl::NoGradGuard no_grad;
  model.eval();
  int64_t n = labels.numel(), ranks = nl::dist::world_size(), rank = nl::dist::rank();
  double sums[2] = {0, 0};  // loss × rows, correct predictions
  for (int64_t begin = n * rank / ranks, shard_end = n * (rank + 1) / ranks; begin < shard_end; begin += 1000) {
    int64_t end = std::min(shard_end, begin + 1000);
    nl::Tensor logits = model(images.slice(0, begin, end));
    nl::Tensor chunk_labels = labels.slice(0, begin, end);
    sums[0] += nl::cross_entropy(logits, chunk_labels).item<double>() * double(end - begin);
    std::vector<int64_t> predicted = logits.argmax(1).to_vector<int64_t>(), truth = chunk_labels.to_vector<int64_t>();
    for (size_t i = 0; i < truth.size(); ++i) sums[1] += predicted[i] == truth[i];
  }
  nl::dist::allreduce_sum(sums, 2, nl::dist::Traffic::other);
  model.train();
  return {sums[0] / double(n), sums[1] / double(n)};
}

// The data set in a checkpoint's identity: the training and test splits by
// size and fingerprint (nl::train::data_identity), not by path — --limit or
// another directory is another data set.
inline nl::io::Metadata mnist_identity(const nl::data::Mnist& data) {
  nl::io::Metadata id = nl::train::data_identity("train", {data.train.images, data.train.labels});
  id.merge(nl::train::data_identity("test", {data.test.images, data.test.labels}));
  return id;
}

// A run's log in a checkpoint's metadata entry `key`: steps.csv's rows, every
// step's loss (exactly, NaN and inf as text) and the seconds spent so far.
inline nl::io::Metadata run_log_metadata(const char* key, const StepLog& steps, const std::vector<float>& losses,
                                         double seconds) {
  nlohmann::json log = {{"step_rows", steps.rows()}, {"losses", exact_losses(losses)}, {"seconds", seconds}};
  return nl::io::Metadata{{key, log.dump()}};
}

// A resumed run: restores the rows and the losses from the checkpoint's entry
// `key` and returns the seconds spent before it.
inline double restore_run_log(const nl::train::CheckpointFile& file, const char* key, StepLog& steps,
                              std::vector<float>& losses) {
  nlohmann::json log = nlohmann::json::parse(nl::train::metadata_entry(file, key));
  steps.restore_rows(log.at("step_rows").get<std::vector<std::string>>());
  losses = losses_from_json<float>(log.at("losses"));
  return log.at("seconds").get<double>();
}

}  // namespace examples
