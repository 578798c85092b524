#include "examples/landscape/probes.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace landscape {

namespace {

using nl::Tensor;

// Copies of the parameters and buffers (BatchNorm's running statistics, which
// every training-mode forward updates), put back by restore().
class Snapshot {
 public:
  explicit Snapshot(nl::models::MLP& model) : params_(model.parameters()) {
    nl::NoGradGuard no_grad;
    for (const Tensor& p : params_) saved_params_.push_back(p.clone());
    for (auto& [name, b] : model.named_buffers()) {
      buffers_.push_back(b);
      saved_buffers_.push_back(b.clone());
    }
  }
  void restore() {
    nl::NoGradGuard no_grad;
    for (size_t i = 0; i < params_.size(); ++i) params_[i].copy_(saved_params_[i]);
    for (size_t i = 0; i < buffers_.size(); ++i) buffers_[i].copy_(saved_buffers_[i]);
  }

 private:
  std::vector<Tensor> params_, saved_params_, buffers_, saved_buffers_;
};

// L(θ) on the batch, and every parameter's gradient (copies, in parameters() order).
std::pair<double, std::vector<Tensor>> loss_and_gradient(nl::models::MLP& model, const Tensor& x, const Tensor& y) {
  model.zero_grad();
  Tensor loss = nl::cross_entropy(model(x), y);
  loss.backward();
  std::vector<Tensor> grads;
  for (const Tensor& p : model.parameters()) grads.push_back(p.grad().clone());
  return {loss.item<double>(), grads};
}

double dot(const Tensor& a, const Tensor& b) { return (a.to(nl::f64) * b.to(nl::f64)).sum().item<double>(); }

// ‖a − b‖₂ over a list of tensors.
double distance(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    Tensor d = a[i].to(nl::f64) - b[i].to(nl::f64);
    s += dot(d, d);
  }
  return std::sqrt(s);
}

// ‖a‖₂ over a list of tensors.
double norm_of(const std::vector<Tensor>& a) {
  double s = 0;
  for (const Tensor& t : a) s += dot(t, t);
  return std::sqrt(s);
}

// The child index of the MLP a parameter belongs to ("3.weight" -> 3).
int64_t child_of(const std::string& name) { return std::stoll(name.substr(0, name.find('.'))); }

}  // namespace

namespace {
Band band_of(const std::vector<double>& values) {
  auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  return {*lo, *hi};
}
}  // namespace

Band GradientProbe::loss_band() const { return band_of(losses); }
Band GradientProbe::grad_change_band() const { return band_of(grad_changes); }

double GradientProbe::beta_smoothness() const {
  double beta = 0;
  for (size_t k = 0; k < etas.size(); ++k) beta = std::max(beta, grad_changes[k] / (etas[k] * grad_norm));
  return beta;
}

GradientProbe probe_gradient(nl::models::MLP& model, const Tensor& x, const Tensor& y, double lr,
                             const std::vector<double>& step_multiples) {
  Snapshot snapshot(model);
  auto [loss, g] = loss_and_gradient(model, x, y);
  GradientProbe probe{.loss = loss, .grad_norm = norm_of(g)};
  std::vector<Tensor> params = model.parameters();
  for (double multiple : step_multiples) {
    const double eta = lr * multiple;
    snapshot.restore();
    {
      nl::NoGradGuard no_grad;
      for (size_t i = 0; i < params.size(); ++i) params[i].add_(g[i], -eta);  // θ − η·g
    }
    auto [moved_loss, moved_g] = loss_and_gradient(model, x, y);
    probe.etas.push_back(eta);
    probe.losses.push_back(moved_loss);
    probe.grad_changes.push_back(distance(moved_g, g));
  }
  snapshot.restore();
  return probe;
}

CovariateShiftProbe probe_covariate_shift(nl::models::MLP& model, const Tensor& x, const Tensor& y, double lr) {
  Snapshot snapshot(model);
  auto named = model.named_parameters();
  auto [loss, g] = loss_and_gradient(model, x, y);
  CovariateShiftProbe probe;
  for (size_t i = 0; i < named.size(); ++i) {
    if (named[i].second.dim() != 2) continue;  // a Linear weight: layer i's W_i
    const int64_t layer = child_of(named[i].first);
    snapshot.restore();
    {
      nl::NoGradGuard no_grad;  // every parameter of an earlier child takes its SGD step
      for (size_t j = 0; j < named.size(); ++j)
        if (child_of(named[j].first) < layer) named[j].second.add_(g[j], -lr);
    }
    const std::vector<Tensor> shifted = loss_and_gradient(model, x, y).second;
    const double change = distance({g[i]}, {shifted[i]}), norm = std::sqrt(dot(g[i], g[i]));
    probe.l2.push_back(change);
    probe.relative.push_back(change / norm);
    probe.cosine.push_back(dot(g[i], shifted[i]) / (norm * std::sqrt(dot(shifted[i], shifted[i]))));
  }
  snapshot.restore();
  return probe;
}

}  // namespace landscape
