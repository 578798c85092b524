#pragma once
// Running the example programs from the tests: each example test starts the
// real binary in build/bin/ with small flags (--limit, few steps) and checks
// what it prints and writes. Compiled only when the examples are built
// (tests/CMakeLists.txt), so the sanitizer build, which skips examples, skips these.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace nl_test {

struct ExampleRun {
  int exit_code = -1;
  std::string out;  // stdout (stderr goes to the test log)
};

// Runs a shell command and captures its stdout.
inline ExampleRun run_command(const std::string& command) {
  ExampleRun run;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) run.out.append(buffer.data(), n);
  int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// Runs build/bin/<name> <args> and captures its stdout.
inline ExampleRun run_example(const std::string& name, const std::string& args) {
  return run_command(std::string(NORMLAB_BIN_DIR) + "/" + name + " " + args);
}

// The last line of out that parses as a JSON object (the examples' final line).
inline nlohmann::json last_json_line(const std::string& out) {
  size_t end = out.size();
  while (end > 0) {
    size_t start = out.rfind('\n', end - 1);
    start = start == std::string::npos ? 0 : start + 1;
    std::string line = out.substr(start, end - start);
    if (!line.empty() && line.front() == '{') {
      auto parsed = nlohmann::json::parse(line, nullptr, false);
      if (!parsed.is_discarded()) return parsed;
    }
    if (start == 0) break;
    end = start - 1;
  }
  FAIL("no JSON line in the output:\n" << out);
  return {};
}

// A fresh, empty directory under the system temp dir for one test's outputs.
inline std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("normlab_test_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A small corpus for the language-model examples: dir/corpus.txt with 200
// lines of `text` followed by i % modulus. Returns its path.
inline std::string small_corpus(const std::filesystem::path& dir,
                                const std::string& text = "the quick brown fox jumps over the lazy dog ",
                                int modulus = 7) {
  std::string path = (dir / "corpus.txt").string();
  std::ofstream out(path);
  for (int i = 0; i < 200; ++i) out << text << i % modulus << "\n";
  return path;
}

// Runs a language-model example twice with --top-k 1 (greedy decoding) at two
// temperatures: both succeed, the JSON says top_k 1, and the samples are the
// same (greedy does not depend on the temperature). Returns the first JSON line.
inline nlohmann::json require_greedy_sample(const std::string& program, const std::string& args) {
  auto a = run_example(program, args + " --top-k 1 --temperature 1");
  auto b = run_example(program, args + " --top-k 1 --temperature 0.2");
  REQUIRE(a.exit_code == 0);
  REQUIRE(b.exit_code == 0);
  auto ja = last_json_line(a.out), jb = last_json_line(b.out);
  CHECK(ja["top_k"] == 1);
  CHECK(ja["sample"] == jb["sample"]);
  return ja;
}

// Starts `build/bin/<name> <args>` in the background, stdout and stderr to
// files, under `env` ("VAR=value ...", may be empty). Returns its pid: the
// program's own (the shell execs it), for signals.
inline pid_t start_example(const std::string& name, const std::string& args, const std::filesystem::path& out,
                           const std::filesystem::path& err, const std::string& env = "") {
  std::string command = "exec env " + env + " " + std::string(NORMLAB_BIN_DIR) + "/" + name + " " + args + " >" +
                        out.string() + " 2>" + err.string();
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Waits for a started program to end: its exit status, or 128 + signal when a signal ended it.
inline int wait_for_exit(pid_t pid) {
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Polls `done` every 2 ms until it holds (true) or `seconds` pass (false).
inline bool wait_until(const std::function<bool()>& done, double seconds = 30) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace nl_test
