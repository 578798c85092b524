#include "train/interrupt.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include "core/error.h"

namespace nl::train {

namespace {
// Set by the handler, read by the loop: a lock-free atomic is async-signal-safe.
std::atomic<int> received{0};
std::atomic<bool> installed{false};
static_assert(std::atomic<int>::is_always_lock_free);

// stdout's and stderr's file status flags before the signal made them
// non-blocking (-1: left alone), for the destructor to put back.
std::atomic<int> saved_flags[3] = {-1, -1, -1};

// After a stop signal no output may keep the process from its checkpoint.
// Open MPI's mpirun stops reading its ranks' output pipes once it is told to
// stop, so a rank that writes to a full pipe would wait there until SIGKILL.
// A pipe or socket on `fd` becomes non-blocking: a write that would wait fails
// instead (that output is lost, the run goes on). A terminal or a file is left
// alone: a terminal's flags are shared with the shell. fstat and fcntl are
// async-signal-safe.
void never_block_on(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) return;
  int flags = fcntl(fd, F_GETFL);
  if (flags == -1 || (flags & O_NONBLOCK)) return;
  if (fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0) saved_flags[fd] = flags;
}

void on_signal(int signal) {
  if (received.exchange(signal) != 0) _exit(128 + signal);  // the second one: at once
  never_block_on(STDOUT_FILENO);
  never_block_on(STDERR_FILENO);
  // write(2) is async-signal-safe; fmt and stdio are not
  static const char message[] =
      "\ninterrupted: finishing this step and writing a checkpoint (send it again to exit at once)\n";
  ssize_t ignored = ::write(STDERR_FILENO, message, sizeof message - 1);
  (void)ignored;
}
}  // namespace

InterruptHandler::InterruptHandler() {
  if (installed.exchange(true)) fail("InterruptHandler: one is already installed");
  received = 0;
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // a blocking read or write in the step goes on
  sigaction(SIGINT, &action, &old_int_);
  sigaction(SIGTERM, &action, &old_term_);
}

InterruptHandler::~InterruptHandler() {
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
  for (int fd : {STDOUT_FILENO, STDERR_FILENO})
    if (int flags = saved_flags[fd].exchange(-1); flags != -1) fcntl(fd, F_SETFL, flags);
  installed = false;
}

int InterruptHandler::signal() const { return received.load(); }

std::string signal_name(int signal) {
  if (signal == SIGINT) return "SIGINT";
  if (signal == SIGTERM) return "SIGTERM";
  return "signal " + std::to_string(signal);
}

}  // namespace nl::train
