#pragma once
// Which normalization a model uses: the switch the experiments flip.
#include <string>
#include <string_view>

#include "core/error.h"

namespace nl::models {

enum class NormKind { none, batch, layer, rms };

inline NormKind parse_norm_kind(std::string_view s) {
  if (s == "none") return NormKind::none;
  if (s == "batch") return NormKind::batch;
  if (s == "layer") return NormKind::layer;
  if (s == "rms") return NormKind::rms;
  fail("norm kind must be none, batch, layer or rms, got \"{}\"", s);
}

inline const char* to_string(NormKind k) {
  switch (k) {
    case NormKind::none: return "none";
    case NormKind::batch: return "batch";
    case NormKind::layer: return "layer";
    case NormKind::rms: return "rms";
  }
  return "?";
}

}  // namespace nl::models
