#include "grade/norm_checks.h"

#include <cmath>

namespace nl::grade {

const char* const kEpsOutside = "eps is outside the square root: rstd = 1/√(var + eps), not 1/(√var + eps)";
const char* const kNoEps = "eps is missing: rstd = 1/√(var + eps)";

BackwardVariants centered_backward_variants(const std::function<Backward(BackwardOptions)>& backward_with,
                                            const BackwardMessages& messages) {
  return {
      .dx = {{messages.no_stat_terms, backward_with({.sum_term = false, .xhat_term = false}).dx},
             {messages.no_sum_term, backward_with({.sum_term = false}).dx},
             {messages.no_xhat_term, backward_with({.xhat_term = false}).dx},
             {messages.no_gamma, backward_with({.gamma_in_dxhat = false}).dx}},
      .dgamma = {{std::string(messages.dgamma_formula) + messages.dgamma_over + ": it uses x where it should use xhat",
                  backward_with({.dgamma_from_x = true}).dgamma},
                 {std::string(messages.dgamma_formula) + ", without a factor gamma",
                  backward_with({.dgamma_times_gamma = true}).dgamma}},
      .dbeta = {{std::string(messages.dbeta_formula) + ", without a factor gamma",
                 backward_with({.dbeta_times_gamma = true}).dbeta}}};
}

std::vector<std::string> groups_sum_to_zero(const Layout& L, const Vec& dx, const char* message) {
  for (int g = 0; g < L.groups; ++g) {
    double sum = 0, abs_sum = 0;
    for (int k = 0; k < L.count; ++k) sum += dx[L.at(g, k)], abs_sum += std::abs(dx[L.at(g, k)]);
    if (std::abs(sum) > 1e-8 * abs_sum + 1e-12) return {message};
  }
  return {};
}

std::vector<Case> row_norm_cases(double eps) {
  return {
      {4, 6, 0.0, eps, "small"},           {1, 8, 0.0, eps, "one row"},   {5, 1, 0.0, eps, "one feature"},
      {7, 13, 0.5, 0.1, "odd, large eps"}, {4, 33, 1e4, eps, "mean 1e4"}, {16, 64, 0.0, eps, "wide"},
  };
}

void check_norm_backward(Grader& grader, const NormBackwardCase& c, const Backward& library, const Backward& student,
                         const BackwardVariants& variants, const Vec& x, const Vec& gamma) {
  const double library_tolerance = 1e-7, numeric_tolerance = 1e-5;
  grader.run({c.function, "dx", c.reference, c.text, c.x_shape, library_tolerance, library.dx, student.dx, variants.dx,
              c.structure});
  grader.run({c.function, "dgamma", c.reference, c.text, c.param_shape, library_tolerance, library.dgamma,
              student.dgamma, variants.dgamma});
  if (!student.dbeta.empty())
    grader.run({c.function, "dbeta", c.reference, c.text, c.param_shape, library_tolerance, library.dbeta,
                student.dbeta, variants.dbeta});
  if (!c.loss) return;
  // Central differences in float64 of the library's forward.
  const Vec numeric_dx = numeric_gradient([&](const Vec& v) { return c.loss(v, gamma); }, x);
  grader.run({c.function, "dx", "central differences", c.text, c.x_shape, numeric_tolerance, numeric_dx, student.dx,
              variants.dx, c.structure});
  if (!c.numeric_dgamma) return;
  const Vec numeric_dgamma = numeric_gradient([&](const Vec& v) { return c.loss(x, v); }, gamma);
  grader.run({c.function, "dgamma", "central differences", c.text, c.param_shape, numeric_tolerance, numeric_dgamma,
              student.dgamma, variants.dgamma});
}

}  // namespace nl::grade
