#pragma once
// RunCheckpoints: the checkpoint policy of one training run — what a loop
// needs for --checkpoint-dir, --checkpoint-every, --keep-checkpoints and
// --resume — on top of CheckpointDir (the files) and InterruptHandler (the
// signals). It
//   - refuses a directory that already holds checkpoints unless resuming
//     (their run would be mixed with this one);
//   - resuming, hands back the newest valid checkpoint whose metadata matches
//     the run's identity (CheckpointDir::newest_valid: a damaged newest file is
//     skipped with a warning, another run's is refused, an empty directory is
//     "nothing to resume"; so is a job's of several processes, whose identity
//     has the entry "processes", when this run's has not);
//   - after each step, writes a checkpoint when one is due — every `every`
//     steps, after the last step, and when SIGINT or SIGTERM arrived — with the
//     identity and the caller's log (metadata entries) in its metadata; then,
//     interrupted, throws Interrupted saying what it wrote and how to resume.
// Without a directory it does nothing and installs no signal handler, so a
// run without the flags is the run it always was.
//
//   nl::train::RunCheckpoints checkpoints(options, [&] { return identity; }, steps);
//   int64_t start = 0;
//   if (auto file = checkpoints.start()) {
//     start = nl::train::load_checkpoint(*file, model, &opt);
//     log.restore(nl::train::metadata_entry(*file, "run_log"));
//   }
//   for (int64_t step = start + 1; step <= steps; ++step) {
//     ...
//     checkpoints.after_step(step, model, &opt, nullptr, [&] { return nl::io::Metadata{{"run_log", log.dump()}}; });
//   }
//
// Programs that train several configurations in one invocation (a sequence
// of runs) give each run a subdirectory of its own, dir/<name>
// (member_options); check_sequence refuses or accepts the directory for the
// sequence as a whole. A finished run's last checkpoint stays (it is its
// directory's newest), so a resumed sequence loads it and goes straight to
// the run's evaluation, which is a function of the parameters alone.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "train/checkpoint.h"
#include "train/checkpoint_dir.h"
#include "train/interrupt.h"

namespace nl::train {

struct CheckpointOptions {
  std::string dir;      // empty: no checkpoints and no signal handling
  int64_t every = 0;    // steps between checkpoints (0: only after the last step and when interrupted)
  int64_t keep = 2;     // the newest this many are kept
  bool resume = false;  // continue from the newest valid checkpoint in dir
};

class RunCheckpoints {
 public:
  // identity(): what a resumed run must share with the checkpoint (model
  // shape, optimizer, data set, ...), called only when options.dir is set (a
  // data set's fingerprint takes a moment); steps: the run's last step.
  RunCheckpoints(const CheckpointOptions& options, const std::function<io::Metadata()>& identity, int64_t steps);

  bool active() const { return dir_.has_value(); }

  // Resuming: the newest valid checkpoint of this run, to pass to
  // load_checkpoint and to read the caller's log from; "resuming from ..." is
  // said on stderr. Not resuming (or inactive): nullopt, after refusing a
  // directory that already holds checkpoints.
  std::optional<CheckpointFile> start() const;

  // After `step`: a checkpoint when one is due, its metadata the identity and
  // log()'s entries (log is called only then); then, if a signal arrived,
  // throws Interrupted. That is, with the parts below:
  //   int signal = this->signal();
  //   if (due(step, signal)) {
  //     std::string path = save(step, model, optimizer, scheduler, log());
  //     if (signal) throw interrupted(signal, step, path);
  //   }
  void after_step(int64_t step, const layers::Module& model, const optim::Optimizer* optimizer,
                  const optim::LRScheduler* scheduler, const std::function<io::Metadata()>& log);

  // after_step's parts, for a loop whose processes must first agree on
  // whether to write and stop (examples/common/job_checkpoints.h):
  //  - signal: SIGINT or SIGTERM if one arrived, else 0;
  //  - due: whether a checkpoint is due after `step` (every `every` steps,
  //    after the last step, and when a signal arrived);
  //  - save: writes it, the identity and the log's entries in its metadata;
  //    returns its path;
  //  - interrupted: the Interrupted that ends a run stopped by `signal` after
  //    writing `path`, saying how to resume ("run the same command<how> with
  //    --resume").
  int signal() const;
  bool due(int64_t step, int signal) const;
  std::string save(int64_t step, const layers::Module& model, const optim::Optimizer* optimizer,
                   const optim::LRScheduler* scheduler, const io::Metadata& log);
  Interrupted interrupted(int signal, int64_t step, const std::string& path, const std::string& how = "") const;

  // Only when active():
  const CheckpointDir& dir() const { return *dir_; }
  const io::Metadata& identity() const { return identity_; }

 private:
  CheckpointOptions options_;
  io::Metadata identity_;
  int64_t steps_;
  std::optional<CheckpointDir> dir_;
  std::optional<InterruptHandler> interrupt_;
};

// The metadata entry `key` of a checkpoint, or an nl::Error naming the file:
// without it, the file is not a checkpoint of the program reading it.
const std::string& metadata_entry(const CheckpointFile& file, const std::string& key);

// The options of run `name` of a sequence: its checkpoints in
// sequence.dir/name. Resuming the sequence, a run without checkpoints starts
// afresh (the sequence stopped before it began, or before its first
// checkpoint: either way it starts from its seed).
CheckpointOptions member_options(const CheckpointOptions& sequence, const std::string& name);

// Before a sequence of runs starts: resuming, refuses ("nothing to resume")
// a directory where no run has a checkpoint; otherwise refuses one where any
// has (add --resume, or choose another directory). Nothing when inactive.
void check_sequence(const CheckpointOptions& sequence, const std::vector<std::string>& names);

// Identity helpers. The text of a double: "%.17g" round-trips, so equal text
// is an equal value.
std::string exact_text(double v);
// A data set's identity entries: "<name>_size" (its rows) and "<name>_fnv1a"
// (FNV-1a 64 of the bytes of every tensor, in order), so a resumed run must
// see the same data whatever its path.
io::Metadata data_identity(const std::string& name, const std::vector<Tensor>& tensors);

}  // namespace nl::train
