#include "dist/data_parallel.h"

#include <fmt/format.h>

#include <cstring>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"

namespace nl::dist {

namespace {
// Tensors packed into one flat buffer of one dtype.
struct Bucket {
  DType dtype;
  std::vector<Tensor> tensors;
  int64_t numel = 0;
};

// Consecutive tensors of a dtype share a bucket until it would pass
// max_bytes; a tensor larger than that gets a bucket of its own.
std::vector<Bucket> make_buckets(const std::vector<Tensor>& tensors, int64_t max_bytes) {
  std::vector<Bucket> buckets;
  std::vector<size_t> open;  // index of the open bucket per dtype, or SIZE_MAX
  auto open_of = [&](DType dtype) -> size_t& {
    size_t key = size_t(dtype);
    if (open.size() <= key) open.resize(key + 1, SIZE_MAX);
    return open[key];
  };
  for (const Tensor& t : tensors) {
    int64_t bytes = t.numel() * int64_t(itemsize(t.dtype()));
    size_t& index = open_of(t.dtype());
    if (index == SIZE_MAX ||
        (buckets[index].numel * int64_t(itemsize(t.dtype())) + bytes > max_bytes && !buckets[index].tensors.empty())) {
      index = buckets.size();
      buckets.push_back(Bucket{t.dtype(), {}, 0});
    }
    buckets[index].tensors.push_back(t);
    buckets[index].numel += t.numel();
  }
  return buckets;
}

// The part of `flat` that tensor i of the bucket occupies, shaped like it.
template <typename Fn>
void for_each_slot(const Bucket& bucket, const Tensor& flat, Fn&& fn) {
  int64_t offset = 0;
  for (const Tensor& t : bucket.tensors) {
    fn(t, flat.slice(0, offset, offset + t.numel()).view(t.shape()));
    offset += t.numel();
  }
}

std::vector<Tensor> buffers(const layers::Module& model) {
  std::vector<Tensor> out;
  for (auto& [name, buffer] : model.named_buffers()) out.push_back(buffer);
  return out;
}

// The first element of a contiguous tensor, whatever its dtype.
char* raw_data(const Tensor& t) {
  return static_cast<char*>(t.storage()->data()) + t.offset() * int64_t(itemsize(t.dtype()));
}

// FNV-1a, 64 bits.
uint64_t hash_bytes(uint64_t h, const void* data, size_t n) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}
constexpr uint64_t kHashSeed = 0xcbf29ce484222325ULL;

uint64_t hash_text(uint64_t h, std::string_view text) { return hash_bytes(h, text.data(), text.size()); }

// The bytes of the tensors' values.
uint64_t content_hash(const std::vector<Tensor>& tensors) {
  uint64_t h = kHashSeed;
  for (const Tensor& t : tensors) {
    Tensor c = t.contiguous();
    h = hash_bytes(h, raw_data(c), size_t(c.numel()) * itemsize(c.dtype()));
  }
  return h;
}

// Rank 0's values into the tensors of every rank, bucket by bucket.
void broadcast_from_rank0(const std::vector<Tensor>& tensors, int64_t bucket_bytes) {
  if (world_size() == 1) return;
  NoGradGuard no_grad;
  for (const Bucket& bucket : make_buckets(tensors, bucket_bytes)) {
    Tensor flat = empty({bucket.numel}, bucket.dtype);
    for_each_slot(bucket, flat, [](const Tensor& t, Tensor slot) { slot.copy_(t); });
    broadcast(raw_data(flat), bucket.numel * int64_t(itemsize(bucket.dtype)), 0, Traffic::other);
    for_each_slot(bucket, flat, [](const Tensor& t, const Tensor& slot) { Tensor(t).copy_(slot); });
  }
}

// Names, shapes and dtypes of every parameter and buffer.
uint64_t structure_hash(const layers::Module& model) {
  uint64_t h = kHashSeed;
  auto add = [&](const std::string& kind, const std::string& name, const Tensor& t) {
    h = hash_text(h, fmt::format("{} {} {} {};", kind, name, t.shape(), t.dtype()));
  };
  for (auto& [name, p] : model.named_parameters()) add("parameter", name, p);
  for (auto& [name, b] : model.named_buffers()) add("buffer", name, b);
  return h;
}
}  // namespace

DataParallel::DataParallel(layers::Module& model, DataParallelOptions options) : model_(model), options_(options) {
  if (options_.bucket_bytes <= 0) fail("DataParallel: bucket_bytes must be > 0, got {}", options_.bucket_bytes);
  if (!same_on_all_ranks(structure_hash(model_)))
    fail(
        "DataParallel: the model differs across ranks (names, shapes or dtypes of its parameters and buffers); "
        "rank {} has {} parameters with {} values. Every rank must build the same model",
        rank(), model_.parameters().size(), model_.num_parameters());
  broadcast_parameters();
}

void DataParallel::broadcast_parameters() {
  std::vector<Tensor> tensors = model_.parameters();
  if (options_.broadcast_buffers)
    for (const Tensor& buffer : buffers(model_)) tensors.push_back(buffer);
  broadcast_from_rank0(tensors, options_.bucket_bytes);
}

void DataParallel::broadcast_buffers() { broadcast_from_rank0(buffers(model_), options_.bucket_bytes); }

void DataParallel::average_gradients() {
  if (world_size() == 1) return;
  NoGradGuard no_grad;
  for (const Bucket& bucket : make_buckets(model_.parameters(), options_.bucket_bytes)) {
    // A fresh buffer per step: the averaged gradients are views into it, and
    // nothing from an earlier step (a gradient kept for logging) is overwritten.
    Tensor flat = empty({bucket.numel}, bucket.dtype);
    for_each_slot(bucket, flat, [](const Tensor& p, Tensor slot) {
      Tensor g = p.grad();
      if (g.defined())
        slot.copy_(g);
      else
        slot.zero_();
    });
    allreduce_sum(raw_data(flat), bucket.numel, bucket.dtype, Traffic::gradients);
    flat.mul_(1.0 / world_size());
    for_each_slot(bucket, flat, [](const Tensor& p, const Tensor& slot) { p.set_grad(slot); });
  }
}

bool DataParallel::parameters_in_sync() const { return same_on_all_ranks(content_hash(model_.parameters())); }
bool DataParallel::buffers_in_sync() const { return same_on_all_ranks(content_hash(buffers(model_))); }

int64_t DataParallel::num_buckets() const {
  return int64_t(make_buckets(model_.parameters(), options_.bucket_bytes).size());
}

int64_t DataParallel::gradient_bytes() const {
  int64_t bytes = 0;
  for (const Tensor& p : model_.parameters()) bytes += p.numel() * int64_t(itemsize(p.dtype()));
  return bytes;
}

}  // namespace nl::dist
