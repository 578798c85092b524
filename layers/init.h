#pragma once
// Parameter initialization, as torch.nn.init; draws come from the global
// generator (nl::manual_seed), so a seeded model is reproducible.
#include "core/tensor.h"

namespace nl::layers::init {

// U(−bound, bound) in place.
void uniform_(Tensor& t, double bound);
// PyTorch's default for Linear weights and biases: kaiming_uniform_ with
// a = √5 gives bound = gain·√(3 / fan_in) with gain = √(2 / (1 + a²)),
// which simplifies to bound = 1 / √fan_in.
void linear_default_(Tensor& t, int64_t fan_in);
// N(0, std²) in place.
void normal_(Tensor& t, double std);
// Glorot & Bengio 2010, as torch.nn.init.xavier_uniform_: U(−a, a) with
// a = gain·√(6 / (fan_in + fan_out)), for a weight (fan_out, fan_in, ...)
// whose trailing dimensions multiply both fans (a convolution's kernel).
// Keeps the variance of activations and of gradients about constant across
// layers (Var = 2 / (fan_in + fan_out)). Needs at least 2 dimensions.
void xavier_uniform_(Tensor& t, double gain = 1.0);

}  // namespace nl::layers::init
