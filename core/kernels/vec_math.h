#pragma once
// exp, tanh, sigmoid and the normal CDF for float32 in plain arithmetic, so a
// loop calling them vectorizes (libm's expf/tanhf/erff are opaque calls the
// compiler cannot vectorize; PyTorch uses SLEEF for the same reason). The
// other overloads are libm's: float64 is the precise path (gradcheck).
//
//   exp      x = n·ln2 + r, n = round(x·log2 e), |r| <= ln2/2;
//            e^x = 2^n · e^r, e^r by Cephes' degree-6 polynomial.
//            Within 1 ulp (measured); overflow gives inf, tiny results are subnormal or 0.
//   tanh     |x| < 0.625: Cephes' odd polynomial x + x³·P(x²) (no cancellation
//            near 0); else sign(x)·(1 − 2/(e^{2|x|} + 1)). Within 2 ulp.
//   sigmoid  1/(1 + e^{−x}); e^{−x} = inf for x < −88.7 gives 0, as it should.
//   normal_cdf  Φ(x) = (1 + erf(x/√2))/2 with Abramowitz & Stegun 7.1.26:
//            erf(z) = 1 − t·(a1 + t·(a2 + t·(a3 + t·(a4 + t·a5))))·e^{−z²},
//            t = 1/(1 + p·z) for z >= 0 (odd for z < 0); absolute error of
//            Φ below 3e-7 (PyTorch's vectorized erf is the same formula).
// NaN in gives NaN out.
#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace nl::kernels::vec {

inline float exp(float x) {
  constexpr float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  constexpr float kRound = 12582912.0f;  // 1.5·2^23: adding it rounds to an integer kept in the low mantissa bits
  float xc = x < -104.0f ? -104.0f : (x > 88.8f ? 88.8f : x);
  float t = xc * kLog2e + kRound;
  float n = t - kRound;
  float r = xc - n * kLn2Hi - n * kLn2Lo;  // ln2 in two parts: r stays exact
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t ni = std::bit_cast<int32_t>(t) - std::bit_cast<int32_t>(kRound);
  int32_t half = ni >> 1;  // 2^n = 2^half · 2^(n − half): both factors are normal floats
  float y = p * std::bit_cast<float>((half + 127) << 23) * std::bit_cast<float>((ni - half + 127) << 23);
  return x != x ? x : y;
}

inline float tanh(float x) {
  float a = x < 0 ? -x : x;
  float z = x * x;
  float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z -
                 3.33332819422e-1f) *
                    z * x +
                x;
  float large = 1.0f - 2.0f / (exp(2.0f * a) + 1.0f);
  large = x < 0 ? -large : large;
  return a < 0.625f ? small : large;
}

inline float sigmoid(float x) { return 1.0f / (1.0f + exp(-x)); }

// Φ(x) given e = e^{−x²/2} (= e^{−z²}, z = x/√2), which GELU's backward also
// needs for φ(x): one exponential serves both.
inline float normal_cdf(float x, float e) {
  constexpr float kInvSqrt2 = 0.70710678118654752440f;
  constexpr float p = 0.3275911f, a1 = 0.254829592f, a2 = -0.284496736f, a3 = 1.421413741f, a4 = -1.453152027f,
                  a5 = 1.061405429f;
  float z = x * kInvSqrt2;
  float az = z < 0 ? -z : z;
  float t = 1.0f / (1.0f + p * az);
  float erf_abs = 1.0f - t * (a1 + t * (a2 + t * (a3 + t * (a4 + t * a5)))) * e;
  return 0.5f + 0.5f * (z < 0 ? -erf_abs : erf_abs);
}
inline float normal_cdf(float x) { return normal_cdf(x, exp(-0.5f * x * x)); }

// Every other type (double; integers only in never-taken dtype branches): libm.
template <typename T>
concept NotFloat = !std::is_same_v<T, float>;
template <NotFloat T>
inline T exp(T x) {
  return T(std::exp(x));
}
template <NotFloat T>
inline T tanh(T x) {
  return T(std::tanh(x));
}
template <NotFloat T>
inline T sigmoid(T x) {
  return T(x >= 0 ? 1 / (1 + std::exp(-double(x))) : std::exp(double(x)) / (1 + std::exp(double(x))));
}
template <NotFloat T>
inline T normal_cdf(T x) {
  return T(0.5 * (1 + std::erf(double(x) * 0.70710678118654752440)));
}
template <NotFloat T>
inline T normal_cdf(T x, T) {
  return normal_cdf(x);
}

}  // namespace nl::kernels::vec
