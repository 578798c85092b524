#pragma once
// Checkpoints of the language-model loop (lm_training.h): --checkpoint-dir,
// --checkpoint-every, --keep-checkpoints and --resume (lm_program.h), so that
// a run killed at any step — SIGKILL included — and resumed ends exactly as
// the uninterrupted run: the same losses, CSV rows and parameters, bit for bit.
//
// A checkpoint (nl::train::CheckpointDir: DIR/step_<N>.safetensors, written
// atomically, the newest --keep-checkpoints kept) holds the model, the
// optimizer, the schedule and the global generator, whose (seed, offset) is
// the data order — every batch is drawn from it — and dropout's masks; and in
// its metadata the run's identity (below) and its log so far (LMRunLog: the
// CSV rows, losses and validation curve), so the resumed run writes
// steps.csv, eval.csv and results.json of the whole run at its end, with every
// step once. Written every --checkpoint-every steps, after the last step, and
// when SIGINT or SIGTERM arrives (the step finishes first; then the run ends
// with 128 + signal, saying how to resume; a second signal exits at once).
//
// The identity is what a resumed run must share with the checkpoint: the
// program's model options (LMCheckpointing::identity), the run's label (the
// cell or norm), the training options (steps, batch, lengths, optimizer,
// learning rate, schedule, clipping, evaluation, seed) and the data set (its
// size and FNV-1a fingerprint). A difference is refused, naming the file and
// the option; --threads, --out and the sampling options may change.
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "normlab.h"

namespace examples {

struct LMCheckpointing {
  std::string dir;            // empty: no checkpoints and no signal handling (the run is as before)
  int64_t every = 0;          // steps between checkpoints (0: only after the last step and when interrupted)
  int64_t keep = 2;           // the newest this many are kept
  bool resume = false;        // continue from the newest valid checkpoint in dir
  nl::io::Metadata identity;  // the program's model options, each as text
};

// The text of a double for an identity entry: "%.17g" round-trips, so equal text is an equal value.
inline std::string exact_text(double v) { return fmt::format("{:.17g}", v); }

namespace detail {

// The metadata entry that holds LMRunLog's record of the run so far.
inline constexpr const char* kRunLogKey = "lm_run_log";

// Saves and restores one run of the loop; inactive without --checkpoint-dir.
// Config is LMTrainConfig and Log LMRunLog: templates only because
// lm_training.h, which includes this header, defines them.
class LMCheckpoints {
 public:
  template <typename Config>
  LMCheckpoints(const Config& cfg, const nl::data::TextCorpus& corpus, const std::string& label)
      : options_(cfg.checkpoint), steps_(cfg.steps) {
    if (options_.dir.empty()) return;
    if (cfg.distributed) nl::fail("--checkpoint-dir is not supported with --distributed yet");
    identity_ = options_.identity;
    const std::string& text = corpus.text();
    identity_.insert({{"run", label},
                      {"corpus_characters", std::to_string(text.size())},
                      {"corpus_fnv1a", fmt::format("{:016x}", nl::train::fnv1a(text.data(), text.size()))},
                      {"steps", std::to_string(cfg.steps)},
                      {"batch_size", std::to_string(cfg.batch_size)},
                      {"seq_len", std::to_string(cfg.seq_len)},
                      {"eval_seq_len", std::to_string(cfg.eval_seq_len)},
                      {"eval_every", std::to_string(cfg.eval_every)},
                      {"eval_batches", std::to_string(cfg.eval_batches)},
                      {"optimizer", cfg.optimizer},
                      {"lr", exact_text(cfg.lr)},
                      {"weight_decay", exact_text(cfg.weight_decay)},
                      {"clip", exact_text(cfg.clip)},
                      {"warmup", std::to_string(cfg.warmup)},
                      {"seed", std::to_string(cfg.seed)}});
    dir_.emplace(options_.dir, options_.keep);
    interrupt_.emplace();
  }

  // The step to continue after: resuming, the newest valid checkpoint's, with
  // model, optimizer, schedule, generator and log restored from it; else 0
  // (and a directory that already holds checkpoints is refused: their run
  // would be mixed with this one).
  template <typename Log>
  int64_t start(nl::layers::Module& model, nl::optim::Optimizer& opt, nl::optim::LRScheduler& schedule, Log& log) {
    if (!dir_) return 0;
    if (!options_.resume) {
      if (auto entries = dir_->list(); !entries.empty())
        nl::fail(
            "{} already holds checkpoints (the newest: {}); add --resume to continue that run, or choose "
            "another --checkpoint-dir",
            dir_->dir(), entries.back().path);
      return 0;
    }
    nl::train::CheckpointFile file = dir_->newest_valid(identity_);
    int64_t step = nl::train::load_checkpoint(file, model, &opt, &schedule);
    auto run_log = file.metadata.find(kRunLogKey);
    if (run_log == file.metadata.end())
      nl::fail("resume: {}: no \"{}\" in its metadata: not a checkpoint of this program", file.path, kRunLogKey);
    log.restore(nlohmann::json::parse(run_log->second), step);
    fmt::print(stderr, "resuming from {} (step {} of {})\n", file.path, step, steps_);
    return step;
  }

  // After the step (and its evaluation): a checkpoint when one is due or a
  // signal arrived; then, interrupted, the run ends (nl::train::Interrupted).
  template <typename Log>
  void after_step(int64_t step, const nl::layers::Module& model, const nl::optim::Optimizer& opt,
                  const nl::optim::LRScheduler& schedule, Log& log) {
    if (!dir_) return;
    bool interrupted = interrupt_->requested();
    if (!interrupted && step != steps_ && (options_.every == 0 || step % options_.every != 0)) return;
    std::string path;
    log.checkpoint([&](const nlohmann::json& state) {
      nl::io::Metadata metadata = identity_;
      metadata[kRunLogKey] = state.dump();
      path = dir_->save(step, model, &opt, &schedule, metadata);
    });
    if (interrupted)
      throw nl::train::Interrupted(
          interrupt_->signal(),
          fmt::format("interrupted by {} after step {} of {}: wrote {}\nto continue, run the same command with "
                      "--resume (it resumes from the newest checkpoint in {})",
                      nl::train::signal_name(interrupt_->signal()), step, steps_, path, dir_->dir()));
  }

 private:
  LMCheckpointing options_;
  int64_t steps_;
  nl::io::Metadata identity_;
  std::optional<nl::train::CheckpointDir> dir_;
  std::optional<nl::train::InterruptHandler> interrupt_;
};

}  // namespace detail

}  // namespace examples
