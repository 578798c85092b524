#include "train/checkpoint.h"

#include <bit>
#include <cstring>

#include "core/random.h"

namespace nl::train {

namespace {
constexpr const char* kFormat = "normlab-checkpoint-1";

void put(StateDict& out, const std::string& prefix, const StateDict& part) {
  for (auto& [key, value] : part) out[prefix + key] = value;
}

// The entries under prefix, with the prefix removed.
StateDict take(const StateDict& all, const std::string& prefix) {
  StateDict out;
  for (auto& [key, value] : all)
    if (key.rfind(prefix, 0) == 0) out[key.substr(prefix.size())] = value;
  return out;
}

Tensor int64_scalar(int64_t v) {
  Tensor t = zeros({}, i64);
  *t.data<int64_t>() = v;
  return t;
}

const void* bytes_of(const Tensor& t) {
  switch (t.dtype()) {
    case DType::float32: return t.data<float>();
    case DType::float64: return t.data<double>();
    case DType::int64: return t.data<int64_t>();
  }
  return nullptr;
}

// The checksum of the metadata (but "checksum" itself) and of every tensor's
// name, dtype, shape and bytes, in name order, as 16 hex digits.
std::string checksum(const io::Metadata& metadata, const StateDict& tensors) {
  uint64_t h = fnv1a(nullptr, 0);
  // each string with its terminating 0: "ab"+"c" differs from "a"+"bc"
  for (auto& [key, value] : metadata)
    if (key != "checksum") h = fnv1a(value.c_str(), value.size() + 1, fnv1a(key.c_str(), key.size() + 1, h));
  for (auto& [name, tensor] : tensors) {
    h = fnv1a(name.c_str(), name.size() + 1, h);
    DType dtype = tensor.dtype();
    h = fnv1a(&dtype, sizeof dtype, h);
    for (int d = 0; d < tensor.dim(); ++d) {
      int64_t size = tensor.size(d);
      h = fnv1a(&size, sizeof size, h);
    }
    h = fnv1a(tensor, h);
  }
  return fmt::format("{:016x}", h);
}
}  // namespace

uint64_t fnv1a(const void* data, size_t n, uint64_t h) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

uint64_t fnv1a(const Tensor& tensor, uint64_t h) {
  Tensor c = tensor.contiguous();
  return fnv1a(bytes_of(c), size_t(c.numel()) * itemsize(c.dtype()), h);
}

void save_checkpoint(const std::string& path, const layers::Module& model, const optim::Optimizer* optimizer,
                     const optim::LRScheduler* scheduler, int64_t step, const io::Metadata& metadata) {
  for (const char* reserved : {"format", "checksum"})
    if (metadata.count(reserved)) fail("save_checkpoint: {}: metadata key \"{}\" is reserved", path, reserved);
  StateDict out;
  put(out, "model.", model.state_dict());
  if (optimizer) put(out, "optimizer.", optimizer->state_dict());
  if (scheduler) put(out, "scheduler.", scheduler->state_dict());
  const Generator& gen = default_generator();
  out["rng.seed"] = int64_scalar(std::bit_cast<int64_t>(gen.seed()));
  out["rng.offset"] = int64_scalar(std::bit_cast<int64_t>(gen.offset()));
  out["step"] = int64_scalar(step);
  io::Metadata header = metadata;
  header["format"] = kFormat;
  header["checksum"] = checksum(header, out);
  io::save_safetensors(path, out, header);
}

CheckpointFile read_checkpoint(const std::string& path) {
  CheckpointFile file{path, io::load_safetensors_metadata(path), {}};
  if (file.metadata["format"] != kFormat)
    fail("load_checkpoint: {}: not a normlab checkpoint (format \"{}\", expected \"{}\")", path,
         file.metadata["format"], kFormat);
  file.tensors = io::load_safetensors(path);
  // Files written before the checksum existed have none: nothing to compare.
  if (auto it = file.metadata.find("checksum"); it != file.metadata.end()) {
    std::string actual = checksum(file.metadata, file.tensors);
    if (actual != it->second)
      fail("load_checkpoint: {}: corrupt: its checksum is {}, the header says {}", path, actual, it->second);
  }
  return file;
}

int64_t load_checkpoint(const CheckpointFile& file, layers::Module& model, optim::Optimizer* optimizer,
                        optim::LRScheduler* scheduler) {
  const std::string& path = file.path;
  const StateDict& all = file.tensors;
  std::string owner = "load_checkpoint: " + path;
  auto scalar = [&](const char* key) { return state_scalar(all, key, i64, owner).item<int64_t>(); };
  int64_t step = scalar("step"), seed = scalar("rng.seed"), offset = scalar("rng.offset");
  StateDict optimizer_state = take(all, "optimizer."), scheduler_state = take(all, "scheduler.");
  if (bool(optimizer) != !optimizer_state.empty())
    fail("load_checkpoint: {}: the file {} optimizer state but {} optimizer was given", path,
         optimizer_state.empty() ? "has no" : "has", optimizer ? "an" : "no");
  if (bool(scheduler) != !scheduler_state.empty())
    fail("load_checkpoint: {}: the file {} scheduler state but {} scheduler was given", path,
         scheduler_state.empty() ? "has no" : "has", scheduler ? "a" : "no");
  // Each load_state_dict validates before it writes; the model goes first as
  // its checks are the likeliest to fail (an architecture mismatch).
  model.load_state_dict(take(all, "model."));
  if (optimizer) optimizer->load_state_dict(optimizer_state);
  if (scheduler) scheduler->load_state_dict(scheduler_state);
  Generator& gen = default_generator();
  gen.manual_seed(std::bit_cast<uint64_t>(seed));
  gen.set_offset(std::bit_cast<uint64_t>(offset));
  return step;
}

int64_t load_checkpoint(const std::string& path, layers::Module& model, optim::Optimizer* optimizer,
                        optim::LRScheduler* scheduler) {
  return load_checkpoint(read_checkpoint(path), model, optimizer, scheduler);
}

}  // namespace nl::train
