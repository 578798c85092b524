#pragma once
// Stopping a training run cleanly on SIGINT (Ctrl-C) or SIGTERM: while an
// InterruptHandler lives, the first such signal only sets a flag, which the
// loop checks after each step — it finishes the step, writes a checkpoint and
// ends the run (throwing Interrupted, which main() turns into exit status
// 128 + signal). A second signal exits at once with 128 + signal (130 for
// SIGINT, 143 for SIGTERM), for a user who does not want to wait. The previous
// handlers come back when the InterruptHandler is destroyed.
//
// From the first signal on, a pipe or socket on stdout or stderr is
// non-blocking until the handler is destroyed: output that would have to wait
// is dropped rather than keep the run from its checkpoint (mpirun stops
// reading its ranks' output when it is told to stop; interrupt.cpp).
//
//   nl::train::InterruptHandler interrupt;
//   for (int64_t step = 1; step <= steps; ++step) {
//     ...training step...
//     if (interrupt.requested()) {
//       save_checkpoint(...);
//       throw nl::train::Interrupted(interrupt.signal(), "wrote ...; resume with --resume");
//     }
//   }
#include <csignal>
#include <exception>
#include <string>

namespace nl::train {

class InterruptHandler {
 public:
  // Installs the handlers; only one InterruptHandler may live at a time.
  InterruptHandler();
  ~InterruptHandler();
  InterruptHandler(const InterruptHandler&) = delete;
  InterruptHandler& operator=(const InterruptHandler&) = delete;

  // Whether SIGINT or SIGTERM arrived, and which (0: none).
  bool requested() const { return signal() != 0; }
  int signal() const;

 private:
  struct sigaction old_int_, old_term_;
};

// "SIGINT", "SIGTERM", or "signal <n>".
std::string signal_name(int signal);

// A run stopped by a signal after saving its state: what() says what was
// written and how to resume; main() prints it and exits with exit_status().
class Interrupted : public std::exception {
 public:
  Interrupted(int signal, std::string message) : signal_(signal), message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }
  int signal() const { return signal_; }
  int exit_status() const { return 128 + signal_; }

 private:
  int signal_;
  std::string message_;
};

}  // namespace nl::train
