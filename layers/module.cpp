#include "layers/module.h"

#include <fmt/format.h>

#include <set>

#include "core/autograd.h"

namespace nl::layers {

Tensor Module::forward(const Tensor& x) {
  fail("{}: this module does not take a single tensor (see its own forward signature)", type_name_);
}

void Module::train(bool training) {
  training_ = training;
  for (auto& [name, child] : children_) child->train(training);
}

void Module::check_new_name(const std::string& name) const {
  if (name.empty() || name.find('.') != std::string::npos)
    fail("{}: a parameter, buffer or module name must be non-empty without '.', got \"{}\"", type_name_, name);
  auto taken = [&](const auto& list) {
    for (auto& entry : list)
      if (entry.first == name) return true;
    return false;
  };
  if (taken(parameters_) || taken(buffers_) || taken(children_))
    fail("{}: name \"{}\" is already registered", type_name_, name);
}

void Module::register_parameter(std::string name, Tensor& member) {
  check_new_name(name);
  if (!member.defined()) return;
  if (!member.is_floating_point())
    fail("{}: parameter \"{}\" must be floating, got {}", type_name_, name, member.dtype());
  member = member.detach().requires_grad_(true);
  parameters_.emplace_back(std::move(name), &member);
}

void Module::register_buffer(std::string name, Tensor& member) {
  check_new_name(name);
  if (member.defined()) buffers_.emplace_back(std::move(name), &member);
}

void Module::add_child(std::string name, std::shared_ptr<Module> module) {
  check_new_name(name);
  if (!module) fail("{}: submodule \"{}\" is null", type_name_, name);
  children_.emplace_back(std::move(name), std::move(module));
}

void Module::replace_module(const std::string& name, std::shared_ptr<Module> module) {
  if (!module) fail("{}.replace_module: the new submodule \"{}\" is null", type_name_, name);
  for (auto& [child_name, child] : children_) {
    if (child_name != name) continue;
    if (!accept_replaced_module(name, module))
      fail(
          "{}.replace_module: {} keeps its submodules in typed members and cannot swap \"{}\" ({}) for {}; "
          "build it with the new layer instead",
          type_name_, type_name_, name, child->type_name(), module->type_name());
    child = std::move(module);
    return;
  }
  fail("{}.replace_module: no submodule named \"{}\"", type_name_, name);
}

void Module::collect_slots(const std::string& prefix, std::vector<Slot>& out) const {
  for (auto& [name, member] : parameters_) out.push_back({prefix + name, member, true});
  for (auto& [name, member] : buffers_) out.push_back({prefix + name, member, false});
  for (auto& [name, child] : children_) child->collect_slots(prefix + name + ".", out);
}

std::vector<Module::Slot> Module::slots() const {
  std::vector<Slot> out;
  collect_slots("", out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& slot : slots())
    if (slot.is_parameter) out.push_back(*slot.member);
  return out;
}

Named<Tensor> Module::named_parameters() const {
  Named<Tensor> out;
  for (auto& slot : slots())
    if (slot.is_parameter) out.emplace_back(slot.name, *slot.member);
  return out;
}

Named<Tensor> Module::named_buffers() const {
  Named<Tensor> out;
  for (auto& slot : slots())
    if (!slot.is_parameter) out.emplace_back(slot.name, *slot.member);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t total = 0;
  for (const Tensor& p : parameters()) total += p.numel();
  return total;
}

StateDict Module::state_dict() const {
  StateDict out;
  for (auto& slot : slots()) out[slot.name] = slot.member->detach();
  return out;
}

void Module::load_state_dict(const StateDict& state, bool strict) {
  std::vector<std::string> missing, mismatched, wrong_dtype;
  std::set<std::string> used;
  std::vector<std::pair<Tensor*, Tensor>> copies;
  for (auto& slot : slots()) {
    auto it = state.find(slot.name);
    if (it == state.end()) {
      missing.push_back(slot.name);
      continue;
    }
    used.insert(slot.name);
    const Tensor& value = it->second;
    if (!value.defined() || !(value.shape() == slot.member->shape()))
      mismatched.push_back(fmt::format("{} (checkpoint {}, model {})", slot.name,
                                       value.defined() ? fmt::format("{}", value.shape()) : "undefined",
                                       slot.member->shape()));
    // Floating values convert to a floating member of either width, but into an integer
    // member (a step count) a float may not fit, and converting it would be undefined.
    else if (value.is_floating_point() && !slot.member->is_floating_point())
      wrong_dtype.push_back(
          fmt::format("{} (checkpoint {}, model {})", slot.name, value.dtype(), slot.member->dtype()));
    else
      copies.emplace_back(slot.member, value);
  }
  std::vector<std::string> unexpected;
  for (auto& [name, value] : state)
    if (!used.count(name)) unexpected.push_back(name);

  std::string problems;
  if (!mismatched.empty()) problems += fmt::format("; size mismatch for {}", fmt::join(mismatched, ", "));
  if (!wrong_dtype.empty()) problems += fmt::format("; dtype mismatch for {}", fmt::join(wrong_dtype, ", "));
  if (strict && !missing.empty()) problems += fmt::format("; missing keys {}", fmt::join(missing, ", "));
  if (strict && !unexpected.empty()) problems += fmt::format("; unexpected keys {}", fmt::join(unexpected, ", "));
  if (!problems.empty()) fail("load_state_dict: {}{}", type_name_, problems);

  // All checks passed before anything is written: a failed load changes nothing.
  NoGradGuard no_grad;
  for (auto& [member, value] : copies) member->copy_(value);
}

void Module::zero_grad() {
  for (const Tensor& p : parameters()) p.set_grad(Tensor());
}

void Module::to(DType dtype) {
  NoGradGuard no_grad;
  for (auto& slot : slots()) {
    Tensor& t = *slot.member;
    if (!t.is_floating_point() || t.dtype() == dtype) continue;
    if (!is_floating(dtype))
      fail("{}.to: parameters and buffers convert to float32 or float64, not {}", type_name_, dtype);
    t = t.detach().to(dtype);
    if (slot.is_parameter) t.requires_grad_(true);
  }
}

Named<std::shared_ptr<Module>> Module::named_modules() const {
  Named<std::shared_ptr<Module>> out;
  for (auto& [name, child] : children_) {
    out.emplace_back(name, child);
    for (auto& [sub, module] : child->named_modules()) out.emplace_back(name + "." + sub, module);
  }
  return out;
}

// ---- hooks ---------------------------------------------------------------------------

struct ModuleHooks {
  explicit ModuleHooks(Module* owner) : owner(owner) {}
  Module* owner;
  uint64_t next_id = 1;
  std::vector<std::pair<uint64_t, ForwardPreHook>> forward_pre;
  std::vector<std::pair<uint64_t, ForwardHook>> forward;
  std::vector<std::pair<uint64_t, BackwardPreHook>> backward_pre;
};

HookHandle Module::register_forward_pre_hook(ForwardPreHook hook) {
  if (!hook) fail("{}: register_forward_pre_hook needs a callable hook", type_name_);
  if (!hooks_) hooks_ = std::make_shared<ModuleHooks>(this);
  hooks_->forward_pre.emplace_back(hooks_->next_id, std::move(hook));
  return HookHandle(hooks_, hooks_->next_id++);
}

HookHandle Module::register_forward_hook(ForwardHook hook) {
  if (!hook) fail("{}: register_forward_hook needs a callable hook", type_name_);
  if (!hooks_) hooks_ = std::make_shared<ModuleHooks>(this);
  hooks_->forward.emplace_back(hooks_->next_id, std::move(hook));
  return HookHandle(hooks_, hooks_->next_id++);
}

HookHandle Module::register_full_backward_pre_hook(BackwardPreHook hook) {
  if (!hook) fail("{}: register_full_backward_pre_hook needs a callable hook", type_name_);
  if (!hooks_) hooks_ = std::make_shared<ModuleHooks>(this);
  hooks_->backward_pre.emplace_back(hooks_->next_id, std::move(hook));
  return HookHandle(hooks_, hooks_->next_id++);
}

void HookHandle::remove() {
  std::shared_ptr<ModuleHooks> hooks = hooks_.lock();
  if (!hooks) return;
  std::erase_if(hooks->forward_pre, [&](const auto& h) { return h.first == id_; });
  std::erase_if(hooks->forward, [&](const auto& h) { return h.first == id_; });
  std::erase_if(hooks->backward_pre, [&](const auto& h) { return h.first == id_; });
  // the last hook gone: the module's calls take the plain path again
  if (hooks->forward_pre.empty() && hooks->forward.empty() && hooks->backward_pre.empty()) hooks->owner->hooks_.reset();
  hooks_.reset();
}

void Module::run_pre_hooks(const Tensor& x) {
  std::shared_ptr<ModuleHooks> hooks = hooks_;  // stays alive while hooks remove themselves
  // a copy: a hook may register or remove hooks; those apply from the next call
  for (auto pre_hooks = hooks->forward_pre; auto& [id, hook] : pre_hooks) hook(*this, x);
}

Tensor Module::run_hooks(const Tensor& x, Tensor y) {
  std::shared_ptr<ModuleHooks> hooks = hooks_;  // stays alive while hooks remove themselves
  for (auto forward_hooks = hooks->forward; auto& [id, hook] : forward_hooks) {
    Tensor replaced = hook(*this, x, y);
    if (replaced.defined()) y = replaced;
  }
  if (hooks->backward_pre.empty() || !y.defined() || !y.requires_grad()) return y;
  // The hook goes on y's own node: a leaf or the input passed through gets a
  // view of its own, so the hook sees this module's output gradient only.
  if (y.is_leaf() || y.is_same(x)) y = y.view(y.shape());
  y.register_hook([weak = std::weak_ptr<ModuleHooks>(hooks)](const Tensor& grad) -> Tensor {
    std::shared_ptr<ModuleHooks> alive = weak.lock();
    if (!alive) return Tensor();  // the module is gone
    Tensor g = grad;
    for (auto backward_hooks = alive->backward_pre; auto& [id, hook] : backward_hooks) {
      Tensor replaced = hook(*alive->owner, g);
      if (replaced.defined()) g = replaced;
    }
    return g;
  });
  return y;
}

std::string Module::to_string(int indent) const {
  std::string out = type_name_ + "(" + extra_repr();
  if (children_.empty()) return out + ")";
  std::string pad(size_t(indent + 2), ' ');
  out += "\n";
  for (auto& [name, child] : children_) out += pad + "(" + name + "): " + child->to_string(indent + 2) + "\n";
  return out + std::string(size_t(indent), ' ') + ")";
}

std::string Module::to_string() const { return to_string(0); }

}  // namespace nl::layers
