#pragma once
// What a classifier scores on a labelled set, measured as a training loop
// wants it between epochs: in evaluation mode (BatchNorm with its running
// statistics, Dropout off), without recording a graph, and with the model
// left in the mode it was in.
//
//   double acc = nl::train::accuracy(model, test_x, test_y);
#include "core/tensor.h"
#include "layers/module.h"

namespace nl::train {

// The fraction of rows of inputs whose logits (model(inputs), shape (N, C))
// are largest at the row's label (labels: N class indices, int64). 0 for no rows.
double accuracy(layers::Module& model, const Tensor& inputs, const Tensor& labels);

}  // namespace nl::train
