#pragma once
// A state dict: named tensors, ordered by name. Modules, optimizers and
// schedulers all export their state as one, so a checkpoint is simply the
// union of state dicts written to a safetensors file. Scalars (a learning
// rate, a step count) are 0-D tensors: float64 for reals, int64 for counts.
#include <map>
#include <string>

#include "core/tensor.h"

namespace nl {

using StateDict = std::map<std::string, Tensor>;

}  // namespace nl
