#pragma once
// CheckpointDir: the checkpoints of one training run in a directory, named by
// step (step_<N>.safetensors), each written atomically by save_checkpoint. It
// keeps the newest `keep`, and on resume finds the newest one that reads back
// intact: a damaged newest file (bad checksum, truncated, not a checkpoint) is
// skipped with a warning naming it, and the one before it is used. A file
// written by a different run — its metadata differs from what the caller
// expects (model shape, cell, optimizer, data set, ...) — is refused with an
// nl::Error naming the file and every difference, not skipped: resuming
// something else quietly would be worse than stopping.
//
//   nl::train::CheckpointDir checkpoints("out/ckpt", /*keep=*/2);
//   nl::io::Metadata run = {{"model", "lstm 256"}, {"optimizer", "adam"}};
//   int64_t start = 0;
//   if (resume) start = nl::train::load_checkpoint(checkpoints.newest_valid(run), model, &opt, &sched);
//   for (int64_t step = start + 1; step <= steps; ++step) {
//     ...
//     if (step % every == 0) checkpoints.save(step, model, &opt, &sched, run);
//   }
#include <cstdint>
#include <string>
#include <vector>

#include "train/checkpoint.h"

namespace nl::train {

class CheckpointDir {
 public:
  // keep >= 1. The directory is created by the first save().
  CheckpointDir(std::string dir, int64_t keep = 2);

  const std::string& dir() const { return dir_; }
  // dir/step_<step>.safetensors
  std::string path(int64_t step) const;

  struct Entry {
    int64_t step;
    std::string path;
  };
  // The checkpoints present, oldest first (other files are ignored; none when dir does not exist).
  std::vector<Entry> list() const;

  // Writes the checkpoint of `step`, then deletes all but the newest `keep`
  // and any temporary file a killed writer left behind. Returns its path.
  std::string save(int64_t step, const layers::Module& model, const optim::Optimizer* optimizer,
                   const optim::LRScheduler* scheduler, const io::Metadata& metadata);

  // The newest checkpoint that reads back intact (see above), to pass to
  // load_checkpoint. Its metadata must hold every entry of `expected` with
  // the same value. An nl::Error when the directory has no checkpoint ("nothing
  // to resume") or none reads back.
  CheckpointFile newest_valid(const io::Metadata& expected) const;

 private:
  std::string dir_;
  int64_t keep_;
};

// Refuses (an nl::Error naming the file and each difference) a checkpoint
// whose metadata lacks an entry of `expected` or has another value for it.
void require_same_run(const CheckpointFile& file, const io::Metadata& expected);

}  // namespace nl::train
