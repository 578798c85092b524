#pragma once
// JobCheckpoints: the checkpoints of a training job of one process or of N
// (--distributed, under `mpirun -np N`) — nl::train::RunCheckpoints (the
// files, the identity, the signals; train/run_checkpoints.h) with what the
// ranks must agree on around it. In a world of one process it is
// RunCheckpoints; under --distributed:
//  - One file for the job, written by rank 0; every rank resumes from it, so
//    DIR must be on a file system all ranks see (one machine, or a shared one).
//  - What differs between ranks is in the file too, in the metadata entry
//    "ranks" (a JSON array indexed by rank), gathered to rank 0 by one
//    collective at each checkpoint: each rank's global generator (a rank may
//    draw from a generator of its own, as char_lm's windows do) and its StepLog
//    totals (the steps' time and communication, which results.json summarizes
//    over the ranks at the end). Everything else is the same on every rank —
//    the weights, the optimizer's state, the schedule and the log rows, which
//    only rank 0 writes — so rank 0's serve all. (BatchNorm's running
//    statistics differ per rank, but only rank 0's are ever used: the programs
//    broadcast them before evaluating.)
//  - The world size is part of the identity ("processes"): resuming with
//    another -np, or without --distributed, is refused naming the file and
//    both.
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
//
//   examples::JobCheckpoints checkpoints(cfg.checkpoint, [&] { return identity; }, steps, distributed);
//   int64_t start = 0;
//   if (auto resumed = checkpoints.start(model, &opt, nullptr)) {
//     start = resumed->step;
//     log.restore(nl::train::metadata_entry(resumed->file, "run_log"));
//     if (resumed->rank_steps) step_log.restore_total(*resumed->rank_steps);
//   }
//   for (int64_t step = start + 1; step <= steps; ++step) {
//     ...
//     if (checkpoints.due(step))
//       checkpoints.write(step, model, &opt, nullptr, step_log.total(), {{"run_log", log.dump()}});
//   }
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "normlab.h"

namespace examples {

namespace detail {

// What differs between the ranks of a --distributed job (above): this rank's
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

}  // namespace detail

class JobCheckpoints {
 public:
  // The metadata entry of each rank's state (above).
  static constexpr const char* kRanksKey = "ranks";

  // As RunCheckpoints; distributed: the identity gets "processes", the world size.
  JobCheckpoints(const nl::train::CheckpointOptions& options, const std::function<nl::io::Metadata()>& identity,
                 int64_t steps, bool distributed)
      : distributed_(distributed),
        run_(
            options, [&] { return job_identity(identity); }, steps) {}

  bool active() const { return run_.active(); }

  // A resumed run: the checkpoint (for the caller's log in its metadata), its
  // step, and under --distributed this rank's StepLog totals.
  struct Resumed {
    nl::train::CheckpointFile file;
    int64_t step = 0;
    std::optional<nl::dist::StepReport> rank_steps;
  };

  // Resuming: the newest valid checkpoint, with model, optimizer, scheduler
  // (either may be null) and this rank's generator restored from it; else
  // nullopt (and a directory that already holds checkpoints is refused).
  // Distributed: a collective; rank 0 decides.
  std::optional<Resumed> start(nl::layers::Module& model, nl::optim::Optimizer* optimizer,
                               nl::optim::LRScheduler* scheduler) {
    if (!active()) return std::nullopt;
    std::optional<nl::train::CheckpointFile> file;
    int64_t step = 0;
    if (nl::dist::is_main()) {  // throws on a refusal: fail_run then ends the whole job
      file = run_.start();
      if (file) step = file->tensors.at("step").item<int64_t>();
    }
    if (distributed_) nl::dist::broadcast(&step, sizeof step, 0, nl::dist::Traffic::other);
    if (step == 0 && !file) return std::nullopt;
    if (!file) {  // rank r > 0: the file rank 0 chose
      file = nl::train::read_checkpoint(run_.dir().path(step));
      nl::train::require_same_run(*file, run_.identity());
    }
    Resumed resumed{.file = std::move(*file)};
    resumed.step = nl::train::load_checkpoint(resumed.file, model, optimizer, scheduler);
    if (distributed_) {  // this rank's own generator and step totals
      detail::RankState own = detail::rank_state_from_json(
          nlohmann::json::parse(nl::train::metadata_entry(resumed.file, kRanksKey)).at(nl::dist::rank()));
      nl::default_generator().manual_seed(own.seed);
      nl::default_generator().set_offset(own.offset);
      resumed.rank_steps = own.steps;
    }
    return resumed;
  }

  // After `step`: whether to write a checkpoint now (every --checkpoint-every
  // steps, after the last step, and when a signal arrived). Distributed: a
  // collective, every step (the ranks agree on the signal).
  bool due(int64_t step) {
    if (!active()) return false;
    signal_ = run_.signal();
    if (distributed_) {  // all stop after the same step, even when a signal reached one rank only
      double agreed = signal_;
      nl::dist::allreduce_max(&agreed, 1, nl::dist::Traffic::other);
      signal_ = int(agreed);
    }
    return run_.due(step, signal_);
  }

  // When due: the checkpoint, with the caller's log (metadata entries, the same
  // on every rank) and each rank's generator and `step_total` (its StepLog's
  // totals); then, if a signal arrived, the run ends (nl::train::Interrupted).
  // Distributed: a collective; rank 0 writes.
  void write(int64_t step, const nl::layers::Module& model, const nl::optim::Optimizer* optimizer,
             const nl::optim::LRScheduler* scheduler, const nl::dist::StepReport& step_total,
             const nl::io::Metadata& log) {
    std::string path = run_.dir().path(step);
    nl::io::Metadata metadata = log;
    if (distributed_) {
      auto ranks =
          detail::gather_rank_states({nl::default_generator().seed(), nl::default_generator().offset(), step_total});
      metadata[kRanksKey] = detail::to_json(ranks).dump();
    }
    if (nl::dist::is_main()) path = run_.save(step, model, optimizer, scheduler, metadata);
    if (signal_ == 0) return;
    if (distributed_) nl::dist::barrier();  // no rank exits before rank 0 has written
    std::string how = distributed_ ? fmt::format(" (under mpirun -np {})", nl::dist::world_size()) : "";
    throw run_.interrupted(signal_, step, path, how);
  }

 private:
  nl::io::Metadata job_identity(const std::function<nl::io::Metadata()>& identity) const {
    nl::io::Metadata id = identity();
    // only under --distributed, so that single-process checkpoints stay as they were
    if (distributed_) id["processes"] = std::to_string(nl::dist::world_size());
    return id;
  }

  bool distributed_;
  nl::train::RunCheckpoints run_;
  int signal_ = 0;
};

}  // namespace examples
