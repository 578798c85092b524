#include "examples/cnn_norm/batches.h"

#include "data/data_loader.h"
#include "normlab.h"

namespace cnn_norm {

namespace {

// Seeds of the non-i.i.d. order's three shuffles, derived from the run's seed
// so that they are not the i.i.d. shuffle's (and not each other's).
constexpr uint64_t kPairsSalt = 0x9E3779B97F4A7C15ULL, kBatchesSalt = 0xC2B2AE3D27D4EB4FULL;

std::vector<std::vector<int64_t>> cut(const std::vector<int64_t>& order, int64_t batch_size) {
  std::vector<std::vector<int64_t>> batches;
  for (size_t begin = 0; begin + size_t(batch_size) <= order.size(); begin += size_t(batch_size))
    batches.emplace_back(order.begin() + ptrdiff_t(begin), order.begin() + ptrdiff_t(begin) + batch_size);
  return batches;
}

std::vector<std::vector<int64_t>> two_class_batches(const std::vector<int64_t>& labels, int64_t num_classes,
                                                    int64_t batch_size, uint64_t seed, int64_t epoch) {
  // each class's samples in the epoch's shuffled order
  std::vector<std::vector<int64_t>> by_class(size_t(num_classes), std::vector<int64_t>{});
  for (int64_t i : nl::data::shuffled_indices(int64_t(labels.size()), seed, epoch))
    by_class[size_t(labels[size_t(i)])].push_back(i);
  std::vector<int64_t> classes = nl::data::shuffled_indices(num_classes, seed ^ kPairsSalt, epoch);
  std::vector<std::vector<int64_t>> batches;
  int64_t half = batch_size / 2;
  for (size_t p = 0; p + 1 < classes.size(); p += 2) {
    const std::vector<int64_t>& a = by_class[size_t(classes[p])];
    const std::vector<int64_t>& b = by_class[size_t(classes[p + 1])];
    for (size_t begin = 0; begin + size_t(half) <= std::min(a.size(), b.size()); begin += size_t(half)) {
      std::vector<int64_t> batch(a.begin() + ptrdiff_t(begin), a.begin() + ptrdiff_t(begin) + half);
      batch.insert(batch.end(), b.begin() + ptrdiff_t(begin), b.begin() + ptrdiff_t(begin) + half);
      batches.push_back(std::move(batch));
    }
  }
  std::vector<std::vector<int64_t>> shuffled;
  for (int64_t i : nl::data::shuffled_indices(int64_t(batches.size()), seed ^ kBatchesSalt, epoch))
    shuffled.push_back(std::move(batches[size_t(i)]));
  return shuffled;
}

}  // namespace

std::vector<std::vector<int64_t>> epoch_batches(const std::vector<int64_t>& labels, int64_t num_classes,
                                                int64_t batch_size, uint64_t seed, int64_t epoch, bool noniid) {
  if (!noniid) return cut(nl::data::shuffled_indices(int64_t(labels.size()), seed, epoch), batch_size);
  if (batch_size % 2 != 0 || num_classes < 2)
    nl::fail("cnn_norm: --noniid batches hold two classes, half each: the batch size must be even (got {}) and "
             "there must be at least 2 classes (got {})",
             batch_size, num_classes);
  return two_class_batches(labels, num_classes, batch_size, seed, epoch);
}

}  // namespace cnn_norm
