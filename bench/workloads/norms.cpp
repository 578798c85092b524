// The norm kernels alone: LayerNorm(512) and BatchNorm1d(512) on x 8192×512.
//
// Bytes counted (the minimum that must cross memory, as STREAM counts: no
// write-allocate traffic, parameters and per-row statistics left out — they
// are 512 or 8192 values against 4M):
//   forward:            read x, write y                      = 2 · N·D · 4 bytes
//   forward + backward: forward, then read x and dy, write dx = 5 · N·D · 4 bytes
#include "bench/workloads/common.h"

namespace bench {
namespace {

constexpr int64_t kRows = 8192, kWidth = 512;
constexpr double kArray = double(kRows * kWidth * 4);

// One forward + backward of `norm` with a fixed upstream gradient; gradients
// are dropped before each run (set to none), so every run does the same work.
std::function<void()> forward_backward(std::shared_ptr<nl::layers::Module> norm) {
  nl::Tensor x = nl::randn({kRows, kWidth}).requires_grad_(true);
  nl::Tensor dy = nl::randn({kRows, kWidth});
  return [norm, x, dy] {
    norm->zero_grad();
    x.set_grad(nl::Tensor());
    (*norm)(x).backward(dy);
  };
}

Register layernorm_fwd_bwd(
    {"layernorm_fwd_bwd_8192x512", "LayerNorm(512) forward + backward, grads for x, weight, bias", {5 * kArray, 0}, [] {
       return forward_backward(std::make_shared<nl::layers::LayerNorm>(nl::Shape{kWidth}));
     }});

Register layernorm_fwd({"layernorm_fwd_8192x512", "LayerNorm(512) forward, no graph", {2 * kArray, 0}, [] {
                          auto norm = std::make_shared<nl::layers::LayerNorm>(nl::Shape{kWidth});
                          nl::Tensor x = nl::randn({kRows, kWidth});
                          return std::function<void()>([norm, x] {
                            nl::NoGradGuard no_grad;
                            (*norm)(x);
                          });
                        }});

Register batchnorm_fwd_bwd({"batchnorm_fwd_bwd_8192x512",
                            "BatchNorm1d(512), training mode, forward + backward, grads for x, weight, bias",
                            {5 * kArray, 0},
                            [] { return forward_backward(std::make_shared<nl::layers::BatchNorm1d>(kWidth)); }});

}  // namespace
}  // namespace bench
