#pragma once
// NL_SIMD_CLONES: compile a hot loop for AVX2+FMA (x86-64-v3) next to the
// baseline x86-64 (SSE2), and pick the version at load time from the CPU
// (GCC function multiversioning, an ifunc). The library stays runtime-neutral
// (no -march=native): the same binary runs everywhere and uses AVX2 where
// there is one. Put it on a function holding a loop (not one holding an
// OpenMP region: the region's outlined body would not be cloned). Loops that
// are memory-bound gain nothing from it; compute-bound ones (exp, tanh, erf,
// sqrt) run about twice as fast.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(NORMLAB_NO_SIMD_CLONES)
#define NL_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define NL_SIMD_CLONES
#endif
