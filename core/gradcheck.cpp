#include "core/gradcheck.h"

#include <cmath>

#include "core/autograd.h"
#include "core/ops.h"

namespace nl {

GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs, double eps, double atol,
                          double rtol) {
  std::vector<Tensor> leaves;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& t = inputs[k];
    if (t.requires_grad() && t.dtype() != DType::float64)
      fail("gradcheck: input {} has dtype {} (shape {}); gradcheck needs float64", k, t.dtype(), t.shape());
    // private contiguous copies, so perturbing them can't touch the caller's data
    Tensor leaf = t.detach().clone();
    if (t.requires_grad()) leaf.requires_grad_(true);
    leaves.push_back(leaf);
  }

  Tensor out = fn(leaves);
  if (out.dtype() != DType::float64) fail("gradcheck: the function returned {}, expected float64", out.dtype());
  int64_t outputs = out.numel();

  // analytic Jacobian: row i is the gradient of output element i
  std::vector<std::vector<double>> analytic(leaves.size());
  for (size_t k = 0; k < leaves.size(); ++k)
    if (leaves[k].requires_grad()) analytic[k].assign(size_t(leaves[k].numel() * outputs), 0.0);
  if (out.requires_grad()) {
    for (int64_t i = 0; i < outputs; ++i) {
      for (Tensor& leaf : leaves)
        if (leaf.requires_grad()) leaf.set_grad(Tensor());
      Tensor seed = zeros(out.shape(), DType::float64);
      seed.data<double>()[i] = 1.0;
      out.backward(seed, /*retain_graph=*/true);
      for (size_t k = 0; k < leaves.size(); ++k) {
        if (!leaves[k].requires_grad() || !leaves[k].grad().defined()) continue;
        std::vector<double> g = leaves[k].grad().to_vector<double>();
        for (size_t j = 0; j < g.size(); ++j) analytic[k][j * size_t(outputs) + size_t(i)] = g[j];
      }
    }
  }

  GradcheckResult result;
  NoGradGuard no_grad;
  for (size_t k = 0; k < leaves.size(); ++k) {
    if (!leaves[k].requires_grad()) continue;
    double* x = leaves[k].data<double>();
    for (int64_t j = 0; j < leaves[k].numel(); ++j) {
      double saved = x[j];
      x[j] = saved + eps;
      std::vector<double> plus = fn(leaves).to_vector<double>();
      x[j] = saved - eps;
      std::vector<double> minus = fn(leaves).to_vector<double>();
      x[j] = saved;
      for (int64_t i = 0; i < outputs; ++i) {
        double numeric = (plus[size_t(i)] - minus[size_t(i)]) / (2 * eps);
        double a = analytic[k][size_t(j * outputs + i)];
        double error = std::abs(a - numeric);
        bool bad = !(error <= atol + rtol * std::abs(numeric));  // NaN counts as bad
        if (bad && (result.ok || error > result.max_abs_error || std::isnan(error))) {
          result.ok = false;
          result.input = k;
          result.input_index = j;
          result.output_index = i;
          result.analytic = a;
          result.numeric = numeric;
          result.max_abs_error = error;
        }
      }
    }
  }
  if (!result.ok)
    result.message = fmt::format(
        "gradcheck failed: d(output[{}])/d(input {}[{}]): analytic {:.10g}, numeric {:.10g}, |diff| {:.3g} "
        "> atol {} + rtol {}·|numeric|",
        result.output_index, result.input, result.input_index, result.analytic, result.numeric, result.max_abs_error,
        atol, rtol);
  return result;
}

}  // namespace nl
