// The norm kernels alone: LayerNorm(512) and BatchNorm1d(512) on x 8192×512,
// BatchNorm2d(64) and GroupNorm(8, 64) on x (32, 64, 28, 28).
//
// sweep_layernorm_fwd_bwd_<rows>x<features> (normlab-bench --sweep, bench/compare
// --sweep): LayerNorm forward + backward from 64×64 (16 KB per array, in L1)
// to 16384×1024 (64 MB per array, far beyond L3).
//
// Bytes counted (the minimum that must cross memory, as STREAM counts: no
// write-allocate traffic, parameters and per-row statistics left out — they
// are 512 or 8192 values against 4M; BatchNorm2d's are 64 against 1.6M):
//   forward:            read x, write y                      = 2 · N·D · 4 bytes
//   forward + backward: forward, then read x and dy, write dx = 5 · N·D · 4 bytes
// with N·D the number of elements (N·C·H·W for BatchNorm2d).
#include "bench/workloads/common.h"

namespace bench {
namespace {

constexpr int64_t kRows = 8192, kWidth = 512;
constexpr double kArray = double(kRows * kWidth * 4);

// BatchNorm2d, GroupNorm: the feature maps of a convolution, 6.4 MB per array (the five
// counted arrays, 32 MB, are about the machine's L3).
constexpr int64_t kImages = 32, kChannels = 64, kSize = 28;
constexpr double kMapsArray = double(kImages * kChannels * kSize * kSize * 4);

std::function<void()> layer_norm_forward_backward(int64_t rows, int64_t features) {
  return forward_backward(std::make_shared<nl::layers::LayerNorm>(nl::Shape{features}), {rows, features});
}

Register layernorm_fwd_bwd({"layernorm_fwd_bwd_8192x512",
                            "LayerNorm(512) forward + backward, grads for x, weight, bias",
                            {5 * kArray, 0},
                            [] { return layer_norm_forward_backward(kRows, kWidth); }});

Register layernorm_fwd({"layernorm_fwd_8192x512", "LayerNorm(512) forward, no graph", {2 * kArray, 0}, [] {
                          auto norm = std::make_shared<nl::layers::LayerNorm>(nl::Shape{kWidth});
                          nl::Tensor x = nl::randn({kRows, kWidth});
                          return std::function<void()>([norm, x] {
                            nl::NoGradGuard no_grad;
                            (*norm)(x);
                          });
                        }});

Register batchnorm_fwd_bwd(
    {"batchnorm_fwd_bwd_8192x512",
     "BatchNorm1d(512), training mode, forward + backward, grads for x, weight, bias",
     {5 * kArray, 0},
     [] {
       return forward_backward(std::make_shared<nl::layers::BatchNorm1d>(kWidth), {kRows, kWidth});
     }});

Register batchnorm2d_fwd_bwd(
    {"batchnorm2d_fwd_bwd_n32_c64_h28",
     "BatchNorm2d(64), training mode, forward + backward on (32, 64, 28, 28), grads for x, weight, bias",
     {5 * kMapsArray, 0},
     [] {
       return forward_backward(std::make_shared<nl::layers::BatchNorm2d>(kChannels),
                               {kImages, kChannels, kSize, kSize});
     }});

Register groupnorm_fwd_bwd({"groupnorm_fwd_bwd_n32_c64_h28",
                            "GroupNorm(8, 64) forward + backward on (32, 64, 28, 28), grads for x, weight, bias",
                            {5 * kMapsArray, 0},
                            [] {
                              return forward_backward(std::make_shared<nl::layers::GroupNorm>(8, kChannels),
                                                      {kImages, kChannels, kSize, kSize});
                            }});

const bool sweep_registered = [] {
  const std::pair<int64_t, int64_t> sizes[] = {{64, 64},    {256, 128},   {1024, 256},  {2048, 512},
                                               {8192, 512}, {8192, 1024}, {16384, 1024}};
  for (auto [rows, features] : sizes)
    Register({fmt::format("sweep_layernorm_fwd_bwd_{}x{}", rows, features),
              fmt::format("LayerNorm({}) forward + backward on {}x{}", features, rows, features),
              {5.0 * double(rows * features * 4), 0},
              [rows, features] { return layer_norm_forward_backward(rows, features); }});
  return true;
}();

}  // namespace
}  // namespace bench
