#include "train/interrupt.h"

#include <unistd.h>

#include <atomic>

#include "core/error.h"

namespace nl::train {

namespace {
// Set by the handler, read by the loop: a lock-free atomic is async-signal-safe.
std::atomic<int> received{0};
std::atomic<bool> installed{false};
static_assert(std::atomic<int>::is_always_lock_free);

void on_signal(int signal) {
  if (received.exchange(signal) != 0) _exit(128 + signal);  // the second one: at once
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
  installed = false;
}

int InterruptHandler::signal() const { return received.load(); }

std::string signal_name(int signal) {
  if (signal == SIGINT) return "SIGINT";
  if (signal == SIGTERM) return "SIGTERM";
  return "signal " + std::to_string(signal);
}

}  // namespace nl::train
