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
// Because normlab's RNG is counter-based, restoring (seed, offset) makes every
// later draw — batches, dropout masks — the same as in the uninterrupted run.
#include <string>

#include "layers/module.h"
#include "optim/lr_scheduler.h"
#include "optim/optimizer.h"

namespace nl::train {

void save_checkpoint(const std::string& path, const layers::Module& model, const optim::Optimizer* optimizer = nullptr,
                     const optim::LRScheduler* scheduler = nullptr, int64_t step = 0);

// Restores model, optimizer, scheduler and the global generator; returns the
// step. An optimizer or scheduler passed here must be in the file, and vice
// versa; everything is validated before anything changes.
int64_t load_checkpoint(const std::string& path, layers::Module& model, optim::Optimizer* optimizer = nullptr,
                        optim::LRScheduler* scheduler = nullptr);

}  // namespace nl::train
