#pragma once
// What the example programs share for data-parallel training across
// processes (--distributed, run under `mpirun -np N`; docs/distributed.md):
// starting the job, threads per process, ending the whole job on an error,
// and the per-step communication report as CSV columns, JSON and one line of text.
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
// mean over the ranks (nl::dist::mean_over_ranks), so the parts add up to the
// step as on every rank: step = compute + gradient sync + norm sync + other.
// (Not a maximum per part: the rank that computes longest waits least in the
// collectives, so per-part maxima come from different ranks and can add up to
// more than the step.) per_step.compute_ms_max is the longest compute of any
// rank, the straggler, outside that sum. Bytes and calls are the same on every
// rank. A collective: every rank calls it.
inline nlohmann::json step_report_json(const nl::dist::StepReport& total) {
  nl::dist::StepReport mean = nl::dist::mean_over_ranks(total);
  double steps = double(std::max<int64_t>(1, total.steps));
  double compute_max = total.compute_seconds();
  nl::dist::allreduce_max(&compute_max, 1, nl::dist::Traffic::other);
  nlohmann::json per_step = nlohmann::json::object();
  for (const auto& [name, value] : mean.fields()) per_step[name] = value;
  per_step["compute_ms_max"] = compute_max * 1e3 / steps;
  auto counter = [](const nl::dist::CommCounter& c) {
    return nlohmann::json{{"calls", c.calls}, {"bytes", c.bytes}, {"seconds", c.seconds}};
  };
  return {{"per_step", per_step},
          {"total",
           {{"steps", total.steps},
            {"seconds", mean.seconds},
            {"compute_seconds", mean.compute_seconds()},
            {"gradient_sync", counter(mean.comm.gradients)},
            {"norm_sync", counter(mean.comm.normalization)},
            {"other_comm", counter(mean.comm.other)}}}};
}

// The human-readable line of a data-parallel run, from its JSON (`run` holds
// "processes" and step_report_json's "per_step"):
//   "<label>: 2 processes x batch 64 = global batch 128: per step 7.11 ms = compute 4.06
//    + gradient sync 2.61 (1346600 B) + norm sync 0.32 (24600 B) + other 0.12 ms; ranks in sync: yes"
// The parts are means over the ranks and add up to the step (step_report_json).
inline std::string distributed_summary(const std::string& label, const nlohmann::json& run, int64_t batch_per_process,
                                       const std::string& in_sync) {
  const nlohmann::json& s = run.at("per_step");
  int64_t processes = run.at("processes").get<int64_t>();
  auto ms = [&](const char* name) { return s.at(name).get<double>(); };
  return fmt::format("{}: {} process{} x batch {} = global batch {}: per step {:.2f} ms = compute {:.2f} + gradient "
                     "sync {:.2f} ({:.0f} B) + norm sync {:.2f} ({:.0f} B) + other {:.2f} ms (means over ranks); "
                     "ranks in sync: {}",
                     label, processes, processes == 1 ? "" : "es", batch_per_process, batch_per_process * processes,
                     ms("step_ms"), ms("compute_ms"), ms("gradient_sync_ms"), ms("gradient_sync_bytes"),
                     ms("norm_sync_ms"), ms("norm_sync_bytes"), ms("other_comm_ms"), in_sync);
}

}  // namespace examples
