#pragma once
// Which normalization a model uses: the switch the experiments flip.
#include <string>
#include <string_view>

#include "core/error.h"

namespace nl::models {

// renorm: Batch Renormalization (Ioffe 2017), BatchRenorm1d, its limits r_max
// and d_max starting at 1 and 0 (layers::set_renorm_limits relaxes them).
enum class NormKind { none, batch, layer, rms, renorm };

inline NormKind parse_norm_kind(std::string_view s) {
  if (s == "none") return NormKind::none;
  if (s == "batch") return NormKind::batch;
  if (s == "layer") return NormKind::layer;
  if (s == "rms") return NormKind::rms;
  if (s == "renorm") return NormKind::renorm;
  fail("norm kind must be none, batch, layer, rms or renorm, got \"{}\"", s);
}

inline const char* to_string(NormKind k) {
  switch (k) {
    case NormKind::none: return "none";
    case NormKind::batch: return "batch";
    case NormKind::layer: return "layer";
    case NormKind::rms: return "rms";
    case NormKind::renorm: return "renorm";
  }
  return "?";
}

}  // namespace nl::models
