#pragma once
// MLP(sizes, norm, activation): Linear layers sizes[0] -> sizes[1] -> ... ->
// sizes.back(), each hidden one followed by the norm (if any) and then the
// activation — norm before activation, as in the normalization papers. The
// last Linear has neither. Children are named 0, 1, 2, ... as a Sequential.
#include <string>
#include <vector>

#include "layers/sequential.h"
#include "models/norm_kind.h"

namespace nl::models {

class MLP : public layers::Sequential {
 public:
  MLP(const std::vector<int64_t>& sizes, NormKind norm = NormKind::none, const std::string& activation = "relu",
      DType dtype = f32);
  const NormKind norm;
};

}  // namespace nl::models
