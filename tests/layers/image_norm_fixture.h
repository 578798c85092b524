#pragma once
// The PyTorch fixture of the norms of images (tests/fixtures/image_norm.safetensors,
// written by make_image_norm_fixtures.py): a module runs the recorded steps
// and must match PyTorch's outputs, gradients and running statistics after each.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"

namespace normlab_test {

inline nl::Tensor image_fixture(const std::string& name) { return fixture_tensor("image_norm.safetensors", name); }

// Loads PyTorch's weight and bias into module (when it has them), then for
// each step — "eval" in eval mode, the others in training — runs it on
// <prefix>.x, backpropagates the stored upstream gradient and compares the
// output, the gradients of x and the parameters, and the floating buffers
// (running_mean, running_var) with PyTorch's within tol.
inline void require_matches_image_fixture(nl::layers::Module& module, const std::string& prefix,
                                          const std::vector<std::string>& steps, double tol) {
  nl::StateDict params;
  for (const auto& [name, p] : module.named_parameters()) params[name] = image_fixture(prefix + "." + name);
  module.load_state_dict(params, /*strict=*/false);
  for (const std::string& step : steps) {
    INFO(prefix << " step " << step);
    module.train(step != "eval");
    module.zero_grad();
    nl::Tensor x = image_fixture(prefix + ".x").clone().requires_grad_(true);
    nl::Tensor y = module(x);
    std::string at = prefix + "." + step + ".";
    CHECK(max_abs_diff(y, image_fixture(at + "out")) < tol);
    y.backward(image_fixture(at + "upstream"));
    CHECK(max_abs_diff(x.grad(), image_fixture(at + "grad_x")) < tol);
    for (const auto& [name, p] : module.named_parameters()) {
      INFO("gradient of " << name);
      CHECK(max_abs_diff(p.grad(), image_fixture(at + "grad_" + name)) < tol);
    }
    for (const auto& [name, b] : module.named_buffers()) {
      if (!b.is_floating_point()) continue;
      INFO(name);
      CHECK(max_abs_diff(b, image_fixture(at + name)) < tol);
    }
  }
}

}  // namespace normlab_test
