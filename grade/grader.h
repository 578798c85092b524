#pragma once
// normlab-grade's checking side: compares a student's arrays with the
// expected ones, prints one line per check with the cs231n relative error,
// the worst element and a diagnosis where the error has a known shape.
// Each exercise's checks (check_<exercise>.cpp) build on this.
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace nl::grade {

using Vec = std::vector<double>;

// cs231n's relative error of one element: |a − b| / max(1e-8, |a| + |b|).
double rel_error(double a, double b);

// A wrong answer the grader can compute itself: when the student's result
// matches it (and not the right one), its message is the diagnosis.
struct Variant {
  std::string diagnosis;
  Vec values;
};

// What one check compares.
struct Check {
  std::string function;        // "layernorm_backward"
  std::string output;          // "dx"
  std::string against;         // "nl::layer_norm + autograd", "central differences"
  std::string shape_text;      // "N=7 D=13"
  std::vector<int64_t> shape;  // for printing the worst element's index, e.g. {7, 13}
  double tolerance = 1e-7;
  Vec expected, got;
  std::vector<Variant> variants;  // known wrong answers
  // Extra diagnoses computed by the exercise from the student's result
  // (structure: row sums, batch dependence); called only when the check fails
  // and no variant matched.
  std::function<std::vector<std::string>(const Vec& got)> structure;
  // The diagnosis for NaN or infinite values, when the exercise knows a likelier
  // cause than the general one (a division by zero).
  std::string nonfinite_hint;
};

// Output arrays are filled with a marked NaN before the student's function
// runs: one still there afterwards was never written.
Vec unwritten(size_t n);
bool is_unwritten(double v);

class Grader {
 public:
  explicit Grader(std::string exercise) : exercise_(std::move(exercise)) {}
  // Prints PASS or FAIL and, on failure, the worst element and diagnoses. Returns whether it passed.
  bool run(const Check& check);
  // How many values each group normalizes over in the current case (D for
  // LayerNorm, N for BatchNorm): a result off by n/(n − 1) or its root is
  // diagnosed as the unbiased variance where the biased one belongs.
  void set_group_size(int n) { group_size_ = n; }
  // A failure that is not a comparison (a function missing from the file, ...).
  void fail(const std::string& what, const std::string& why);
  int passed() const { return passed_; }
  int failed() const { return failed_; }
  // The summary line; the process's exit status (0: all passed, 1: some failed).
  int finish();

 private:
  std::string exercise_;
  int passed_ = 0, failed_ = 0, group_size_ = 0;
};

// Deterministic inputs: normal(mean, std) values.
Vec normal(std::mt19937_64& rng, size_t n, double mean = 0.0, double std = 1.0);

// Central differences of f at x, one element at a time, in float64 (five points).
Vec numeric_gradient(const std::function<double(const Vec&)>& f, Vec x, double h = 1e-3);

// Σ a·b
double dot(const Vec& a, const Vec& b);

}  // namespace nl::grade
