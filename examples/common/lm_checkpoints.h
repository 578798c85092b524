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
// 0; every rank resumes from it, so DIR must be on a file system all ranks
// see (one machine, or a shared one).
//  - What differs between ranks is in the file too, in the metadata entry
//    "lm_ranks" (a JSON array indexed by rank), gathered to rank 0 by one
//    collective at each checkpoint: each rank's global generator (rank r > 0
//    draws its windows from a generator of its own, lm_training.h) and its
//    StepLog totals (the steps' time and communication, which results.json
//    summarizes over the ranks at the end). Everything else is the same on
//    every rank (the weights, the optimizer's state, the schedule and the log
//    rows, which only rank 0 writes), so rank 0's serve all. (A BN-LSTM's
//    running statistics differ per rank, but only rank 0's are ever used: the
//    loop broadcasts them before evaluating.)
//  - The world size is part of the identity ("processes"): resuming with
//    another -np, or without --distributed, is refused naming the file and
//    both. (The windows of rank r depend on r, and steps.csv has other columns.)
//  - Rank 0 alone looks at DIR at the start (a used directory without
//    --resume, nothing to resume, a different run) and broadcasts the step to
//    resume from; an error there ends the whole job at once (fail_run:
//    MPI_Abort after "rank 0: error: ..."), so no rank waits for it.
//  - Signals: Open MPI's `mpirun` turns SIGINT and SIGTERM into SIGTERM to
//    every rank, a second later, and SIGKILLs them another second later
//    (odls_base_sigkill_timeout: 1 s), and a rank may get a signal alone (a
//    scheduler, a user's kill). So after every step the ranks agree on whether
//    and by which signal to stop (an allreduce max of the signal number): all
//    stop after the same step. Rank 0 writes, all wait for it (a barrier: a
//    rank that exited first would make mpirun kill rank 0 mid-write), then
//    every rank ends with 128 + signal; rank 0 says how to resume. These
//    collectives run between the steps, outside StepLog's meter, and only with
//    --checkpoint-dir: steps.csv's bytes and calls are those of a run without
//    checkpoints.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "normlab.h"

namespace examples {

// The checkpoint flags (nl::train::CheckpointOptions: --checkpoint-dir,
// --checkpoint-every, --keep-checkpoints, --resume) and the program's model
// options, each as text, for the run's identity.
struct LMCheckpointing : nl::train::CheckpointOptions {
  nl::io::Metadata identity;
};

namespace detail {

// The metadata entries that hold LMRunLog's record of the run so far, and
// under --distributed each rank's own state (above).
inline constexpr const char* kRunLogKey = "lm_run_log";
inline constexpr const char* kRanksKey = "lm_ranks";

// What differs between the ranks of a --distributed run (above): this rank's
// global generator and StepLog totals.
struct RankState {
  uint64_t seed = 0, offset = 0;
  nl::dist::StepReport steps;
};

// Every rank's RankState, on every rank (a collective; in a world of one, this
// rank's). Each rank fills its own slots of one int64 array, zeros elsewhere,
// and an allreduce sum brings them together: adding zeros is exact, so the
// doubles (seconds) travel bit for bit as their int64 bits.
inline std::vector<RankState> gather_rank_states(const RankState& mine) {
  auto pack = [](const RankState& s) {
    std::vector<int64_t> v = {std::bit_cast<int64_t>(s.seed), std::bit_cast<int64_t>(s.offset), s.steps.steps,
                              std::bit_cast<int64_t>(s.steps.seconds)};
    for (const nl::dist::CommCounter* c : {&s.steps.comm.gradients, &s.steps.comm.normalization, &s.steps.comm.other})
      v.insert(v.end(), {c->calls, c->bytes, std::bit_cast<int64_t>(c->seconds)});
    return v;
  };
  std::vector<int64_t> own = pack(mine);
  const size_t n = own.size(), ranks = size_t(nl::dist::world_size());
  std::vector<int64_t> all(n * ranks, 0);
  std::copy(own.begin(), own.end(), all.begin() + ptrdiff_t(n * size_t(nl::dist::rank())));
  nl::dist::allreduce_sum(all.data(), int64_t(all.size()), nl::dist::Traffic::other);
  std::vector<RankState> states(ranks);
  for (size_t r = 0; r < ranks; ++r) {
    const int64_t* v = all.data() + r * n;
    RankState& s = states[r];
    s.seed = std::bit_cast<uint64_t>(v[0]);
    s.offset = std::bit_cast<uint64_t>(v[1]);
    s.steps.steps = v[2];
    s.steps.seconds = std::bit_cast<double>(v[3]);
    v += 4;
    for (nl::dist::CommCounter* c : {&s.steps.comm.gradients, &s.steps.comm.normalization, &s.steps.comm.other}) {
      *c = {v[0], v[1], std::bit_cast<double>(v[2])};
      v += 3;
    }
  }
  return states;
}

// RankStates as JSON, and back: doubles round-trip through JSON exactly.
inline nlohmann::json to_json(const std::vector<RankState>& states) {
  auto counter = [](const nl::dist::CommCounter& c) { return nlohmann::json{c.calls, c.bytes, c.seconds}; };
  nlohmann::json all = nlohmann::json::array();
  for (const RankState& s : states)
    all.push_back(
        {{"generator", {s.seed, s.offset}},
         {"steps", {s.steps.steps, s.steps.seconds}},
         {"comm",
          {counter(s.steps.comm.gradients), counter(s.steps.comm.normalization), counter(s.steps.comm.other)}}});
  return all;
}
inline RankState rank_state_from_json(const nlohmann::json& j) {
  RankState s;
  s.seed = j.at("generator")[0].get<uint64_t>();
  s.offset = j.at("generator")[1].get<uint64_t>();
  s.steps.steps = j.at("steps")[0].get<int64_t>();
  s.steps.seconds = j.at("steps")[1].get<double>();
  nl::dist::CommCounter* counters[] = {&s.steps.comm.gradients, &s.steps.comm.normalization, &s.steps.comm.other};
  for (size_t i = 0; i < 3; ++i) {
    const nlohmann::json& c = j.at("comm")[i];
    *counters[i] = {c[0].get<int64_t>(), c[1].get<int64_t>(), c[2].get<double>()};
  }
  return s;
}

// Saves and restores one run of the loop; inactive without --checkpoint-dir.
// Config is LMTrainConfig and Log LMRunLog: templates only because
// lm_training.h, which includes this header, defines them.
class LMCheckpoints {
 public:
  template <typename Config>
  LMCheckpoints(const Config& cfg, const nl::data::TextCorpus& corpus, const std::string& label)
      : options_(cfg.checkpoint), steps_(cfg.steps), distributed_(cfg.distributed) {
    if (options_.dir.empty()) return;
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
                      {"lr", nl::train::exact_text(cfg.lr)},
                      {"weight_decay", nl::train::exact_text(cfg.weight_decay)},
                      {"clip", nl::train::exact_text(cfg.clip)},
                      {"warmup", std::to_string(cfg.warmup)},
                      {"seed", std::to_string(cfg.seed)}});
    // only under --distributed, so that single-process checkpoints stay as they were
    if (distributed_) identity_["processes"] = std::to_string(nl::dist::world_size());
    dir_.emplace(options_.dir, options_.keep);
    interrupt_.emplace();
  }

  // The step to continue after: resuming, the newest valid checkpoint's, with
  // model, optimizer, schedule, generator and log restored from it; else 0
  // (and a directory that already holds checkpoints is refused: their run
  // would be mixed with this one). Distributed: a collective; rank 0 decides.
  template <typename Log>
  int64_t start(nl::layers::Module& model, nl::optim::Optimizer& opt, nl::optim::LRScheduler& schedule, Log& log) {
    if (!dir_) return 0;
    std::optional<nl::train::CheckpointFile> file;
    int64_t step = 0;
    if (nl::dist::is_main()) {  // throws on a refusal: fail_run then ends the whole job
      file = choose();
      if (file) step = file->tensors.at("step").item<int64_t>();
    }
    if (distributed_) nl::dist::broadcast(&step, sizeof step, 0, nl::dist::Traffic::other);
    if (!options_.resume) return 0;
    if (!file) {  // rank r > 0: the file rank 0 chose
      file = nl::train::read_checkpoint(dir_->path(step));
      nl::train::require_same_run(*file, identity_);
    }
    step = nl::train::load_checkpoint(*file, model, &opt, &schedule);
    log.restore(nlohmann::json::parse(nl::train::metadata_entry(*file, kRunLogKey)), step);
    if (distributed_) {  // this rank's own generator and step totals
      RankState own =
          rank_state_from_json(nlohmann::json::parse(nl::train::metadata_entry(*file, kRanksKey)).at(nl::dist::rank()));
      nl::default_generator().manual_seed(own.seed);
      nl::default_generator().set_offset(own.offset);
      log.restore_step_total(own.steps);
    }
    if (nl::dist::is_main()) fmt::print(stderr, "resuming from {} (step {} of {})\n", file->path, step, steps_);
    return step;
  }

  // After the step (and its evaluation): a checkpoint when one is due or a
  // signal arrived; then, interrupted, the run ends (nl::train::Interrupted).
  // Distributed: a collective, every step (the ranks agree on the signal).
  template <typename Log>
  void after_step(int64_t step, const nl::layers::Module& model, const nl::optim::Optimizer& opt,
                  const nl::optim::LRScheduler& schedule, Log& log) {
    if (!dir_) return;
    int signal = interrupt_->signal();
    if (distributed_) {  // all stop after the same step, even when a signal reached one rank only
      double agreed = signal;
      nl::dist::allreduce_max(&agreed, 1, nl::dist::Traffic::other);
      signal = int(agreed);
    }
    if (!nl::train::checkpoint_due(step, steps_, options_.every, signal != 0)) return;
    std::string path = dir_->path(step);
    std::vector<RankState> ranks;
    if (distributed_)
      ranks = gather_rank_states({nl::default_generator().seed(), nl::default_generator().offset(), log.step_total()});
    log.checkpoint([&](const nlohmann::json& state) {
      if (!nl::dist::is_main()) return;
      nl::io::Metadata metadata = identity_;
      metadata[kRunLogKey] = state.dump();
      if (distributed_) metadata[kRanksKey] = to_json(ranks).dump();
      path = dir_->save(step, model, &opt, &schedule, metadata);
    });
    if (signal == 0) return;
    if (distributed_) nl::dist::barrier();  // no rank exits before rank 0 has written
    std::string how = distributed_ ? fmt::format(" (under mpirun -np {})", nl::dist::world_size()) : "";
    throw nl::train::interrupted_after(signal, step, steps_, path, *dir_, how);
  }

 private:
  // Rank 0: the checkpoint to resume from (none without --resume), after the
  // checks of start().
  std::optional<nl::train::CheckpointFile> choose() const {
    if (!options_.resume) {
      nl::train::refuse_used_directory(*dir_);
      return std::nullopt;
    }
    nl::train::CheckpointFile file = dir_->newest_valid(identity_);
    if (auto p = file.metadata.find("processes"); !distributed_ && p != file.metadata.end())
      nl::fail(
          "resume: {} is a checkpoint of a --distributed run of {} processes: resume it with --distributed under "
          "mpirun -np {}",
          file.path, p->second, p->second);
    return file;
  }

  LMCheckpointing options_;
  int64_t steps_;
  bool distributed_;
  nl::io::Metadata identity_;
  std::optional<nl::train::CheckpointDir> dir_;
  std::optional<nl::train::InterruptHandler> interrupt_;
};

}  // namespace detail

}  // namespace examples
