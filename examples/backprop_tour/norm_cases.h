#pragma once
// The three normalizations the tour walks through, each as the library's own
// functions: the fused forward and backward with their intermediates
// (nl::*_norm_forward / _backward, core/ops/), the autograd op built on them
// (nl::layer_norm, ...), and the composition of primitive ops
// (nl::reference::*). The tour prints what these return; it computes
// no normalization of its own.
#include <functional>
#include <string>

#include "normlab.h"

namespace tour {

using nl::Tensor;

struct NormCase {
  std::string key;        // --norm value: layer, batch, rms
  std::string title;      // LayerNorm
  std::string group;      // what one group of statistics is
  std::string group_dim;  // "row" or "column": how mean/rstd line up with x
  std::string source;     // where the kernels live
  bool centers;           // subtracts the mean (LayerNorm, BatchNorm) or not (RMSNorm)
  bool has_bias;
  std::function<nl::NormForward(const Tensor& x, const Tensor& w, const Tensor& b, double eps)> forward;
  std::function<nl::NormBackward(const Tensor& dy, const Tensor& x, const Tensor& w, const nl::NormForward& f)>
      backward;
  // the autograd op (fused) and the reference composed from primitives
  std::function<Tensor(const Tensor&x, const Tensor&w, const Tensor&b, double eps)> fused, composed;
  // n in the formulas: the number of values in one group
  int64_t group_size(const Tensor& x) const { return group_dim == "row" ? x.size(1) : x.size(0); }
  // Why this norm cannot run on x; empty when it can.
  std::function<std::string(const Tensor& x)> cannot_run = [](const Tensor&) { return std::string(); };
};

inline std::vector<NormCase> norm_cases() {
  using nl::Shape;
  namespace reference = nl::reference;
  auto features = [](const Tensor& x) { return Shape{x.size(1)}; };
  return {
      {"layer", "LayerNorm", "each row (one sample, all its features)", "row",
       "core/ops/layer_norm.cpp: layer_norm_forward, layer_norm_backward", true, true,
       [=](const Tensor& x, const Tensor& w, const Tensor& b, double eps) {
         return nl::layer_norm_forward(x, features(x), w, b, eps);
       },
       [=](const Tensor& dy, const Tensor& x, const Tensor& w, const nl::NormForward& f) {
         return nl::layer_norm_backward(dy, x, features(x), w, f.mean, f.rstd, {.sums = true});
       },
       [=](const Tensor& x, const Tensor& w, const Tensor& b, double eps) {
         return nl::layer_norm(x, features(x), w, b, eps);
       },
       [=](const Tensor& x, const Tensor& w, const Tensor& b, double eps) {
         return reference::layer_norm(x, features(x), w, b, eps);
       }},
      {"batch", "BatchNorm (training mode)", "each column (one feature, all samples of the batch)", "column",
       "core/ops/batch_norm.cpp: batch_norm_forward, batch_norm_backward", true, true,
       [](const Tensor& x, const Tensor& w, const Tensor& b, double eps) {
         return nl::batch_norm_forward(x, Tensor(), Tensor(), w, b, /*training=*/true, 0.1, eps);
       },
       [](const Tensor& dy, const Tensor& x, const Tensor& w, const nl::NormForward& f) {
         return nl::batch_norm_backward(dy, x, w, f.mean, f.rstd, /*training=*/true, {.sums = true});
       },
       [](const Tensor& x, const Tensor& w, const Tensor& b, double eps) {
         return nl::batch_norm(x, Tensor(), Tensor(), w, b, true, 0.1, eps);
       },
       [](const Tensor& x, const Tensor& w, const Tensor& b, double eps) {
         return reference::batch_norm(x, Tensor(), Tensor(), w, b, true, 0.1, eps);
       },
       // One row: each column's batch mean is the row itself and its variance 0, so xhat = 0 and
       // y = beta whatever x is; the library refuses it, as PyTorch does.
       [](const Tensor& x) {
         return x.size(0) > 1
                    ? std::string()
                    : std::string(
                          "the input has 1 row, and BatchNorm in training mode normalizes each column over the\n"
                          "rows of the batch. With one sample each column's mean is that sample's value and its\n"
                          "variance is 0: xhat = (x − mean)·rstd would be 0 everywhere and y = beta, whatever x is.\n"
                          "So the library refuses a batch of 1 in training mode, as PyTorch does (\"Expected more\n"
                          "than 1 value per channel when training\"). Give two or more rows to see BatchNorm.");
       }},
      {"rms", "RMSNorm", "each row (one sample, all its features)", "row",
       "core/ops/layer_norm.cpp: rms_norm_forward, rms_norm_backward (the LayerNorm kernel without centering)", false,
       false,
       [=](const Tensor& x, const Tensor& w, const Tensor&, double eps) {
         return nl::rms_norm_forward(x, features(x), w, eps);
       },
       [=](const Tensor& dy, const Tensor& x, const Tensor& w, const nl::NormForward& f) {
         return nl::rms_norm_backward(dy, x, features(x), w, f.rstd, {.sums = true});
       },
       [=](const Tensor& x, const Tensor& w, const Tensor&, double eps) {
         return nl::rms_norm(x, features(x), w, eps);
       },
       [=](const Tensor& x, const Tensor& w, const Tensor&, double eps) {
         return reference::rms_norm(x, features(x), w, eps);
       }},
  };
}

}  // namespace tour
