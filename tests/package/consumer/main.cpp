// Trains a small MLP on two Gaussian blobs for a few steps with each of the
// libraries (models, optim, data, train, dist over core and layers), prints
// the version and the loss, and exits 0 when the loss went down.
#include <unistd.h>

#include <filesystem>

#include "normlab.h"

int main() {
  nl::manual_seed(0);
  nl::Tensor x = nl::randn({64, 2});
  nl::Tensor y = nl::gt(x.select(1, 0) + x.select(1, 1), nl::zeros({64})).to(nl::i64);
  nl::data::DataLoader loader(x, y, {.batch_size = 16, .shuffle = true});
  nl::models::MLP model({2, 16, 2}, nl::models::NormKind::layer);
  nl::optim::SGD opt(model.parameters(), {.lr = 0.2});

  float first = 0, last = 0;
  int step = 0;
  for (int epoch = 0; epoch < 3; ++epoch) {
    loader.set_epoch(epoch);
    for (const nl::data::Batch& batch : loader) {
      opt.zero_grad();
      nl::Tensor loss = nl::cross_entropy(model(batch.inputs), batch.targets);
      loss.backward();
      opt.step();
      if (step++ == 0) first = loss.item<float>();
      last = loss.item<float>();
    }
  }
  std::string path =
      (std::filesystem::temp_directory_path() / fmt::format("normlab_consumer_{}.safetensors", getpid())).string();
  nl::train::save_checkpoint(path, model, &opt, nullptr, step);
  std::filesystem::remove(path);

  fmt::print("normlab {}\n", nl::version());
  fmt::print("{} steps, loss {:.4f} -> {:.4f}\n", step, first, last);
  fmt::print("nl::dist built with MPI: {}, world of {}\n", nl::dist::built_with_mpi(), nl::dist::world_size());
  return last < first ? 0 : 1;
}
