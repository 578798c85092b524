// Anomaly detection: the checks attach() and the engine run when it is on.
#include "core/anomaly.h"

#include <fmt/format.h>

#include <cmath>
#include <string>

#include "core/autograd.h"

namespace nl {

std::optional<NonFinite> first_non_finite(const Tensor& t) {
  if (!t.defined() || !t.is_floating_point()) return std::nullopt;
  NoGradGuard no_grad;
  Tensor c = t.detach().contiguous();
  return dispatch_floating("first_non_finite", c.dtype(), [&]<typename T>() -> std::optional<NonFinite> {
    const T* p = c.data<T>();
    for (int64_t i = 0, n = c.numel(); i < n; ++i)
      if (!std::isfinite(p[i])) return NonFinite{i, double(p[i])};
    return std::nullopt;
  });
}

namespace detail {
namespace {
std::string describe(const Tensor& t) {
  return t.defined() ? fmt::format("{} {}", t.shape(), t.dtype()) : std::string("(none)");
}

// "[3] float64 finite, [3] float64 with nan at 2"
std::string describe_inputs(const std::vector<Tensor>& inputs) {
  std::vector<std::string> parts;
  for (const Tensor& t : inputs) {
    if (!t.defined()) continue;
    auto bad = first_non_finite(t);
    parts.push_back(bad ? fmt::format("{} holding {} at element {}", describe(t), bad->value, bad->index)
                        : fmt::format("{} finite", describe(t)));
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}
}  // namespace

void check_forward_anomaly(const char* op, const Tensor& output, const std::vector<Tensor>& inputs) {
  auto bad = first_non_finite(output);
  if (!bad) return;
  fail("anomaly detected: the forward of '{}' produced {} at element {} of its output {}; its inputs: {}", op,
       bad->value, bad->index, describe(output), describe_inputs(inputs));
}

void check_backward_anomaly(const Node& node, std::span<const Tensor> grad_outputs, const std::vector<Tensor>& grads) {
  for (size_t i = 0; i < grads.size(); ++i) {
    auto bad = first_non_finite(grads[i]);
    if (!bad) continue;
    // the incoming gradient to report: the first non-finite one, else the first
    const Tensor* grad_output = &grad_outputs[0];
    std::optional<NonFinite> incoming;
    for (const Tensor& g : grad_outputs)
      if ((incoming = first_non_finite(g))) {
        grad_output = &g;
        break;
      }
    fail(
        "anomaly detected: the backward of '{}' (output {} {}) produced {} at element {} of the gradient for its "
        "input {} ({}); the incoming gradient {} was {}",
        node.name(), node.shape(), node.dtype(), bad->value, bad->index, i, describe(grads[i]), describe(*grad_output),
        incoming ? fmt::format("already non-finite ({} at element {})", incoming->value, incoming->index)
                 : std::string("finite"));
  }
}
}  // namespace detail

}  // namespace nl
