// normlab-bench: the fixed benchmark workloads of the performance issue.
//
//   build/bin/normlab-bench                  # every workload: "<name> <median ms> ms"
//   build/bin/normlab-bench layernorm        # those whose name matches a regex
//   build/bin/normlab-bench --threads 1
//   build/bin/normlab-bench --list           # names, counted bytes / FLOPs, descriptions
//   build/bin/normlab-bench --sweep          # the scaling sweeps' points (sweep_*) instead
//   build/bin/normlab-bench --machine        # STREAM triad GB/s and sgemm GFLOP/s
//   build/bin/normlab-bench --sgemm          # sgemm GFLOP/s alone (--bandwidth: the triad alone)
//   build/bin/normlab-bench --memory gpt     # peak resident memory of a few training steps
//   build/bin/normlab-bench --profile 3 gpt  # untimed runs, for perf record or callgrind
//
// bench/compare runs this next to bench/torch_ref.py and prints the ratios.
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <optional>
#include <regex>

#include "bench/harness.h"
#include "bench/machine.h"
#include "normlab.h"

namespace {

// Resident memory now, in MB (from /proc/self/statm).
double current_rss_mb() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return double(resident) * double(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

// Runs fn `runs` times. Its own function so a profiler can count just these
// runs: valgrind --tool=callgrind --toggle-collect='*repeat_runs*' normlab-bench --profile 3 gpt
[[gnu::noinline]] void repeat_runs(const std::function<void()>& fn, int runs) {
  for (int i = 0; i < runs; ++i) fn();
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024;  // ru_maxrss is in KB on Linux
}

struct Options {
  std::string filter;
  int threads = 2, memory_steps = 10, profile_runs = 0;
  bench::TimingOptions timing;
  bool list = false, machine = false, bandwidth = false, sgemm = false, memory = false, sweep = false;
};

// Fills o from the command line; the exit code when there is nothing to run
// (--help, --version, a bad option).
std::optional<int> parse_options(int argc, char** argv, Options& o) {
  CLI::App app{"normlab-bench: the benchmark workloads, one line each: <name> <median milliseconds> ms"};
  app.set_version_flag("--version", nl::version());
  app.add_option("filter", o.filter, "only workloads whose name matches this regex (ECMAScript, searched)");
  app.add_option("--threads", o.threads, "threads for our loops and OpenBLAS")->check(CLI::PositiveNumber);
  app.add_option("--min-time", o.timing.min_seconds, "timed seconds per workload (at least min-runs runs)");
  app.add_option("--min-runs", o.timing.min_runs, "timed runs per workload, at least")->check(CLI::PositiveNumber);
  app.add_flag("--list", o.list, "print name, counted bytes and FLOPs, and description of each workload");
  app.add_flag("--sweep", o.sweep, "the points of the scaling sweeps (names sweep_*) instead of the fixed workloads");
  app.add_flag("--machine", o.machine, "measure the machine's limits: STREAM triad GB/s and sgemm GFLOP/s");
  app.add_flag("--bandwidth", o.bandwidth,
               "measure the STREAM triad GB/s alone (bench/compare runs it next to each norm kernel)");
  app.add_flag("--sgemm", o.sgemm,
               "measure the sgemm GFLOP/s alone (bench/compare runs it next to each workload held to a fraction of "
               "it)");
  app.add_flag("--memory", o.memory, "peak resident memory over --steps runs of each workload (not timed)");
  app.add_option("--steps", o.memory_steps, "runs for --memory")->check(CLI::PositiveNumber);
  app.add_option("--profile", o.profile_runs,
                 "untimed: one warm-up run, then this many runs in repeat_runs() (for perf or callgrind)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return std::nullopt;
}

// One workload's line: its description (--list), a profiling run, its peak
// memory (--memory), or its median time.
void run_workload(const bench::Workload& w, const Options& o) {
  if (o.list) {
    fmt::print("{} bytes={:.0f} flops={:.0f} # {}\n", w.name, w.work.bytes, w.work.flops, w.description);
    return;
  }
  nl::manual_seed(0);
  std::function<void()> run = w.setup();
  if (o.profile_runs > 0) {
    run();
    repeat_runs(run, o.profile_runs);
    fmt::print("{} profiled {} runs\n", w.name, o.profile_runs);
  } else if (o.memory) {
    double before = current_rss_mb();
    repeat_runs(run, o.memory_steps);
    fmt::print("{} peak_rss_mb {:.1f} before_first_step_mb {:.1f} steps {}\n", w.name, peak_rss_mb(), before,
               o.memory_steps);
  } else {
    fmt::print("{} {:.4f} ms\n", w.name, bench::time_median_ms(run, o.timing));
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (std::optional<int> exit_code = parse_options(argc, argv, o)) return *exit_code;
  try {
    nl::set_num_threads(o.threads);
    if (o.machine || o.bandwidth || o.sgemm) {
      if (o.machine || o.bandwidth) fmt::print("stream_triad_gbs {:.2f}\n", bench::stream_triad_gbs(o.threads));
      if (o.machine || o.sgemm) fmt::print("sgemm_gflops {:.2f}\n", bench::sgemm_gflops(o.threads));
      return 0;
    }
    std::regex pattern(o.filter);
    int matched = 0;
    for (const bench::Workload& w : bench::registry())
      if (w.name.starts_with("sweep_") == o.sweep && std::regex_search(w.name, pattern)) {
        ++matched;
        run_workload(w, o);
      }
    if (matched == 0) {
      fmt::print(stderr, "normlab-bench: no {}workload matches \"{}\" (--list{} shows them)\n", o.sweep ? "sweep " : "",
                 o.filter, o.sweep ? " --sweep" : "");
      return 1;
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "normlab-bench: {}\n", e.what());
    return 1;
  }
  return 0;
}
