#pragma once
// Small helpers shared by the tests under tests/core/.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "normlab.h"

namespace nl_test {

// The message of the nl::Error that fn throws; "" when it throws nothing.
// Any other exception type propagates (and fails the test).
inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const nl::Error& e) {
    return e.what();
  }
  return "";
}

// Values of a tensor as doubles (row-major).
inline std::vector<double> values(const nl::Tensor& t) { return t.to_vector<double>(); }

// Makes a float64 leaf that requires grad.
inline nl::Tensor leaf64(const std::vector<double>& v, const nl::Shape& shape) {
  nl::Tensor t = nl::from_vector<double>(v, shape);
  t.requires_grad_(true);
  return t;
}
inline nl::Tensor leaf64(const std::vector<double>& v) { return leaf64(v, nl::Shape{int64_t(v.size())}); }

// Byte-for-byte equality of two tensors' contents (same dtype, same shape).
inline bool bitwise_equal(const nl::Tensor& a, const nl::Tensor& b) {
  if (!(a.shape() == b.shape()) || a.dtype() != b.dtype()) return false;
  nl::Tensor ca = a.contiguous(), cb = b.contiguous();
  size_t item = nl::itemsize(ca.dtype());
  const char* pa = static_cast<const char*>(ca.storage()->data()) + size_t(ca.offset()) * item;
  const char* pb = static_cast<const char*>(cb.storage()->data()) + size_t(cb.offset()) * item;
  return std::memcmp(pa, pb, size_t(ca.numel()) * item) == 0;
}

// Sets the thread count for a scope and restores the previous one.
class ThreadCount {
 public:
  explicit ThreadCount(int n) : previous_(nl::get_num_threads()) { nl::set_num_threads(n); }
  ~ThreadCount() { nl::set_num_threads(previous_); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;

 private:
  int previous_;
};

// Runs fn in a forked child process and returns its wait status, so that a
// crash (e.g. a stack overflow) fails one check instead of the whole runner.
// fn must not use OpenMP-parallel work (tensors below the parallel grain).
inline int run_in_child(const std::function<void()>& fn) {
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    // Catch2's fatal-signal handlers would report from the child too; die quietly instead.
    for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE}) std::signal(sig, SIG_DFL);
    try {
      fn();
    } catch (...) {
      _exit(2);
    }
    _exit(0);
  }
  int status = -1;
  if (pid > 0) waitpid(pid, &status, 0);
  return status;
}
inline bool exited_cleanly(int status) { return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0; }

}  // namespace nl_test
