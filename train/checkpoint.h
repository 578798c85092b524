#pragma once
// Training checkpoints: everything needed to resume a run exactly, in one
// safetensors file written atomically (a crash mid-save keeps the old one).
//
//   model.<name>        the model's state_dict (parameters and buffers)
//   optimizer.<key>     the optimizer's state_dict (optional)
//   scheduler.<key>     the schedule's state_dict (optional)
//   rng.seed, rng.offset  the global generator (int64 holding the uint64 bits)
//   step                the caller's step counter
//
// and in the header's metadata: "format", "checksum" (FNV-1a 64 over the
// metadata and every tensor's name, shape and bytes, so a file damaged after
// it was written is refused instead of resuming from garbage) and the caller's own entries (what must
// match on resume, the run's log so far; CheckpointDir uses them).
//
// Because normlab's RNG is counter-based, restoring (seed, offset) makes every
// later draw — batches, dropout masks — the same as in the uninterrupted run.
#include <cstdint>
#include <string>

#include "core/io/safetensors.h"
#include "layers/module.h"
#include "optim/lr_scheduler.h"
#include "optim/optimizer.h"

namespace nl::train {

// metadata: the caller's entries; "format" and "checksum" are reserved.
void save_checkpoint(const std::string& path, const layers::Module& model, const optim::Optimizer* optimizer = nullptr,
                     const optim::LRScheduler* scheduler = nullptr, int64_t step = 0,
                     const io::Metadata& metadata = {});

// A checkpoint read into memory and checked (a normlab checkpoint, checksum
// intact) but not yet applied: the caller can look at its metadata first.
struct CheckpointFile {
  std::string path;
  io::Metadata metadata;  // the caller's entries and "format", "checksum"
  StateDict tensors;
};
CheckpointFile read_checkpoint(const std::string& path);

// Restores model, optimizer, scheduler and the global generator; returns the
// step. An optimizer or scheduler passed here must be in the file, and vice
// versa; everything is validated before anything changes.
int64_t load_checkpoint(const CheckpointFile& file, layers::Module& model, optim::Optimizer* optimizer = nullptr,
                        optim::LRScheduler* scheduler = nullptr);
int64_t load_checkpoint(const std::string& path, layers::Module& model, optim::Optimizer* optimizer = nullptr,
                        optim::LRScheduler* scheduler = nullptr);

// FNV-1a 64 of n bytes, continuing from h: h = (h ^ byte) · 0x100000001b3 per
// byte. A cheap fingerprint (not a cryptographic hash) for checksums and
// data-set identities.
uint64_t fnv1a(const void* data, size_t n, uint64_t h = 0xcbf29ce484222325ULL);
// The same over a tensor's elements in row-major order (its contiguous bytes).
uint64_t fnv1a(const Tensor& tensor, uint64_t h = 0xcbf29ce484222325ULL);

}  // namespace nl::train
