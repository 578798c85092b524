#pragma once
// Shared by the example programs' result tables: numbers from a results JSON.
#include <fmt/format.h>

#include <string>

#include <nlohmann/json.hpp>

namespace examples {

// A number from a results JSON for a table: fixed precision, or "diverged"
// when it is null (a non-finite value).
inline std::string fmt_number(const nlohmann::json& value, int precision) {
  if (value.is_null()) return "diverged";
  return fmt::format("{:.{}f}", value.get<double>(), precision);
}

}  // namespace examples
