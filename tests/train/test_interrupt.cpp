// InterruptHandler: the first SIGINT/SIGTERM sets the flag (the process goes
// on), a second exits at once with 128 + signal, and the previous handlers
// come back. (A signal sent to a real training run: tests/examples/test_lm_checkpoints.cpp.)
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>

#include "normlab.h"

namespace {
volatile std::sig_atomic_t old_handler_calls = 0;
void old_handler(int) { old_handler_calls = old_handler_calls + 1; }
}  // namespace

TEST_CASE("interrupt: the first signal sets the flag, the old handler comes back", "[train][interrupt]") {
  struct sigaction mine {
  }, saved{};
  mine.sa_handler = old_handler;
  sigemptyset(&mine.sa_mask);
  sigaction(SIGTERM, &mine, &saved);
  old_handler_calls = 0;
  {
    nl::train::InterruptHandler interrupt;
    CHECK_FALSE(interrupt.requested());
    REQUIRE_THROWS_WITH(nl::train::InterruptHandler(), Catch::Contains("already installed"));
    std::raise(SIGTERM);
    CHECK(interrupt.requested());
    CHECK(interrupt.signal() == SIGTERM);
    CHECK(old_handler_calls == 0);
  }
  std::raise(SIGTERM);  // ours again
  CHECK(old_handler_calls == 1);
  sigaction(SIGTERM, &saved, nullptr);
  nl::train::InterruptHandler again;  // a new one starts with no signal
  CHECK_FALSE(again.requested());
  CHECK(nl::train::signal_name(SIGINT) == "SIGINT");
  CHECK(nl::train::signal_name(SIGTERM) == "SIGTERM");
  CHECK(nl::train::Interrupted(SIGINT, "saved").exit_status() == 130);
  CHECK(nl::train::Interrupted(SIGTERM, "saved").exit_status() == 143);
}

TEST_CASE("interrupt: a second signal exits at once with 128 + signal", "[train][interrupt]") {
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // the child must not return into Catch
    nl::train::InterruptHandler interrupt;
    std::raise(SIGINT);
    if (!interrupt.requested()) _exit(1);
    std::raise(SIGINT);
    _exit(2);  // not reached
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
}
