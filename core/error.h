#pragma once
// nl::Error: the one exception type normlab throws for bad calls and bad data.
// Messages name the op, the shapes/dtypes involved and what was expected,
// e.g. "matmul: shapes [32,784] and [10,784] do not align (784 vs 10)".
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace nl {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws nl::Error with a fmt-formatted message: fail("add: {} vs {}", a, b).
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace nl
