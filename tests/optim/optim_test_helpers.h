#pragma once
// Runs an optimizer through the gradients stored in the PyTorch fixtures.
#include <catch2/catch.hpp>
#include <functional>
#include <memory>

#include "normlab.h"

namespace normlab_test {

inline const nl::StateDict& optim_fixtures() {
  static nl::StateDict f = nl::io::load_safetensors(NORMLAB_FIXTURES_DIR "/optim.safetensors");
  return f;
}
inline nl::Tensor optim_fixture(const std::string& name) {
  auto it = optim_fixtures().find(name);
  if (it == optim_fixtures().end()) FAIL("fixture missing: " << name);
  return it->second;
}

using MakeOptimizer = std::function<std::unique_ptr<nl::optim::Optimizer>(std::vector<nl::Tensor>)>;

// Parameters initialized as in fixture `name` (two of them).
inline std::vector<nl::Tensor> fixture_params(const std::string& name) {
  std::vector<nl::Tensor> params;
  for (int i = 0; i < 2; ++i)
    params.push_back(optim_fixture(name + ".param" + std::to_string(i) + ".init").clone().requires_grad_(true));
  return params;
}

// Feeds step k's gradients, steps, and returns the largest deviation from PyTorch's parameters.
inline double replay_step(const std::string& name, int k, std::vector<nl::Tensor>& params, nl::optim::Optimizer& opt) {
  for (size_t i = 0; i < params.size(); ++i)
    params[i].set_grad(optim_fixture(name + ".step" + std::to_string(k) + ".grad" + std::to_string(i)).clone());
  opt.step();
  double worst = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    auto ours = params[i].to_vector<double>();
    auto theirs = optim_fixture(name + ".step" + std::to_string(k) + ".param" + std::to_string(i)).to_vector<double>();
    for (size_t j = 0; j < ours.size(); ++j) worst = std::max(worst, std::abs(ours[j] - theirs[j]));
  }
  return worst;
}

}  // namespace normlab_test
