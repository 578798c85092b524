#pragma once
// The frame of every example program's main(): the end of its command-line
// setup (--version joins the options, printing nl::version(), then argv is
// parsed), and the run itself, where an nl::Error becomes a message and exit
// status 1 instead of an abort.
//
//   CLI::App app{"what the program does"};
//   app.add_option("--steps", cfg.steps, "training steps");
//   if (std::optional<int> exit_code = examples::parse_command_line(app, argc, argv)) return *exit_code;
//   return examples::run_or_report_error(cfg.detect_anomaly, [&] { report(cfg, run(cfg)); });
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <optional>

#include "core/anomaly.h"
#include "core/error.h"
#include "core/version.h"
#include "train/interrupt.h"

namespace examples {

// Parses argv into the options app holds. Returns the exit code when there is
// nothing to run — --help, --version, or a bad option — after CLI11 has
// printed what to say; std::nullopt otherwise.
inline std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv) {
  app.set_version_flag("--version", nl::version());
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return std::nullopt;
}

// Runs body() — with nl::DetectAnomalyGuard when detect_anomaly — and returns
// main()'s exit status: 0, or 1 after printing "error: <message>" on stderr
// when body throws an nl::Error, or 128 + signal after printing what was saved
// when a signal stopped it (nl::train::Interrupted, lm_checkpoints.h). after_progress_line starts the message on a
// new line, for a program whose error may interrupt its progress line.
template <typename Body>
int run_or_report_error(bool detect_anomaly, Body&& body, bool after_progress_line = false) {
  try {
    nl::DetectAnomalyGuard anomaly(detect_anomaly);
    body();
  } catch (const nl::train::Interrupted& e) {
    fmt::print(stderr, "\n{}\n", e.what());
    return e.exit_status();
  } catch (const nl::Error& e) {
    fmt::print(stderr, "{}error: {}\n", after_progress_line ? "\n" : "", e.what());
    return 1;
  }
  return 0;
}

}  // namespace examples
