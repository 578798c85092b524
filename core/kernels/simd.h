#pragma once
// NL_SIMD_CLONES: compile a hot loop for AVX-512 (x86-64-v4) and for
// AVX2+FMA (x86-64-v3) next to the baseline x86-64 (SSE2), and pick the
// version at load time from the CPU (GCC function multiversioning, an
// ifunc). The library stays runtime-neutral (no -march=native): the same
// binary runs everywhere and uses the widest it finds. Put it on a function
// holding a loop (not one holding an OpenMP region: the region's outlined
// body would not be cloned). Loops that are memory-bound gain nothing from
// it; compute-bound ones (exp, tanh, erf, sqrt) run about twice as fast at
// AVX2 as at SSE2.
//
// The AVX-512 clone keeps GCC's default 256-bit vectors, so it computes the
// same values as the AVX2 one (exp, tanh, sigmoid and the normal CDF checked
// bitwise over 16M points in [−90, 90]); what it gains is 32 vector
// registers instead of 16, and masked blends. On Zen 4 (2026-12-06,
// alternated rounds): the LSTM cell 2.97 → 1.92 ms, GELU forward + backward
// 4.60 → 3.56 ms, LayerNorm forward 0.66 → 0.51 ms, exp 4.2 → 2.8 ns per 8
// values (the exponential's polynomial and range reduction no longer spill).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(NORMLAB_NO_SIMD_CLONES)
#define NL_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define NL_SIMD_CLONES_ENABLED 1
#else
#define NL_SIMD_CLONES
#define NL_SIMD_CLONES_ENABLED 0
#endif

namespace nl::kernels {

// Whether NL_SIMD_CLONES functions run their AVX-512 clone on this CPU (the
// load-time choice's own test), for a kernel whose blocking depends on the
// register count (packed_panels.h).
inline bool simd_clones_use_avx512() {
#if NL_SIMD_CLONES_ENABLED
  static const bool v4 = __builtin_cpu_supports("x86-64-v4");
  return v4;
#else
  return false;
#endif
}

}  // namespace nl::kernels
