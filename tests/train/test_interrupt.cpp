// InterruptHandler: the first SIGINT/SIGTERM sets the flag (the process goes
// on), a second exits at once with 128 + signal, and the previous handlers
// come back; after the signal, output to a full pipe is dropped rather than
// waited for. (A signal sent to a real training run: tests/examples/test_lm_checkpoints.cpp.)
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
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

TEST_CASE("interrupt: after the signal a full pipe on stderr makes a write fail instead of wait",
          "[train][interrupt]") {
  // mpirun stops reading its ranks' output when told to stop: a rank writing
  // to the full pipe must still reach its checkpoint
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // the child must not return into Catch
    alarm(10);       // a write that waits would hang: SIGALRM ends the child instead
    int fds[2];
    if (pipe(fds) != 0 || dup2(fds[1], STDERR_FILENO) < 0) _exit(10);
    int flags = fcntl(STDERR_FILENO, F_GETFL);
    fcntl(STDERR_FILENO, F_SETFL, flags | O_NONBLOCK);  // fill the pipe, nobody reads it
    char block[4096] = {};
    while (write(STDERR_FILENO, block, sizeof block) > 0) {
    }
    fcntl(STDERR_FILENO, F_SETFL, flags);  // blocking again, as a program's stderr is
    {
      nl::train::InterruptHandler interrupt;
      std::raise(SIGTERM);  // its message is dropped, not waited for
      if (!interrupt.requested()) _exit(11);
      if (write(STDERR_FILENO, block, sizeof block) != -1 || errno != EAGAIN) _exit(12);
    }
    if (fcntl(STDERR_FILENO, F_GETFL) != flags) _exit(13);  // the handler's end puts the flags back
    _exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  INFO("a signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0) << " ended the child (14: SIGALRM, it waited)");
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
