#pragma once
// Jobs of the example programs under `mpirun` for the tests of their
// --distributed checkpoints: starting one in the background, finding its
// ranks, killing them all as a crash would, and comparing CSV files but their
// timings. NORMLAB_MPIRUN (the launcher and its process-count flag) and
// NORMLAB_BIN_DIR come from tests/dist/CMakeLists.txt.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/examples/checkpoint_test_helpers.h"
#include "tests/examples/example_test_helpers.h"

namespace nl_test {

// `mpirun -np <n> build/bin/<program> <args>`, stdout captured (stderr with it when args say 2>&1).
inline ExampleRun run_mpi_program(int processes, const std::string& program, const std::string& args) {
  return run_command(fmt::format("{} {} {}/{} {}", NORMLAB_MPIRUN, processes, NORMLAB_BIN_DIR, program, args));
}

// The field after a process's "(comm)" in /proc/<pid>/stat: its state, then its parent.
inline bool read_stat(pid_t pid, char& state, pid_t& parent) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(stat.substr(close + 1));
  return bool(rest >> state >> parent);
}

// The processes mpirun started, the ranks: Open MPI 4 forks them itself, each
// in a process group of its own (so killing mpirun's group would miss them).
inline std::vector<pid_t> ranks_of(pid_t mpirun) {
  std::vector<pid_t> ranks;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    char state;
    pid_t parent;
    if (read_stat(pid_t(std::stoi(name)), state, parent) && parent == mpirun) ranks.push_back(pid_t(std::stoi(name)));
  }
  return ranks;
}

// The rank of a process of the job, from the environment mpirun gave it (-1: not found).
inline int rank_of(pid_t pid) {
  std::string environ = read_file(fmt::format("/proc/{}/environ", pid));
  std::istringstream in(environ);
  for (std::string var; std::getline(in, var, '\0');)
    if (var.starts_with("OMPI_COMM_WORLD_RANK=")) return std::stoi(var.substr(21));
  return -1;
}

// Whether the process is gone (or a zombie: it runs no more code).
inline bool gone(pid_t pid) {
  char state;
  pid_t parent;
  return !read_stat(pid, state, parent) || state == 'Z';
}

// Starts `mpirun -np 2 build/bin/<program> <args>` in the background under
// `env` ("VAR=value ...", may be empty), stdout and stderr to files, in a
// process group of its own (mpirun signals its group when it is interrupted:
// not the test's). Returns mpirun's pid (the shell execs it) once both ranks run.
inline pid_t start_mpi_program(const std::string& program, const std::string& args, const std::filesystem::path& out,
                               const std::filesystem::path& err, const std::string& env = "") {
  std::string command = fmt::format("exec env {} {} 2 {}/{} {} >{} 2>{}", env, NORMLAB_MPIRUN, NORMLAB_BIN_DIR, program,
                                    args, out.string(), err.string());
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    setpgid(0, 0);
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  REQUIRE(wait_until([&] { return ranks_of(pid).size() == 2; }));
  return pid;
}

// SIGKILL to the whole job at once, the ranks and mpirun, as a crash of the
// machine would end it; returns when none of them runs any more.
inline void kill_job(pid_t mpirun) {
  std::vector<pid_t> ranks = ranks_of(mpirun);
  REQUIRE(ranks.size() == 2);
  for (pid_t rank : ranks) kill(rank, SIGKILL);
  kill(mpirun, SIGKILL);
  CHECK(wait_for_exit(mpirun) == 128 + SIGKILL);
  REQUIRE(wait_until([&] { return gone(ranks[0]) && gone(ranks[1]); }));
}

// Rank 1 of a job (mpirun's pid), to signal it alone.
inline pid_t rank1_of(pid_t mpirun) {
  std::vector<pid_t> ranks = ranks_of(mpirun);
  REQUIRE(ranks.size() == 2);
  pid_t rank1 = rank_of(ranks[0]) == 1 ? ranks[0] : ranks[1];
  REQUIRE(rank_of(rank1) == 1);
  return rank1;
}

// Kills a job of `mpirun -np 2 build/bin/<program> <args>` with SIGKILL (the
// ranks and mpirun: kill_job) three times, and resumes it each time with
// --resume, then to its end; returns its stderr. Every checkpoint write takes
// 100 ms longer, so that a kill lands inside one now and then. Kill 1 comes at
// a random 0-60 ms after the checkpoint of step `first` exists; kill 2 while a
// rank's temporary file exists, before its rename (not one an earlier kill
// left: rank 0 is mid-write); kill 3 at a random time after step `last`'s.
inline std::string kill_and_resume_job(const std::string& program, const std::string& args,
                                       const std::filesystem::path& ckpt, const std::filesystem::path& dir,
                                       int64_t first, int64_t last) {
  std::string env = "NORMLAB_TEST_ATOMIC_WRITE_DELAY_MS=100";
  std::random_device device;
  unsigned seed = device();
  INFO("seed of the kill times " << seed);
  std::mt19937 rng(seed);
  pid_t mpirun = 0;
  std::vector<std::function<bool()>> kill_when = {[&] { return newest_step(ckpt) >= first; },
                                                  [&] {
                                                    for (pid_t rank : ranks_of(mpirun))
                                                      if (has_temporary(ckpt, rank)) return true;
                                                    return false;
                                                  },
                                                  [&] { return newest_step(ckpt) >= last; }};
  for (size_t k = 0; k < kill_when.size(); ++k) {
    INFO("kill " << k + 1);
    mpirun = start_mpi_program(program, args + (k > 0 ? " --resume" : ""), dir / "out.txt", dir / "err.txt", env);
    REQUIRE(wait_until(kill_when[k]));
    if (k != 1) std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 60));
    kill_job(mpirun);
    if (k == 1) CHECK(has_temporary(ckpt));  // the half-written file is there
  }
  mpirun = start_mpi_program(program, args + " --resume", dir / "out.txt", dir / "err.txt", env);
  REQUIRE(wait_for_exit(mpirun) == 0);
  std::string err = read_file(dir / "err.txt");
  INFO(err);
  CHECK(err.find("resuming from") != std::string::npos);
  CHECK_FALSE(has_temporary(ckpt));  // cleaned up by the next save
  return err;
}

// Starts `mpirun -np 2 build/bin/<program> <args>` (checkpoints in ckpt, each
// write 100 ms longer), sends SIGTERM to rank 1 alone once step `after`'s
// checkpoint exists, and checks that the job stopped as one: every rank with
// 128 + SIGTERM after the same step (of `steps`), rank 0 alone saying so,
// which file it wrote and how to resume.
inline void stop_rank1_with_sigterm(const std::string& program, const std::string& args,
                                    const std::filesystem::path& ckpt, const std::filesystem::path& dir, int64_t after,
                                    int64_t steps) {
  pid_t mpirun =
      start_mpi_program(program, args, dir / "out.txt", dir / "err.txt", "NORMLAB_TEST_ATOMIC_WRITE_DELAY_MS=100");
  REQUIRE(wait_until([&] { return newest_step(ckpt) >= after; }));
  kill(rank1_of(mpirun), SIGTERM);
  CHECK(wait_for_exit(mpirun) == 128 + SIGTERM);  // every rank exits so, mpirun with them
  std::string err = read_file(dir / "err.txt");
  INFO(err);
  std::smatch m;
  REQUIRE(std::regex_search(
      err, m, std::regex(fmt::format("interrupted by SIGTERM after step (\\d+) of {}: wrote (\\S+)", steps))));
  CHECK(m[2].str() == (ckpt / ("step_" + m[1].str() + ".safetensors")).string());
  CHECK(err.find("run the same command (under mpirun -np 2) with --resume") != std::string::npos);
  CHECK(err.find("interrupted by", size_t(m.position(0)) + 1) == std::string::npos);  // rank 0 alone says it
}

// A CSV file without the columns whose header ends in `_ms` (steps.csv: the
// step's times), or without the last two (eval.csv: seconds, cpu_seconds).
inline std::string csv_without_timings(const std::filesystem::path& path) {
  std::istringstream in(read_file(path));
  std::string line, out;
  std::vector<bool> keep;
  bool eval = path.filename() == "eval.csv";
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::istringstream row(line);
    for (std::string cell; std::getline(row, cell, ',');) cells.push_back(cell);
    if (line.ends_with(",")) cells.push_back("");
    if (keep.empty())
      for (size_t c = 0; c < cells.size(); ++c)
        keep.push_back(eval ? c + 2 < cells.size() : !cells[c].ends_with("_ms"));
    REQUIRE(cells.size() == keep.size());
    for (size_t c = 0; c < cells.size(); ++c)
      if (keep[c]) out += cells[c] + ",";
    out += "\n";
  }
  return out;
}

}  // namespace nl_test
