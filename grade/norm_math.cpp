#include "grade/norm_math.h"

#include <cmath>

namespace nl::grade {

Forward norm_forward(const Layout& L, const Vec& x, const Vec& gamma, const Vec& beta, double eps, ForwardOptions o) {
  Forward f{Vec(x.size()), Vec(size_t(L.groups)), Vec(size_t(L.groups)), Vec(size_t(L.groups))};
  const int n = L.count;
  for (int g = 0; g < L.groups; ++g) {
    double m = 0;
    if (o.center) {
      for (int k = 0; k < n; ++k) m += x[L.at(g, k)];
      m /= n;
    }
    double var = 0;
    for (int k = 0; k < n; ++k) var += (x[L.at(g, k)] - m) * (x[L.at(g, k)] - m);
    var /= n;
    const double v = o.unbiased ? var * n / (n - 1) : var;
    const double r = o.no_eps ? 1 / std::sqrt(v) : o.eps_outside ? 1 / (std::sqrt(v) + eps) : 1 / std::sqrt(v + eps);
    for (int k = 0; k < n; ++k) {
      const int p = L.param(g, k);
      f.y[L.at(g, k)] = gamma[size_t(p)] * (x[L.at(g, k)] - m) * r + (beta.empty() ? 0.0 : beta[size_t(p)]);
    }
    f.mean[size_t(g)] = m;
    f.rstd[size_t(g)] = r;
    f.var[size_t(g)] = var;
  }
  return f;
}

Backward norm_backward(const Layout& L, const Vec& dy, const Vec& x, const Vec& gamma, const Vec& mean, const Vec& rstd,
                       BackwardOptions o) {
  Backward b{Vec(x.size()), Vec(size_t(L.params())), Vec(size_t(L.params()))};
  const int n = L.count, n_formula = o.count ? o.count : n;
  for (int g = 0; g < L.groups; ++g) {
    const double m = mean.empty() ? 0.0 : mean[size_t(g)], r = rstd[size_t(g)];
    double s = 0, sx = 0;
    for (int k = 0; k < n; ++k) {
      const size_t i = L.at(g, k);
      const double gam = gamma[size_t(L.param(g, k))];
      const double xhat = (x[i] - m) * r, dxhat = dy[i] * (o.gamma_in_dxhat ? gam : 1.0);
      s += dxhat;
      sx += dxhat * xhat;
      b.dgamma[size_t(L.param(g, k))] += dy[i] * (o.dgamma_from_x ? x[i] : xhat) * (o.dgamma_times_gamma ? gam : 1.0);
      b.dbeta[size_t(L.param(g, k))] += dy[i] * (o.dbeta_times_gamma ? gam : 1.0);
    }
    for (int k = 0; k < n; ++k) {
      const size_t i = L.at(g, k);
      const double xhat = (x[i] - m) * r, dxhat = dy[i] * (o.gamma_in_dxhat ? gamma[size_t(L.param(g, k))] : 1.0);
      b.dx[i] = r / n_formula * (n_formula * dxhat - (o.sum_term ? s : 0.0) - (o.xhat_term ? xhat * sx : 0.0));
    }
  }
  return b;
}

}  // namespace nl::grade
