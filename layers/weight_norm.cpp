#include "layers/weight_norm.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/autograd.h"
#include "core/ops.h"

namespace nl::layers {

// What weight_norm did to one parameter, kept by the module under the
// parameter's name (Module::reparametrizations_) until remove_weight_norm.
// g and v are the new parameters: the module's registry points at them here.
struct Reparametrization {
  std::optional<int64_t> dim;
  Tensor g, v;
  Tensor* member = nullptr;  // the module's own tensor, which its forward reads
  HookHandle recompute;      // the forward pre-hook that sets *member
};

// The one door into Module's registry from outside the class (a friend of Module).
struct ReparametrizationAccess {
  static Named<Tensor*>& parameters(Module& m) { return m.parameters_; }
  static Named<std::shared_ptr<Reparametrization>>& records(Module& m) { return m.reparametrizations_; }
  static void check_new_name(const Module& m, const std::string& name) { m.check_new_name(name); }
  static void register_parameter(Module& m, std::string name, Tensor& member) {
    m.register_parameter(std::move(name), member);
  }
};

namespace {
using Access = ReparametrizationAccess;

template <typename T>
auto find_named(Named<T>& list, const std::string& name) {
  return std::find_if(list.begin(), list.end(), [&](const auto& entry) { return entry.first == name; });
}

std::string parameter_names(Module& module) {
  std::vector<std::string> names;
  for (auto& [name, member] : Access::parameters(module)) names.push_back(name);
  return names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "));
}
}  // namespace

Module& weight_norm(Module& module, const std::string& name, std::optional<int64_t> dim) {
  auto& records = Access::records(module);
  if (find_named(records, name) != records.end())
    fail(
        "weight_norm: {}'s parameter \"{}\" is already weight-normed (\"{}_g\", \"{}_v\"); "
        "call remove_weight_norm first to apply it again",
        module.type_name(), name, name, name);
  auto& parameters = Access::parameters(module);
  auto entry = find_named(parameters, name);
  if (entry == parameters.end())
    fail("weight_norm: {} has no parameter \"{}\" of its own to reparametrize (its parameters: {})", module.type_name(),
         name, parameter_names(module));
  Tensor& member = *entry->second;
  int rank = member.dim();
  if (dim && (*dim < -rank || *dim >= rank))
    fail(
        "weight_norm: dim {} is out of range for {}'s parameter \"{}\" of shape {} (expected {}..{}, or "
        "std::nullopt for one norm over the whole tensor)",
        *dim, module.type_name(), name, member.shape(), -rank, rank - 1);
  Access::check_new_name(module, name + "_g");
  Access::check_new_name(module, name + "_v");

  // All checks passed: now change the module. `name` leaves the registry (the
  // member stays: the forward reads it), g and v come in; the pre-hook makes
  // the member g · v / ‖v‖ before each call, as a node of the graph.
  auto record = std::make_shared<Reparametrization>();
  record->dim = dim;
  record->member = &member;
  {
    NoGradGuard no_grad;
    record->g = norm_except_dim(member, dim);
    record->v = member.detach();
  }
  parameters.erase(entry);
  records.emplace_back(name, record);
  Access::register_parameter(module, name + "_g", record->g);
  Access::register_parameter(module, name + "_v", record->v);
  record->recompute =
      module.register_forward_pre_hook([weak = std::weak_ptr<Reparametrization>(record)](Module&, const Tensor&) {
        if (auto r = weak.lock()) *r->member = nl::weight_norm(r->v, r->g, r->dim);
      });
  // As PyTorch, the weight is computed right away too (a call may read it before any forward).
  member = nl::weight_norm(record->v, record->g, dim);
  return module;
}

Module& remove_weight_norm(Module& module, const std::string& name) {
  auto& records = Access::records(module);
  auto found = find_named(records, name);
  if (found == records.end())
    fail(
        "remove_weight_norm: {}'s parameter \"{}\" is not weight-normed (apply weight_norm(module, \"{}\") first; "
        "its parameters: {})",
        module.type_name(), name, name, parameter_names(module));
  std::shared_ptr<Reparametrization> record = found->second;
  Tensor weight;
  {
    NoGradGuard no_grad;
    weight = nl::weight_norm(record->v, record->g, record->dim);
  }
  record->recompute.remove();
  auto& parameters = Access::parameters(module);
  std::erase_if(parameters,
                [&](const auto& entry) { return entry.second == &record->g || entry.second == &record->v; });
  *record->member = weight;
  records.erase(found);
  Access::register_parameter(module, name, *record->member);
  return module;
}

}  // namespace nl::layers
