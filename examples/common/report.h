#pragma once
// Shared by the example programs' reports: numbers for tables, the final JSON.
#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "train/json.h"

namespace examples {

// A result for a table: fixed precision, or "diverged" when it is not finite
// (the JSON holds null there).
inline std::string fmt_number(double value, int precision) {
  if (!std::isfinite(value)) return "diverged";
  return fmt::format("{:.{}f}", value, precision);
}

// The programs' last word: the results JSON written to path (indented) and
// printed as the final line on stdout (one line).
inline void write_and_print_json(const std::string& path, const nlohmann::json& results) {
  nl::train::write_json(path, results);
  fmt::print("{}\n", nl::train::json_text(results));
}

}  // namespace examples
