#pragma once
// What the example programs share for data-parallel training across
// processes (--distributed, run under `mpirun -np N`; docs/distributed.md):
// starting the job, threads per process, ending the whole job on an error,
// and the per-step communication report as CSV columns and JSON.
//
//   std::optional<nl::dist::Context> job;    // outlives everything that communicates
//   examples::start_job(job, "mlp_norm", distributed, argc, argv);
//   try { ... } catch (const std::exception& e) { return examples::fail_run(e); }
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "dist/dist.h"

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
    nl::fail("{}: started by mpirun as one of {} processes without --distributed, so each would train a model of "
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
// next collective; otherwise prints "error: ..." and returns exit code 1.
inline int fail_run(const std::exception& e) {
  if (nl::dist::world_size() > 1) nl::dist::Context::abort(1, fmt::format("error: {}", e.what()));
  fmt::print(stderr, "error: {}\n", e.what());
  return 1;
}

// The CSV columns of one step's report, after the program's own:
// step_ms,compute_ms,gradient_sync_{ms,bytes,calls},norm_sync_{...},other_comm_{...}
inline std::string step_csv_header() {
  std::string header;
  for (const auto& [name, value] : nl::dist::StepReport{}.fields()) header += "," + name;
  return header;
}
inline std::string step_csv_columns(const nl::dist::StepReport& step) {
  std::string columns;
  for (const auto& [name, value] : step.fields())  // times in ms to 0.1 µs, bytes and calls exact
    columns += name.ends_with("_ms") ? fmt::format(",{:.4f}", value) : fmt::format(",{:.0f}", value);
  return columns;
}

// The JSON of a data-parallel run's training steps: "per_step" means and
// "total" sums of wall time, compute time (the step minus its collectives) and
// the collectives' calls, bytes and time, split into gradient sync,
// normalization sync and other (the loss for reporting, ...). Each time is the
// slowest rank's; bytes and calls are the same on every rank. A collective:
// every rank calls it.
inline nlohmann::json step_report_json(const nl::dist::StepReport& total) {
  // [step, compute, gradient sync, norm sync, other], the maximum over the ranks of each
  double seconds[5] = {total.seconds, total.compute_seconds(), total.comm.gradients.seconds,
                       total.comm.normalization.seconds, total.comm.other.seconds};
  nl::dist::allreduce_max(seconds, 5, nl::dist::Traffic::other);
  nl::dist::StepReport slowest = total;
  slowest.comm.gradients.seconds = seconds[2];
  slowest.comm.normalization.seconds = seconds[3];
  slowest.comm.other.seconds = seconds[4];
  slowest.seconds = seconds[0];
  nlohmann::json per_step = nlohmann::json::object();
  for (const auto& [name, value] : slowest.fields()) per_step[name] = value;
  per_step["compute_ms"] = seconds[1] * 1e3 / double(std::max<int64_t>(1, total.steps));
  auto counter = [](const nl::dist::CommCounter& c) {
    return nlohmann::json{{"calls", c.calls}, {"bytes", c.bytes}, {"seconds", c.seconds}};
  };
  return {{"per_step", per_step},
          {"total",
           {{"steps", total.steps},
            {"seconds", seconds[0]},
            {"compute_seconds", seconds[1]},
            {"gradient_sync", counter(slowest.comm.gradients)},
            {"norm_sync", counter(slowest.comm.normalization)},
            {"other_comm", counter(slowest.comm.other)}}}};
}

}  // namespace examples
