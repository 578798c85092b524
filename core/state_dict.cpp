#include "core/state_dict.h"

namespace nl {

const Tensor& state_scalar(const StateDict& state, const std::string& key, DType dtype, std::string_view owner) {
  auto it = state.find(key);
  if (it == state.end()) fail("{}: missing key {}", owner, key);
  const Tensor& t = it->second;
  if (!t.defined() || t.dim() != 0 || t.dtype() != dtype)
    fail("{}: {} must be a 0-D {} tensor, got {} {}", owner, key, dtype, t.defined() ? t.dtype() : dtype,
         t.defined() ? t.shape() : Shape{});
  return t;
}

}  // namespace nl
