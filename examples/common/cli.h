#pragma once
// The end of every example program's command-line setup: --version joins the
// options (it prints nl::version(), the library's version), then argv is parsed.
//
//   CLI::App app{"what the program does"};
//   app.add_option("--steps", cfg.steps, "training steps");
//   if (std::optional<int> exit_code = examples::parse_command_line(app, argc, argv)) return *exit_code;
#include <optional>

#include <CLI/CLI.hpp>

#include "core/version.h"

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

}  // namespace examples
