#include <filesystem>

#include "normlab.h"

namespace layers = nl::layers;

int main() {
  nl::manual_seed(0);
  layers::Sequential model{std::make_shared<layers::Linear>(2, 32), std::make_shared<layers::LayerNorm>(nl::Shape{32}),
                           std::make_shared<layers::Tanh>(), std::make_shared<layers::Linear>(32, 2)};
  nl::optim::AdamW opt(model.parameters(), {.lr = 0.05});
  nl::optim::CosineAnnealingLR schedule(opt, /*T_max=*/60);
  nl::Tensor points = nl::randn({256, 2});  // class: do x and y have the same sign?
  nl::Tensor labels = nl::gt(points.select(1, 0) * points.select(1, 1), nl::zeros({256})).to(nl::i64);
  for (int step = 1; step <= 60; ++step) {
    opt.zero_grad();
    nl::Tensor loss = nl::cross_entropy(model(points), labels);
    loss.backward();
    opt.step();
    schedule.step();
    if (step % 20 == 0)
      fmt::print("step {}  loss {:.3f}  lr {:.4f}\n", step, loss.item<float>(), schedule.get_last_lr()[0]);
  }
  std::string path = (std::filesystem::temp_directory_path() / "normlab_tour.safetensors").string();
  nl::train::save_checkpoint(path, model, &opt, &schedule, /*step=*/60);  // atomic: temp file + rename
  fmt::print("{}\n", model.to_string());
}
