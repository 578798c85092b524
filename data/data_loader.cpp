#include "data/data_loader.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/random.h"

namespace nl::data {

std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed, int64_t epoch) {
  if (n < 0 || epoch < 0) fail("shuffled_indices: need n >= 0 and epoch >= 0, got n={} epoch={}", n, epoch);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t(0));
  // A generator of its own: the seed is mixed with a constant so the order is not
  // correlated with the model's initialization drawn from manual_seed(seed),
  // and epoch e uses counters [e·n, e·n + n), disjoint from every other epoch's.
  Generator generator(seed ^ 0x73687566666c65ULL);  // "shuffle"
  uint64_t counter = uint64_t(epoch) * uint64_t(n);
  for (int64_t i = n - 1; i > 0; --i) {  // Fisher–Yates: swap i with a uniform j in [0, i]
    int64_t j = std::min<int64_t>(i, int64_t(generator.uniform(counter + uint64_t(i)) * double(i + 1)));
    std::swap(order[size_t(i)], order[size_t(j)]);
  }
  return order;
}

Tensor gather_rows(const Tensor& x, const std::vector<int64_t>& indices) {
  if (x.dim() < 1) fail("gather_rows: expected a tensor with at least one dim, got shape {}", x.shape());
  Tensor source = x.contiguous();
  int64_t rows = source.size(0);
  Shape shape = source.shape();
  shape[0] = int64_t(indices.size());
  Tensor out = empty(shape, source.dtype());
  size_t row_bytes = size_t(rows == 0 ? 0 : source.numel() / rows) * itemsize(source.dtype());
  const char* in = static_cast<const char*>(source.storage()->data()) + source.offset() * itemsize(source.dtype());
  char* dst = static_cast<char*>(out.storage()->data()) + out.offset() * itemsize(out.dtype());
  for (size_t i = 0; i < indices.size(); ++i) {
    int64_t r = indices[i];
    if (r < 0 || r >= rows) fail("gather_rows: index {} out of range for {} rows (shape {})", r, rows, x.shape());
    std::memcpy(dst + i * row_bytes, in + size_t(r) * row_bytes, row_bytes);
  }
  return out;
}

DataLoader::DataLoader(Tensor inputs, Tensor targets, DataLoaderOptions options)
    : options(options), inputs_(inputs.contiguous()), targets_(targets.contiguous()) {
  if (options.batch_size < 1) fail("DataLoader: batch_size must be >= 1, got {}", options.batch_size);
  if (inputs_.dim() < 1 || targets_.dim() < 1 || inputs_.size(0) != targets_.size(0))
    fail("DataLoader: inputs {} and targets {} must have the same size along dim 0 (the samples)", inputs_.shape(),
         targets_.shape());
  set_epoch(0);
}

void DataLoader::set_epoch(int64_t epoch) {
  if (epoch < 0) fail("DataLoader::set_epoch: epoch must be >= 0, got {}", epoch);
  epoch_ = epoch;
  if (options.shuffle) {
    order_ = shuffled_indices(num_samples(), options.seed, epoch);
  } else {
    order_.resize(size_t(num_samples()));
    std::iota(order_.begin(), order_.end(), int64_t(0));
  }
}

int64_t DataLoader::size() const {
  int64_t n = num_samples(), b = options.batch_size;
  return options.drop_last ? n / b : (n + b - 1) / b;
}

Batch DataLoader::operator[](int64_t i) const {
  if (i < 0 || i >= size()) fail("DataLoader: batch {} out of range (an epoch has {} batches)", i, size());
  int64_t begin = i * options.batch_size, end = std::min(begin + options.batch_size, num_samples());
  Batch batch;
  batch.indices.assign(order_.begin() + begin, order_.begin() + end);
  batch.inputs = gather_rows(inputs_, batch.indices);
  batch.targets = gather_rows(targets_, batch.indices);
  return batch;
}

}  // namespace nl::data
