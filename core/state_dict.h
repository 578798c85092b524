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

// state[key], which must be a 0-D tensor of dtype; otherwise an nl::Error
// "<owner>: missing key ..." or "<owner>: <key> must be a 0-D ... tensor".
const Tensor& state_scalar(const StateDict& state, const std::string& key, DType dtype, std::string_view owner);

}  // namespace nl
