#pragma once
// weight_norm(module, name, dim): weight normalization (Salimans & Kingma
// 2016) applied to a module's parameter, as torch.nn.utils.weight_norm.
//
// The parameter `name` (say "weight") is replaced by two parameters in
// PyTorch's names, "weight_g" (the norms, v's shape with 1 in every dim but
// dim) and "weight_v" (the direction), and before every forward the module's
// weight becomes nl::weight_norm(weight_v, weight_g, dim) = g · v / ‖v‖ —
// part of the graph, so gradients reach g and v. They start as the current
// weight's norms and the weight itself: the output does not change. State
// dicts carry weight_g and weight_v (and no weight), so they move to and from
// PyTorch's weight-normed modules.
//
//   nl::layers::Linear fc(20, 10);
//   nl::layers::weight_norm(fc);                  // parameters: bias, weight_g (10, 1), weight_v (10, 20)
//   nl::layers::weight_norm(conv, "weight", 1);   // one norm per input channel
//   nl::layers::remove_weight_norm(fc);           // a plain weight again, = g · v / ‖v‖
//
// Works on any module with a registered parameter of that name (Linear,
// Conv1d, Conv2d, ...) whose forward reads the member the name was
// registered for. The recompute is a forward pre-hook, so it runs on every
// call of the module, whatever the forward's arguments.
#include <cstdint>
#include <optional>
#include <string>

#include "layers/module.h"

namespace nl::layers {

// dim: the dim kept, one norm per slice along it (0: per output row or
// channel; negative counts from the end); std::nullopt: one norm over the
// whole tensor, weight_g of shape [] (PyTorch's dim=None; PyTorch 1.13 also
// reads dim=-1 so, where here -1 is the last dim). Throws nl::Error if the module has no
// parameter `name`, it is already weight-normed, or dim is out of range.
// Returns module.
Module& weight_norm(Module& module, const std::string& name = "weight", std::optional<int64_t> dim = 0);

// Undoes weight_norm: `name` becomes a plain parameter again holding the
// current g · v / ‖v‖; `name`_g and `name`_v and the pre-hook go. Throws
// nl::Error if weight_norm was not applied to `name`. Returns module.
Module& remove_weight_norm(Module& module, const std::string& name = "weight");

}  // namespace nl::layers
