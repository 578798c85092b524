#include "grade/grader.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace nl::grade {

double rel_error(double a, double b) {
  if (std::isnan(a) || std::isnan(b) || std::isinf(a) || std::isinf(b))
    return a == b ? 0.0 : std::numeric_limits<double>::infinity();
  return std::abs(a - b) / std::max(1e-8, std::abs(a) + std::abs(b));
}

namespace {
constexpr uint64_t kUnwrittenBits = 0x7ff80000006e6c67ULL;  // a quiet NaN with "nlg" in its payload

// Elements both below the 1e-8 floor that agree to kAbsolute count as equal:
// rounding noise around an exact zero (a LayerNorm over one feature has
// dx = 0, which a kernel computes as 1e-15) would otherwise be a relative
// error of 1e-7.
constexpr double kAbsolute = 1e-12;

double max_rel_error(const Vec& a, const Vec& b, size_t* worst = nullptr) {
  double m = 0;
  size_t w = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double r =
        std::abs(a[i]) + std::abs(b[i]) < 1e-8 && std::abs(a[i] - b[i]) <= kAbsolute ? 0.0 : rel_error(a[i], b[i]);
    if (r > m || (std::isnan(r) && !std::isnan(m))) m = r, w = i;
  }
  if (worst) *worst = w;
  return m;
}

std::string index_text(size_t flat, const std::vector<int64_t>& shape) {
  if (shape.size() <= 1) return fmt::format("[{}]", flat);
  std::vector<int64_t> idx(shape.size());
  size_t rest = flat;
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = int64_t(rest % size_t(shape[d]));
    rest /= size_t(shape[d]);
  }
  std::string s = "[";
  for (size_t d = 0; d < idx.size(); ++d) s += fmt::format("{}{}", d ? ", " : "", idx[d]);
  return s + "]";
}

std::string value_text(double v) { return is_unwritten(v) ? "(never written)" : fmt::format("{:.10g}", v); }
}  // namespace

Vec unwritten(size_t n) {
  double v;
  std::memcpy(&v, &kUnwrittenBits, sizeof v);
  return Vec(n, v);
}

bool is_unwritten(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof v);
  return bits == kUnwrittenBits;
}

bool Grader::run(const Check& c) {
  size_t worst = 0;
  const double err = c.expected.empty() ? 0.0 : max_rel_error(c.expected, c.got, &worst);
  const bool ok = c.expected.size() == c.got.size() && err <= c.tolerance;
  const std::string name = fmt::format("{} {}", c.function, c.output);
  const std::string against = "vs " + c.against;
  fmt::print("{}  {:<32} {:<32} {:<32} rel error {:.1e}{}\n", ok ? "PASS" : "FAIL", name, against, c.shape_text, err,
             ok ? "" : fmt::format(" (tolerance {:.0e})", c.tolerance));
  if (ok) {
    ++passed_;
    std::fflush(stdout);
    return true;
  }
  ++failed_;
  fmt::print("        worst element {}{}: expected {}, got {}\n", c.output, index_text(worst, c.shape),
             value_text(c.expected[worst]), value_text(c.got[worst]));

  std::vector<std::string> diagnoses;
  auto add = [&](std::string d) {
    if (std::find(diagnoses.begin(), diagnoses.end(), d) == diagnoses.end()) diagnoses.push_back(std::move(d));
  };
  const size_t never = size_t(std::count_if(c.got.begin(), c.got.end(), is_unwritten));
  const size_t bad = size_t(std::count_if(c.got.begin(), c.got.end(), [](double v) { return !std::isfinite(v); }));
  if (never > 0) {
    add(
        fmt::format("{} of {} elements of {} still hold the NaN the grader filled them with: never written (the "
                    "TODO is not done yet, or a loop stops early), or accumulated with += without being set to "
                    "zero first",
                    never, c.got.size(), c.output));
  } else if (bad > 0 && !c.nonfinite_hint.empty()) {
    add(fmt::format("{} of {} elements of {} are NaN or infinite: {}", bad, c.got.size(), c.output, c.nonfinite_hint));
  } else if (bad > 0) {
    add(
        fmt::format("{} of {} elements of {} are NaN or infinite: a division by zero (with one element, "
                    "N − 1 or D − 1 is 0)? or += into an output never set to zero (the grader fills outputs "
                    "with NaN)?",
                    bad, c.got.size(), c.output));
  } else {
    for (const Variant& v : c.variants)
      if (v.values.size() == c.got.size() && max_rel_error(v.values, c.got) <= std::max(1e-6, c.tolerance) &&
          max_rel_error(v.values, c.expected) > c.tolerance)  // only a variant this case tells apart
        add(v.diagnosis);
    if (c.structure && diagnoses.empty())  // a matching wrong answer is the more specific diagnosis
      for (std::string& d : c.structure(c.got)) add(std::move(d));
    // A constant factor: got = r · expected wherever expected is not small.
    double scale = 0;
    for (double e : c.expected) scale = std::max(scale, std::abs(e));
    double r = std::numeric_limits<double>::quiet_NaN();
    bool constant = scale > 0;
    int compared = 0;
    for (size_t i = 0; constant && i < c.got.size(); ++i) {
      if (std::abs(c.expected[i]) < 1e-3 * scale) continue;
      const double ri = c.got[i] / c.expected[i];
      if (std::isnan(r)) r = ri;
      constant = std::abs(ri - r) <= 1e-6 * std::abs(r);
      ++compared;
    }
    // n/(n − 1) and its root, either way (eps moves the ratio a little: 1e-4)
    bool unbiased = false;
    if (group_size_ > 1 && compared >= 1 && diagnoses.empty()) {
      const double n = group_size_, bessel = n / (n - 1);
      const std::pair<double, const char*> factors[] = {{bessel, "n/(n − 1)"},
                                                        {1 / bessel, "(n − 1)/n"},
                                                        {std::sqrt(bessel), "√(n/(n − 1))"},
                                                        {1 / std::sqrt(bessel), "√((n − 1)/n)"}};
      for (const auto& [f, text] : factors) {
        bool all = true;
        for (size_t i = 0; all && i < c.got.size(); ++i)
          if (std::abs(c.expected[i]) >= 1e-3 * scale) all = std::abs(c.got[i] / c.expected[i] - f) <= 1e-4 * f;
        if (all && !unbiased) {
          unbiased = true;
          add(
              fmt::format("{} is off by the factor {:.6g} = {} with n = {}, the number of values normalized "
                          "together: unbiased variance (÷ (n − 1)) used where the biased one (÷ n) belongs, or the "
                          "other way round",
                          c.output, f, text, group_size_));
        }
      }
    }
    constant = constant && compared >= 2 && !unbiased && diagnoses.empty();
    if (constant && std::abs(r - 1) > 1e-6) {
      if (std::abs(r + 1) <= 1e-6)
        add(fmt::format("{} has the right size but the wrong sign everywhere", c.output));
      else if (std::abs(r) <= 1e-12)
        add(fmt::format("{} is all zeros", c.output));
      else
        add(
            fmt::format("{} is {:.6g} times the expected value everywhere: a constant factor is wrong "
                        "(a 1/N, a gamma, a count)",
                        c.output, r));
    }
  }
  if (diagnoses.empty())
    diagnoses.push_back("no known shape of error: work the formula through by hand for the worst element's row");
  for (const std::string& d : diagnoses) fmt::print("        DIAGNOSIS: {}\n", d);
  std::fflush(stdout);
  return false;
}

void Grader::fail(const std::string& what, const std::string& why) {
  ++failed_;
  fmt::print("FAIL  {}\n        DIAGNOSIS: {}\n", what, why);
  std::fflush(stdout);
}

int Grader::finish() {
  fmt::print("\n{}: {} of {} checks passed{}\n", exercise_, passed_, passed_ + failed_,
             failed_ ? "" : " - all correct");
  std::fflush(stdout);
  return failed_ ? 1 : 0;
}

Vec normal(std::mt19937_64& rng, size_t n, double mean, double std) {
  std::normal_distribution<double> dist(mean, std);
  Vec v(n);
  for (double& x : v) x = dist(rng);
  return v;
}

Vec numeric_gradient(const std::function<double(const Vec&)>& f, Vec x, double h) {
  Vec g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double x0 = x[i];
    auto at = [&](double d) {
      x[i] = x0 + d;
      return f(x);
    };
    // the five-point central difference: error O(h⁴), so h can be large
    // enough that rounding (~1e-16·|f|/h) stays far below the tolerance
    g[i] = (at(-2 * h) - 8 * at(-h) + 8 * at(h) - at(2 * h)) / (12 * h);
    x[i] = x0;
  }
  return g;
}

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace nl::grade
