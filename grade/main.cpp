// normlab-grade EXERCISE FILE: grades a student's exercise file (docs/teaching.md).
//
// 1. Compiles FILE alone into a shared object, with the compiler this build
//    used and `-include grade/api/EXERCISE.h`, which gives the exercise's
//    functions C names; a compile error is printed as such (exit 2).
// 2. In a child process (so a crash, a sanitizer report or an endless loop in
//    the student's code is reported, not suffered), loads it and runs the
//    exercise's checks (check_EXERCISE.cpp): one line per check, PASS or FAIL,
//    the cs231n relative error, the worst element and a diagnosis.
// Exit status: 0 all checks passed, 1 some failed, 2 compile error,
// 3 crash or timeout, 64 bad usage.
//
// normlab-grade --stub SOLUTION prints the student's stub made from a
// reference solution: each region between `// BEGIN SOLUTION: what` and
// `// END SOLUTION` becomes `// TODO: what` (scripts/make_stubs.sh).
#include <dlfcn.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <variant>
#include <sstream>
#include <string>
#include <vector>

#include "core/version.h"
#include "grade/config.h"
#include "grade/exercises.h"

namespace fs = std::filesystem;
using nl::grade::Exercise;

namespace nl::grade {
const std::vector<Exercise>& exercises() {
  static const std::vector<Exercise> all = {
      {"layernorm", "LayerNorm forward and backward (with dgamma, dbeta)", "layernorm.h", run_layernorm},
      {"batchnorm", "BatchNorm training forward and backward, eval forward", "batchnorm.h", run_batchnorm},
      {"rmsnorm", "RMSNorm backward", "rmsnorm.h", run_rmsnorm},
      {"groupnorm", "GroupNorm backward (with dgamma, dbeta)", "groupnorm.h", run_groupnorm},
      {"softmax_ce", "softmax and cross-entropy: the loss and its gradient", "softmax_ce.h", run_softmax_ce},
      {"attention", "scaled dot-product attention backward (one head, optionally causal)", "attention.h",
       run_attention},
      {"lnlstm", "the layer-normalized LSTM cell's backward for one step", "lnlstm.h", run_lnlstm},
      {"adam", "one step of the Adam optimizer", "adam.h", run_adam},
  };
  return all;
}

std::string case_text(const Case& c, const char* rows_name, const char* cols_name) {
  return fmt::format("{}={} {}={}, {}", rows_name, c.rows, cols_name, c.cols, c.note);
}
}  // namespace nl::grade

namespace {

constexpr int kUsage = 64, kCompileError = 2, kCrash = 3;

int usage(std::ostream& out, int status) {
  out << "usage: normlab-grade EXERCISE FILE [--timeout SECONDS] [--keep]\n"
         "       normlab-grade --list\n"
         "       normlab-grade --stub SOLUTION_FILE\n"
         "Compiles FILE (a copy of exercises/EXERCISE.cpp with the TODOs done), runs it on\n"
         "random shapes against normlab's kernels and central differences, and prints one\n"
         "line per check. Exit status: 0 all passed, 1 some failed, 2 compile error, 3 crash.\n";
  return status;
}

int list() {
  for (const Exercise& e : nl::grade::exercises()) fmt::print("{:<12} {}\n", e.name, e.summary);
  return 0;
}

// The stub of a reference solution, or an error message.
int stub(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "normlab-grade: cannot read " << path << "\n";
    return 1;
  }
  std::string line, out;
  int line_no = 0, begin_line = 0;
  bool inside = false;
  while (std::getline(in, line)) {
    ++line_no;
    const size_t first = line.find_first_not_of(" \t");
    const std::string_view text = first == std::string::npos ? "" : std::string_view(line).substr(first);
    if (text.starts_with("// BEGIN SOLUTION")) {
      if (inside) return std::cerr << path << ":" << line_no << ": BEGIN SOLUTION inside another\n", 1;
      inside = true;
      begin_line = line_no;
      out += line.substr(0, first) + "// TODO" + std::string(text.substr(std::strlen("// BEGIN SOLUTION"))) + "\n";
    } else if (text.starts_with("// END SOLUTION")) {
      if (!inside) return std::cerr << path << ":" << line_no << ": END SOLUTION without BEGIN\n", 1;
      inside = false;
    } else if (!inside) {
      out += line + "\n";
    }
  }
  if (inside) return std::cerr << path << ":" << begin_line << ": BEGIN SOLUTION never ends\n", 1;
  std::cout << out;
  return 0;
}

// Runs argv with stdout and stderr into log; its exit status, or -1 if it could not run.
int run_to_file(const std::vector<std::string>& argv, const fs::path& log, int timeout_seconds) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    alarm(unsigned(timeout_seconds));
    execvp(args[0], args.data());
    std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The command line: the exercise, the file and the options; or the exit
// status to return at once (--help, --list, --stub, a usage error).
struct Options {
  const Exercise* exercise = nullptr;
  fs::path file;
  int timeout = 60;
  bool keep = false;
};
std::variant<Options, int> parse(const std::vector<std::string>& args) {
  Options o;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") return usage(std::cout, 0);
    if (args[i] == "--version") return fmt::print("normlab-grade {}\n", nl::version()), 0;
    if (args[i] == "--list") return list();
    if (args[i] == "--stub") return i + 1 < args.size() ? stub(args[i + 1]) : usage(std::cerr, kUsage);
    if (args[i] == "--keep") {
      o.keep = true;
    } else if (args[i] == "--timeout" && i + 1 < args.size()) {
      o.timeout = std::max(1, std::atoi(args[++i].c_str()));
    } else if (args[i].starts_with("-")) {
      std::cerr << "normlab-grade: unknown option " << args[i] << "\n";
      return usage(std::cerr, kUsage);
    } else {
      positional.push_back(args[i]);
    }
  }
  if (positional.size() != 2) return usage(std::cerr, kUsage);
  for (const Exercise& e : nl::grade::exercises())
    if (positional[0] == e.name) o.exercise = &e;
  if (!o.exercise) {
    std::cerr << "normlab-grade: no exercise named '" << positional[0] << "'; the exercises are:\n";
    for (const Exercise& e : nl::grade::exercises()) std::cerr << "  " << e.name << "\n";
    return kUsage;
  }
  o.file = positional[1];
  if (!fs::is_regular_file(o.file)) {
    std::cerr << "normlab-grade: " << o.file.string() << " is not a file\n";
    return kUsage;
  }
  return o;
}

// A fresh temporary directory, removed (or, with --keep, named) at the end.
struct WorkDir {
  fs::path dir;
  bool keep = false;
  ~WorkDir() {
    std::error_code ec;
    if (dir.empty()) return;
    if (keep)
      std::cerr << "normlab-grade: kept " << dir.string() << "\n";
    else
      fs::remove_all(dir, ec);
  }
};

// 1. Compiles the student's file into `library`; 0, or the exit status to return.
int compile_student(const Options& o, const fs::path& library, const fs::path& log) {
  std::vector<std::string> compile = {NORMLAB_GRADE_CXX, NORMLAB_GRADE_FLAGS};
  compile.push_back("-include");
  compile.push_back((fs::path(NORMLAB_GRADE_API_DIR) / o.exercise->api_header).string());
  compile.insert(compile.end(), {"-I", NORMLAB_GRADE_INCLUDE_DIR, "-o", library.string(), fs::absolute(o.file).string()});
  const int compiled = run_to_file(compile, log, 120);
  if (compiled == 127 || compiled < 0) {  // not the student's fault
    fmt::print("normlab-grade: cannot run the compiler {}:\n{}", NORMLAB_GRADE_CXX, read_all(log));
    return kCrash;
  }
  if (compiled != 0) {
    fmt::print("COMPILE ERROR: {} does not compile{}:\n{}", o.file.string(),
               compiled >= 128 ? fmt::format(" (the compiler was stopped by signal {})", compiled - 128) : "",
               read_all(log));
    fmt::print("\n{}: not graded (compile error)\n", o.exercise->name);
    return kCompileError;
  }
  if (const std::string warnings = read_all(log); !warnings.empty()) fmt::print("compiler warnings:\n{}", warnings);
  return 0;
}

// 2. Loads `library` and runs the checks in a child process, which writes
// `finished` at the end; the grader's exit status.
int run_checks(const Options& o, const fs::path& library, const fs::path& finished) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return std::cerr << "normlab-grade: fork failed\n", kCrash;
  if (pid == 0) {
    alarm(unsigned(o.timeout));
    void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      fmt::print("LOAD ERROR: {}\n", dlerror());
      std::fflush(stdout);
      std::_Exit(kCrash);
    }
    nl::grade::Grader grader(o.exercise->name);
    o.exercise->run(handle, grader);
    const int verdict = grader.finish();
    std::ofstream(finished) << verdict << "\n";
    std::exit(verdict);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  // The child's verdict counts only if it got to the end: a sanitizer report in
  // the student's code also ends the process with a status (ASan's is 1).
  if (WIFEXITED(status) && fs::exists(finished)) return WEXITSTATUS(status);
  const int sig = WIFEXITED(status) ? 0 : WTERMSIG(status);
  const std::string file = o.file.string();
  if (sig == 0)
    fmt::print(
        "\nCRASH: the checks stopped with exit status {} before the end, while running the code of {} "
        "(a sanitizer's report above names the line)\n",
        WEXITSTATUS(status), file);
  else if (sig == SIGALRM)
    fmt::print("\nTIMEOUT: the checks did not finish in {} seconds: an endless loop in {}?\n", o.timeout, file);
  else
    fmt::print("\nCRASH: the checks died with signal {} ({}) while running the code of {}{}\n", sig, strsignal(sig),
               file,
               sig == SIGSEGV ? ": an index out of bounds? (x is N·D values, gamma and beta D, mean and rstd N)" : "");
  fmt::print("{}: not graded to the end (the lines above are the checks that ran)\n", o.exercise->name);
  return kCrash;
}

}  // namespace

int main(int argc, char** argv) {
  std::variant<Options, int> parsed = parse(std::vector<std::string>(argv + 1, argv + argc));
  if (const int* status = std::get_if<int>(&parsed)) return *status;
  const Options& options = std::get<Options>(parsed);

  std::string dir_template = (fs::temp_directory_path() / "normlab-grade-XXXXXX").string();
  if (!mkdtemp(dir_template.data())) {
    std::cerr << "normlab-grade: cannot create a temporary directory: " << std::strerror(errno) << "\n";
    return kCrash;
  }
  const WorkDir work{dir_template, options.keep};

  fmt::print("normlab-grade {}: exercise {} ({}), file {}\n", nl::version(), options.exercise->name,
             options.exercise->summary, options.file.string());
  const fs::path library = work.dir / "student.so";
  if (const int status = compile_student(options, library, work.dir / "compile.log"); status != 0) return status;
  return run_checks(options, library, work.dir / "finished");
}
