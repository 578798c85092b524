#include "train/checkpoint.h"

#include <bit>

#include "core/io/safetensors.h"
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
}  // namespace

void save_checkpoint(const std::string& path, const layers::Module& model, const optim::Optimizer* optimizer,
                     const optim::LRScheduler* scheduler, int64_t step) {
  StateDict out;
  put(out, "model.", model.state_dict());
  if (optimizer) put(out, "optimizer.", optimizer->state_dict());
  if (scheduler) put(out, "scheduler.", scheduler->state_dict());
  const Generator& gen = default_generator();
  out["rng.seed"] = int64_scalar(std::bit_cast<int64_t>(gen.seed()));
  out["rng.offset"] = int64_scalar(std::bit_cast<int64_t>(gen.offset()));
  out["step"] = int64_scalar(step);
  io::save_safetensors(path, out, {{"format", kFormat}});
}

int64_t load_checkpoint(const std::string& path, layers::Module& model, optim::Optimizer* optimizer,
                        optim::LRScheduler* scheduler) {
  auto metadata = io::load_safetensors_metadata(path);
  if (metadata["format"] != kFormat)
    fail("load_checkpoint: {}: not a normlab checkpoint (format \"{}\", expected \"{}\")", path, metadata["format"],
         kFormat);
  StateDict all = io::load_safetensors(path);
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

}  // namespace nl::train
