#pragma once
// The checkpoint flags of a program whose loop uses nl::train::RunCheckpoints
// (train/run_checkpoints.h): --checkpoint-dir --checkpoint-every
// --keep-checkpoints --resume, the same flags and help as the language-model
// programs' (lm_program.h).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "train/run_checkpoints.h"

namespace examples {

// Adds the four flags, filling `options`; the last three need --checkpoint-dir.
inline CLI::Option* add_checkpoint_options(CLI::App& app, nl::train::CheckpointOptions& options) {
  CLI::Option* dir = app.add_option("--checkpoint-dir", options.dir,
                                    "write checkpoints here (step_<N>.safetensors); SIGINT/SIGTERM then write one "
                                    "and stop (a second exits at once)");
  app.add_option("--checkpoint-every", options.every,
                 "steps between checkpoints (0: only at the end and when interrupted)")
      ->check(CLI::Range(int64_t(0), int64_t(10000000)))
      ->needs(dir);
  app.add_option("--keep-checkpoints", options.keep, "checkpoints kept, the newest")
      ->check(CLI::Range(int64_t(1), int64_t(1000000)))
      ->capture_default_str()
      ->needs(dir);
  app.add_flag("--resume", options.resume, "continue from the newest valid checkpoint in --checkpoint-dir")->needs(dir);
  return dir;
}

// Losses for a checkpoint's run log, exactly: JSON numbers round-trip a
// double (and a float, through double) bit for bit, but JSON has no NaN or
// infinity, so those are the strings "nan", "inf", "-inf".
template <typename T>
nlohmann::json exact_losses(const std::vector<T>& losses) {
  nlohmann::json out = nlohmann::json::array();
  for (T v : losses) out.push_back(std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(fmt::format("{}", v)));
  return out;
}
template <typename T>
std::vector<T> losses_from_json(const nlohmann::json& in) {
  std::vector<T> out;
  for (const nlohmann::json& v : in)
    out.push_back(v.is_string() ? T(std::strtod(v.get<std::string>().c_str(), nullptr)) : v.get<T>());
  return out;
}

}  // namespace examples
