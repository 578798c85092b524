#pragma once
// Drawing the next token from a language model's logits.
#include <cstdint>

#include "core/tensor.h"

namespace nl::models {

// One id from logits (V): softmax(logits / temperature) restricted to the
// top_k largest (top_k <= 0: all), drawn with the global generator.
// temperature 0 picks the argmax.
int64_t sample_next(const Tensor& logits, double temperature = 1.0, int64_t top_k = 0);

}  // namespace nl::models
