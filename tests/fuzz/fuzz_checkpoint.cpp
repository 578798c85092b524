// libFuzzer harness for the checkpoint loader (train/checkpoint.h):
// load_checkpoint on arbitrary bytes, into a small fixed model (Linear,
// BatchNorm1d, Linear), AdamW and a warmup schedule, either restores them or
// throws nl::Error; what it restores must then train: one step runs on it.
// The model is built afresh for every input so that each run starts from the
// same state (a rejected file may have loaded part).
#include <cstdint>
#include <memory>

#include "core/ops.h"
#include "layers/batch_norm.h"
#include "layers/linear.h"
#include "layers/sequential.h"
#include "optim/adam.h"
#include "optim/lr_scheduler.h"
#include "tests/fuzz/fuzz_input.h"
#include "train/checkpoint.h"

namespace {
struct Target {
  nl::layers::Sequential model{std::make_shared<nl::layers::Linear>(3, 4), std::make_shared<nl::layers::BatchNorm1d>(4),
                               std::make_shared<nl::layers::Linear>(4, 2)};
  nl::optim::AdamW opt{model.parameters(), {.lr = 0.01}};
  nl::optim::WarmupDecayLR schedule{opt, 2, 10};
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const normlab_fuzz::InputFile file("checkpoint");
  const std::string& path = file.write(data, size);
  Target target;
  bool loaded = false;
  NORMLAB_FUZZ_EXPECT_LOAD_OR_ERROR({
    nl::train::load_checkpoint(path, target.model, &target.opt, &target.schedule);
    loaded = true;
  });
  if (loaded) {
    // A restored state trains without undefined behaviour (the values may be anything).
    target.opt.zero_grad();
    target.model(nl::ones({2, 3})).sum().backward();
    target.opt.step();
    target.schedule.step();
  }
  return 0;
}
