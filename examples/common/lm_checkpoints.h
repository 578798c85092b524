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
//
// --distributed (under `mpirun -np N`): one file for the job, written by rank
// 0, with each rank's generator (rank r > 0 draws its windows from a generator
// of its own, lm_training.h) and StepLog totals in it; the ranks agree after
// every step on whether to stop (examples/common/job_checkpoints.h). A
// BN-LSTM's running statistics differ per rank, but only rank 0's are ever
// used: the loop broadcasts them before evaluating.
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "examples/common/job_checkpoints.h"
#include "normlab.h"

namespace examples {

// The checkpoint flags (nl::train::CheckpointOptions: --checkpoint-dir,
// --checkpoint-every, --keep-checkpoints, --resume) and the program's model
// options, each as text, for the run's identity.
struct LMCheckpointing : nl::train::CheckpointOptions {
  nl::io::Metadata identity;
};

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
      : job_(
            cfg.checkpoint, [&] { return identity(cfg, corpus, label); }, cfg.steps, cfg.distributed) {}

  // The step to continue after: resuming, the newest valid checkpoint's, with
  // model, optimizer, schedule, generator and log restored from it; else 0
  // (and a directory that already holds checkpoints is refused: their run
  // would be mixed with this one). Distributed: a collective; rank 0 decides.
  template <typename Log>
  int64_t start(nl::layers::Module& model, nl::optim::Optimizer& opt, nl::optim::LRScheduler& schedule, Log& log) {
    auto resumed = job_.start(model, &opt, &schedule);
    if (!resumed) return 0;
    log.restore(nlohmann::json::parse(nl::train::metadata_entry(resumed->file, kRunLogKey)), resumed->step);
    if (resumed->rank_steps) log.restore_step_total(*resumed->rank_steps);
    return resumed->step;
  }

  // After the step (and its evaluation): a checkpoint when one is due or a
  // signal arrived, written while the log's clock is paused; then,
  // interrupted, the run ends (nl::train::Interrupted). Distributed: a
  // collective, every step (the ranks agree on the signal).
  template <typename Log>
  void after_step(int64_t step, const nl::layers::Module& model, const nl::optim::Optimizer& opt,
                  const nl::optim::LRScheduler& schedule, Log& log) {
    if (!job_.due(step)) return;
    log.checkpoint([&](const nlohmann::json& state) {
      job_.write(step, model, &opt, &schedule, log.step_total(), {{kRunLogKey, state.dump()}});
    });
  }

 private:
  template <typename Config>
  static nl::io::Metadata identity(const Config& cfg, const nl::data::TextCorpus& corpus, const std::string& label) {
    nl::io::Metadata id = cfg.checkpoint.identity;
    const std::string& text = corpus.text();
    id.insert({{"run", label},
               {"corpus_characters", std::to_string(text.size())},
               {"corpus_fnv1a", fmt::format("{:016x}", nl::train::fnv1a(text.data(), text.size()))},
               {"steps", std::to_string(cfg.steps)},
               {"batch_size", std::to_string(cfg.batch_size)},
               {"seq_len", std::to_string(cfg.seq_len)},
               {"eval_seq_len", std::to_string(cfg.eval_seq_len)},
               {"eval_every", std::to_string(cfg.eval_every)},
               {"eval_batches", std::to_string(cfg.eval_batches)},
               {"optimizer", cfg.optimizer},
               {"lr", nl::train::exact_text(cfg.lr)},
               {"weight_decay", nl::train::exact_text(cfg.weight_decay)},
               {"clip", nl::train::exact_text(cfg.clip)},
               {"warmup", std::to_string(cfg.warmup)},
               {"seed", std::to_string(cfg.seed)}});
    return id;
  }

  JobCheckpoints job_;
};

}  // namespace detail

}  // namespace examples
