#pragma once
// Random numbers that are identical across runs and thread counts.
//
// The generator is counter-based: element i of a draw is a pure function of
// (seed, offset + i) — SplitMix64's mixer applied to the counter — so any
// thread can compute any element and the result never depends on how the work
// was split. Each draw advances the offset by the number of values it used.
#include <cstdint>

namespace nl {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x6e6f726d6c6162ULL) { manual_seed(seed); }
  void manual_seed(uint64_t seed) {
    seed_ = seed;
    offset_ = 0;
  }
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t offset) { offset_ = offset; }
  // Reserves n counters; returns the first.
  uint64_t take(uint64_t n) {
    uint64_t first = offset_;
    offset_ += n;
    return first;
  }

  // The 64 random bits for counter c.
  uint64_t bits(uint64_t c) const {
    uint64_t z = seed_ * 0xd1342543de82ef95ULL + (c + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform double in [0, 1) with 53 random bits.
  double uniform(uint64_t c) const { return double(bits(c) >> 11) * 0x1.0p-53; }

 private:
  uint64_t seed_ = 0;
  uint64_t offset_ = 0;
};

// The global generator behind rand, randn, dropout and layer initialization.
Generator& default_generator();
// Reseeds the global generator (like torch.manual_seed).
void manual_seed(uint64_t seed);

}  // namespace nl
