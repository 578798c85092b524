#pragma once
// Shared by the example programs' reports: numbers for tables, verdicts, the final JSON.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "train/json.h"

namespace examples {

// A result for a table: fixed precision, or "diverged" when it is not finite
// (the JSON holds null there).
inline std::string fmt_number(double value, int precision) {
  if (!std::isfinite(value)) return "diverged";
  return fmt::format("{:.{}f}", value, precision);
}

// A claim's verdict over several comparisons: "held" when every one passes,
// "partly" when some do, "not held" when none does.
inline std::string verdict(const std::vector<bool>& passes) {
  size_t n = size_t(std::count(passes.begin(), passes.end(), true));
  return n == passes.size() ? "held" : n > 0 ? "partly" : "not held";
}

// The programs' last word: the results JSON written to path (indented) and
// printed as the final line on stdout (one line).
inline void write_and_print_json(const std::string& path, const nlohmann::json& results) {
  nl::train::write_json(path, results);
  fmt::print("{}\n", nl::train::json_text(results));
}

}  // namespace examples
