#pragma once
// Element types. Kernels are templates over the C++ type; the run-time DType
// is turned into a type exactly once per op with the dispatch helpers below.
#include <cstdint>
#include <string_view>

#include "core/error.h"

namespace nl {

enum class DType : uint8_t { float32, float64, int64 };

inline constexpr DType f32 = DType::float32;
inline constexpr DType f64 = DType::float64;
inline constexpr DType i64 = DType::int64;

constexpr std::string_view dtype_name(DType d) {
  switch (d) {
    case DType::float32: return "float32";
    case DType::float64: return "float64";
    case DType::int64: return "int64";
  }
  return "?";
}

constexpr size_t itemsize(DType d) { return d == DType::float32 ? 4 : 8; }
constexpr bool is_floating(DType d) { return d != DType::int64; }

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::float32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::float64;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::int64;
}

// Calls fn.template operator()<T>() with T the C++ type of d:
//   dispatch_all(x.dtype(), [&]<typename T>() { ... });
template <typename Fn>
decltype(auto) dispatch_all(DType d, Fn&& fn) {
  switch (d) {
    case DType::float32: return fn.template operator()<float>();
    case DType::float64: return fn.template operator()<double>();
    case DType::int64: return fn.template operator()<int64_t>();
  }
  throw Error("dispatch: unknown dtype");
}

// Same for ops defined on floating types only; `op` names the caller in the error.
template <typename Fn>
decltype(auto) dispatch_floating(std::string_view op, DType d, Fn&& fn) {
  switch (d) {
    case DType::float32: return fn.template operator()<float>();
    case DType::float64: return fn.template operator()<double>();
    case DType::int64: break;
  }
  fail("{}: expected a floating tensor (float32 or float64), got {}", op, dtype_name(d));
}

}  // namespace nl

template <>
struct fmt::formatter<nl::DType> : fmt::formatter<std::string_view> {
  auto format(nl::DType d, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(nl::dtype_name(d), ctx);
  }
};
