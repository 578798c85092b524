#pragma once
// The checks the norm exercises (layernorm, batchnorm, groupnorm, rmsnorm)
// share: the diagnoses of the forward's eps, and the backward's dx / dgamma /
// dbeta against the library and against central differences, with the known
// wrong answers each norm names in its own words.
#include <functional>
#include <string>
#include <vector>

#include "grade/exercises.h"
#include "grade/grader.h"
#include "grade/norm_math.h"

namespace nl::grade {

extern const char* const kEpsOutside;  // rstd = 1/(√var + eps)
extern const char* const kNoEps;       // rstd = 1/√var

// Each norm's wording of the typical backward mistakes (the diagnoses the grader prints).
struct BackwardMessages {
  const char* no_stat_terms;  // dx = rstd·dxhat (mean and variance taken as constants)
  const char* no_sum_term;    // the − Σ dxhat term is missing
  const char* no_xhat_term;   // the − xhat·Σ dxhat·xhat term is missing
  const char* no_gamma;       // dxhat = dy, without gamma
  // dgamma's and dbeta's formulas in the norm's indices, which the diagnoses quote:
  const char* dgamma_formula;    // "dgamma = Σ_i dy_ij·xhat_ij"
  const char* dgamma_over = "";  // what the sum runs over, when the indices do not say it
  const char* dbeta_formula;     // "dbeta = Σ_i dy_ij"
};

// The known wrong answers of each output, checked in this order.
struct BackwardVariants {
  std::vector<Variant> dx, dgamma, dbeta;
};

// The wrong answers of a norm that subtracts its mean (LayerNorm, BatchNorm,
// GroupNorm), computed with `backward_with` (norm_backward of the case with options).
BackwardVariants centered_backward_variants(const std::function<Backward(BackwardOptions)>& backward_with,
                                            const BackwardMessages& messages);

// A structure diagnosis: `message` when some group of L's dx does not sum to zero.
std::vector<std::string> groups_sum_to_zero(const Layout& L, const Vec& dx, const char* message);

// The cases of the row-wise norms (LayerNorm, RMSNorm): one row, one feature,
// odd sizes, a mean of 1e4; eps on all but the large-eps case.
std::vector<Case> row_norm_cases(double eps);

// What one case's backward checks print and compare.
struct NormBackwardCase {
  std::string function;                                              // "layernorm_backward"
  std::string reference;                                             // "nl::layer_norm + autograd"
  std::string text;                                                  // the case, "N=4 D=6, small"
  std::vector<int64_t> x_shape;                                      // dx's shape, {N, D}
  std::vector<int64_t> param_shape;                                  // dgamma's and dbeta's, {D}
  std::function<std::vector<std::string>(const Vec& dx)> structure;  // dx's structure diagnoses (may be empty)
  // L = Σ dy·y of the library's forward at (x, gamma); when set, dx is also
  // checked against its central differences (and dgamma too with numeric_dgamma).
  std::function<double(const Vec& x, const Vec& gamma)> loss;
  bool numeric_dgamma = false;
};

// Checks the student's dx, dgamma and dbeta (skipped when the student's is empty:
// RMSNorm has no beta) against the library's, then against central differences of c.loss.
void check_norm_backward(Grader& grader, const NormBackwardCase& c, const Backward& library, const Backward& student,
                         const BackwardVariants& variants, const Vec& x, const Vec& gamma);

}  // namespace nl::grade
