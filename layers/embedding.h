#pragma once
// Embedding: a lookup table, weight (num_embeddings, embedding_dim) drawn
// from N(0, 1) as torch.nn.Embedding; forward maps int64 indices of any shape
// to indices.shape + [embedding_dim].
#include <fmt/format.h>

#include "core/ops.h"
#include "layers/module.h"

namespace nl::layers {

class Embedding : public Layer<Embedding> {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, DType dtype = f32)
      : Layer("Embedding"), num_embeddings(num_embeddings), embedding_dim(embedding_dim) {
    if (num_embeddings <= 0 || embedding_dim <= 0)
      fail("Embedding: sizes must be > 0, got num_embeddings={} embedding_dim={}", num_embeddings, embedding_dim);
    weight = randn({num_embeddings, embedding_dim}, dtype);
    register_parameter("weight", weight);
  }

  int64_t num_embeddings, embedding_dim;
  Tensor weight;

 protected:
  friend Layer<Embedding>;
  Tensor forward(const Tensor& indices) override { return embedding(weight, indices); }
  std::string extra_repr() const override { return fmt::format("{}, {}", num_embeddings, embedding_dim); }
};

}  // namespace nl::layers
