#pragma once
// Anomaly detection, as torch.autograd.detect_anomaly: find the first op
// whose forward or backward produced NaN or ±inf.
//
//   {
//     nl::DetectAnomalyGuard anomaly;   // this thread, until the end of the scope
//     Tensor loss = model(x) ...;       // each recorded op checks its output
//     loss.backward();                  // each gradient rule checks what it returns
//   }
//
// The first non-finite value throws an nl::Error naming the op, the shapes
// and dtypes of its output and inputs, the element, and whether the inputs
// (forward) or the incoming gradient (backward) were still finite — so the
// op named is the one that made the NaN, not one that passed it on.
//
// What is checked: the output of every op that records a graph (grad mode on
// and an input requiring grad; the check sits in attach(), core/autograd.h)
// and every gradient a rule returns in backward() (core/engine.cpp). Ops run
// without a graph (under NoGradGuard, or on tensors not requiring grad) are
// not checked. Off — the default — it costs one thread-local bool test per
// recorded op and per node in backward(); on, every checked tensor is read once.
#include <optional>
#include <span>
#include <vector>

#include "core/tensor.h"

namespace nl {

class Node;

namespace detail {
inline thread_local bool anomaly_enabled = false;
// Throw when output has a NaN/inf (called by attach() when enabled).
void check_forward_anomaly(const char* op, const Tensor& output, const std::vector<Tensor>& inputs);
// Throw when a gradient in grads has a NaN/inf (called by the engine when enabled);
// grad_outputs: the gradients the rule got, one per output of the node.
void check_backward_anomaly(const Node& node, std::span<const Tensor> grad_outputs, const std::vector<Tensor>& grads);
}  // namespace detail

inline bool is_anomaly_enabled() { return detail::anomaly_enabled; }
inline void set_detect_anomaly(bool enabled) { detail::anomaly_enabled = enabled; }

// While alive, anomaly detection is on for this thread (restores the previous state).
class DetectAnomalyGuard {
 public:
  explicit DetectAnomalyGuard(bool enabled = true) : previous_(is_anomaly_enabled()) { set_detect_anomaly(enabled); }
  ~DetectAnomalyGuard() { set_detect_anomaly(previous_); }
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool previous_;
};

// Index and value of the first NaN or ±inf in t (row-major order), if any;
// integer tensors have none.
struct NonFinite {
  int64_t index;
  double value;
};
std::optional<NonFinite> first_non_finite(const Tensor& t);

}  // namespace nl
