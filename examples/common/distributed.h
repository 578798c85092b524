#pragma once
// What the example programs share for data-parallel training across
// processes (--distributed, run under `mpirun -np N`; docs/distributed.md):
// starting the job, threads per process, ending the whole job on an error,
// and the summary of the training steps' time and communication as JSON and
// one line of text (each step's own: examples/common/step_log.h).
//
//   std::optional<nl::dist::Context> job;    // outlives everything that communicates
//   examples::start_job(job, "mlp_norm", distributed, argc, argv);
//   try { ... } catch (const std::exception& e) { return examples::fail_run(e); }
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "core/error.h"
#include "dist/dist.h"
#include "train/interrupt.h"

namespace examples {

// Starts the MPI job of a --distributed run in `job` (MPI_Init here,
// MPI_Finalize when it goes out of scope); leaves it empty otherwise. Without --distributed, a program started by
// mpirun as one of several processes is refused: each would train its own
// model on the same data and write the same files.
inline void start_job(std::optional<nl::dist::Context>& job, const std::string& program, bool distributed, int& argc,
                      char**& argv) {
  if (distributed) {
    job.emplace(argc, argv);
  } else if (int n = nl::dist::launcher_world_size(); n > 1) {
    nl::fail(
        "{}: started by mpirun as one of {} processes without --distributed, so each would train a model of "
        "its own and write the same files; add --distributed (data-parallel training) or run it without mpirun",
        program, n);
  }
}

// Threads per process: the --threads value when the user gave it or without
// --distributed (the program's default); under --distributed otherwise
// NORMLAB_NUM_THREADS when set, else the cores shared out among the job's
// processes (assumed on one machine: N processes × T threads must not exceed
// the cores), at least 1.
inline int threads_per_process(bool distributed, bool threads_given, int threads) {
  if (threads_given || !distributed) return threads;
  if (const char* env = std::getenv("NORMLAB_NUM_THREADS"); env && std::atoi(env) > 0) return std::atoi(env);
  int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, nl::dist::world_size()));
}

// After an error: in a job of several processes, ends all of them at once
// (MPI_Abort after "rank R: error: ..."), since the others would wait in their
// next collective; otherwise prints "error: ..." and returns exit code 1. A
// run stopped by a signal after saving its state (nl::train::Interrupted) is
// no error: what it saved is printed (by rank 0: every rank of a job stops
// alike) and the status is 128 + signal.
inline int fail_run(const std::exception& e) {
  if (auto* interrupted = dynamic_cast<const nl::train::Interrupted*>(&e)) {  // saved its state: not an error
    if (nl::dist::is_main()) fmt::print(stderr, "\n{}\n", e.what());
    return interrupted->exit_status();
  }
  if (nl::dist::world_size() > 1) nl::dist::Context::abort(1, fmt::format("error: {}", e.what()));
  fmt::print(stderr, "error: {}\n", e.what());
  return 1;
}

// The training steps of a data-parallel run as its results report them: the
// sums over this rank's steps with every time (the steps' wall time and each
// purpose's collectives) replaced by its mean over the ranks
// (nl::dist::mean_over_ranks), so the parts add up to the step as on every
// rank: step = compute + gradient sync + norm sync + other. (Not a maximum per
// part: the rank that computes longest waits least in the collectives, so
// per-part maxima come from different ranks and can add up to more than the
// step.) compute_seconds_max is the longest compute of any rank, the
// straggler, outside that sum. Steps, bytes and calls are the same on every rank.
struct StepSummary {
  nl::dist::StepReport mean;
  double compute_seconds_max = 0;
  int processes = 1;

  // A total per step: a time in milliseconds, a count (bytes, calls) as is.
  double ms_per_step(double seconds) const { return seconds * 1e3 / steps(); }
  double per_step(int64_t count) const { return double(count) / steps(); }
  // "processes"; "per_step": the means per step (nl::dist::StepReport::fields()
  // and compute_ms_max); "total": steps, seconds, compute_seconds and the
  // calls, bytes and seconds of gradient sync, norm sync and other.
  nlohmann::json to_json() const {
    nlohmann::json per_step = nlohmann::json::object();
    for (const auto& [name, value] : mean.fields()) per_step[name] = value;
    per_step["compute_ms_max"] = ms_per_step(compute_seconds_max);
    auto counter = [](const nl::dist::CommCounter& c) {
      return nlohmann::json{{"calls", c.calls}, {"bytes", c.bytes}, {"seconds", c.seconds}};
    };
    return {{"processes", processes},
            {"per_step", per_step},
            {"total",
             {{"steps", mean.steps},
              {"seconds", mean.seconds},
              {"compute_seconds", mean.compute_seconds()},
              {"gradient_sync", counter(mean.comm.gradients)},
              {"norm_sync", counter(mean.comm.normalization)},
              {"other_comm", counter(mean.comm.other)}}}};
  }

 private:
  double steps() const { return double(std::max<int64_t>(1, mean.steps)); }
};

// The StepSummary of this rank's steps (`total`, StepLog::total()). A
// collective: every rank calls it.
inline StepSummary summarize_steps(const nl::dist::StepReport& total) {
  StepSummary summary{.mean = nl::dist::mean_over_ranks(total),
                      .compute_seconds_max = total.compute_seconds(),
                      .processes = nl::dist::world_size()};
  nl::dist::allreduce_max(&summary.compute_seconds_max, 1, nl::dist::Traffic::other);
  return summary;
}

// The human-readable line of a data-parallel run:
//   "<label>: 2 processes x batch 64 = global batch 128: per step 7.11 ms = compute 4.06
//    + gradient sync 2.61 (1346600 B) + norm sync 0.32 (24600 B) + other 0.12 ms; ranks in sync: yes"
// The parts are means over the ranks and add up to the step (StepSummary).
inline std::string distributed_summary(const std::string& label, const StepSummary& steps, int64_t batch_per_process,
                                       const std::string& in_sync) {
  const nl::dist::StepReport& s = steps.mean;
  return fmt::format(
      "{}: {} process{} x batch {} = global batch {}: per step {:.2f} ms = compute {:.2f} + gradient "
      "sync {:.2f} ({:.0f} B) + norm sync {:.2f} ({:.0f} B) + other {:.2f} ms (means over ranks); "
      "ranks in sync: {}",
      label, steps.processes, steps.processes == 1 ? "" : "es", batch_per_process, batch_per_process * steps.processes,
      steps.ms_per_step(s.seconds), steps.ms_per_step(s.compute_seconds()), steps.ms_per_step(s.comm.gradients.seconds),
      steps.per_step(s.comm.gradients.bytes), steps.ms_per_step(s.comm.normalization.seconds),
      steps.per_step(s.comm.normalization.bytes), steps.ms_per_step(s.comm.other.seconds), in_sync);
}

}  // namespace examples
