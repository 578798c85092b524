// gelu_fwd_bwd_8192x512: GELU (exact, erf form) forward + backward on x
// 8192×512, the four FFN activations of one gpt_step_d128_L4_t64_b32 step
// (4 layers × 2048 tokens × 512). Bytes counted as the norms' (norms.cpp):
// forward read x, write y; backward read x and dy, write dx = 5 · N·D · 4.
#include "bench/workloads/common.h"

namespace bench {
namespace {

constexpr int64_t kRows = 8192, kWidth = 512;

Register gelu_fwd_bwd({"gelu_fwd_bwd_8192x512",
                       "GELU (erf form) forward + backward, grad for x",
                       {5.0 * double(kRows * kWidth * 4), 0},
                       [] {
                         return forward_backward(std::make_shared<nl::layers::GELU>(), {kRows, kWidth});
                       }});

}  // namespace
}  // namespace bench
