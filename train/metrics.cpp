#include "train/metrics.h"

#include <algorithm>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"

namespace nl::train {

double accuracy(layers::Module& model, const Tensor& inputs, const Tensor& labels) {
  if (inputs.dim() >= 1 && inputs.size(0) == 0) {  // no rows: nothing to score (argmax has no empty form)
    if (labels.numel() != 0) fail("accuracy: 0 rows of inputs {} but {} labels", inputs.shape(), labels.numel());
    return 0;
  }
  NoGradGuard no_grad;
  bool was_training = model.is_training();
  model.eval();
  std::vector<int64_t> predicted = model(inputs).argmax(1).to_vector<int64_t>();
  model.train(was_training);
  std::vector<int64_t> truth = labels.to_vector<int64_t>();
  if (predicted.size() != truth.size())
    fail("accuracy: {} rows of logits but {} labels", predicted.size(), truth.size());
  int64_t correct = 0;
  for (size_t i = 0; i < truth.size(); ++i) correct += predicted[i] == truth[i];
  return double(correct) / double(std::max<size_t>(truth.size(), 1));
}

}  // namespace nl::train
