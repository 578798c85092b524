#pragma once
// Module: the base of every layer, as torch.nn.Module, and Layer<Self>, the
// base a layer actually derives from.
//
// A module owns named parameters (leaf tensors that train), named buffers
// (state that does not train, e.g. BatchNorm's running_mean) and named
// submodules. Names nest with dots, as in PyTorch: "blocks.0.ln1.weight".
// A subclass keeps its tensors as ordinary members and registers them once in
// its constructor; the registry points at the members, so `weight` in the
// class and "weight" in state_dict() are always the same tensor.
//
// A layer derives from Layer<itself> and keeps its forward protected: the
// only way to run it is the call operator, affine(x), which runs the hooks
// around it, whatever the forward's signature.
//
//   class Affine : public nl::layers::Layer<Affine> {
//    public:
//     explicit Affine(int64_t n) : Layer("Affine") {
//       register_parameter("weight", weight = nl::ones({n}));
//       register_parameter("bias", bias = nl::zeros({n}));
//     }
//     nl::Tensor weight, bias;
//
//    protected:
//     friend Layer<Affine>;  // its call operator runs forward
//     nl::Tensor forward(const nl::Tensor& x) override { return x * weight + bias; }
//   };
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/state_dict.h"
#include "core/tensor.h"

namespace nl::layers {

template <typename T>
using Named = std::vector<std::pair<std::string, T>>;

class Module;
struct ModuleHooks;
struct Reparametrization;

// Module hooks, as PyTorch's. A forward pre-hook runs before forward() with
// (module, input): it prepares the module's state for the call, e.g.
// weight_norm recomputes the weight from weight_g and weight_v there (unlike
// PyTorch's it cannot replace the input: Layer's forwards take several
// arguments of any type, and no use here needs it). A forward hook runs
// after forward() with (module, input, output) and may return a replacement
// output (an undefined Tensor keeps it). A backward pre-hook runs in
// backward() with the gradient of the module's output, before it flows into
// the module, and may return a replacement (undefined keeps it). For a
// forward of several arguments or results, the hooks' input is the first
// Tensor argument and their output the forward's Tensor result or the
// `output` member of the struct it returns (PyTorch passes them the whole
// tuples; here the main tensors stand for them).
using ForwardPreHook = std::function<void(Module& module, const Tensor& input)>;
using ForwardHook = std::function<Tensor(Module& module, const Tensor& input, const Tensor& output)>;
using BackwardPreHook = std::function<Tensor(Module& module, const Tensor& grad_output)>;

// Returned by the register_* calls; remove() unregisters the hook (as
// torch.utils.hooks.RemovableHandle). Safe to call after the module is gone.
class HookHandle {
 public:
  HookHandle() = default;
  void remove();

 private:
  friend class Module;
  HookHandle(std::weak_ptr<ModuleHooks> hooks, uint64_t id) : hooks_(std::move(hooks)), id_(id) {}
  std::weak_ptr<ModuleHooks> hooks_;
  uint64_t id_ = 0;
};

template <typename Self>
class Layer;

class Module {
 public:
  virtual ~Module() = default;
  // Registered members are referred to by address: a module never moves.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The class name ("Linear"), used in errors and printing.
  const std::string& type_name() const { return type_name_; }

  // The call of a module known only as a Module (Sequential's children, a
  // Module& parameter): the virtual one-tensor forward(x) with the hooks, the
  // same path as Layer's call operator. A module whose forward takes other
  // arguments throws here; through its own type it takes them (Layer below).
  Tensor operator()(const Tensor& x) {
    if (hooks_) run_pre_hooks(x);
    Tensor y = forward(x);
    if (hooks_) y = run_hooks(x, std::move(y));
    return y;
  }

  HookHandle register_forward_pre_hook(ForwardPreHook hook);
  HookHandle register_forward_hook(ForwardHook hook);
  HookHandle register_full_backward_pre_hook(BackwardPreHook hook);

  // Training mode (the default) vs evaluation mode, for this module and all
  // submodules: changes what Dropout and BatchNorm do.
  void train(bool training = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  std::vector<Tensor> parameters() const;
  Named<Tensor> named_parameters() const;
  Named<Tensor> named_buffers() const;
  Named<std::shared_ptr<Module>> named_children() const { return children_; }
  // Swaps the submodule registered as `name` for `module`, keeping its place
  // and name (as assigning model.name = module in PyTorch); for converting
  // layers after construction, e.g. nl::dist::convert_sync_batchnorm. A module
  // that holds its own typed pointer to the child must accept the swap in
  // accept_replaced_module (Sequential does); the others refuse with an error.
  void replace_module(const std::string& name, std::shared_ptr<Module> module);
  // Every submodule at any depth by dotted name, parents before children
  // (as PyTorch's named_modules(), without the module itself).
  Named<std::shared_ptr<Module>> named_modules() const;
  int64_t num_parameters() const;  // total element count

  // Parameters and buffers by dotted name. The tensors share storage with the
  // module (detached), as PyTorch's state_dict().
  StateDict state_dict() const;
  // Copies values in (converting dtype). strict: every key must match; any
  // missing, unexpected or mis-shaped key is an error listing all of them.
  void load_state_dict(const StateDict& state, bool strict = true);

  // Drops accumulated gradients (set to none, as PyTorch's default).
  void zero_grad();
  // Converts floating parameters and buffers to dtype (new leaf tensors).
  void to(DType dtype);

  // A tree like PyTorch's print(model).
  std::string to_string() const;

 protected:
  // The one-tensor forward, run by the call operators. Modules with other
  // signatures (losses, LSTM's states, attention's masks) define their own
  // forward and leave this one throwing.
  virtual Tensor forward(const Tensor& x);

  // Registers a member tensor; parameters become leaves requiring grad. An
  // undefined tensor (e.g. bias=false) is not registered.
  void register_parameter(std::string name, Tensor& member);
  void register_buffer(std::string name, Tensor& member);
  template <typename M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module) {
    add_child(std::move(name), module);
    return module;
  }
  // replace_module's hook, called before the swap: update any own pointer to
  // the child and return true, or return false to refuse (the default).
  virtual bool accept_replaced_module(const std::string& name, const std::shared_ptr<Module>& module) { return false; }
  // Constructor arguments shown by to_string(), e.g. "in_features=4, out_features=2".
  virtual std::string extra_repr() const { return ""; }

 private:
  // Every module derives from Layer<Self>, the one place that can construct a
  // Module: so every module has the hooked call operator.
  template <typename Self>
  friend class Layer;
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  // The forward pre-hooks, before forward runs on `input`.
  void run_pre_hooks(const Tensor& input);
  // The hooks' half of a call, after forward returned `output` for `input`:
  // the forward hooks (each may replace the output), then the backward
  // pre-hooks attached to the output's node. Returns the (replaced) output.
  Tensor run_hooks(const Tensor& input, Tensor output);

  void add_child(std::string name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name) const;
  // Every registered member tensor, by dotted name, with whether it is a parameter.
  struct Slot {
    std::string name;
    Tensor* member;
    bool is_parameter;
  };
  void collect_slots(const std::string& prefix, std::vector<Slot>& out) const;
  std::vector<Slot> slots() const;
  std::string to_string(int indent) const;
  friend class HookHandle;
  // weight_norm (layers/weight_norm.cpp) reparametrizes a registered
  // parameter from outside the class, as PyTorch's edits module._parameters:
  // it takes the parameter's entry out of the registry (the member stays,
  // forward reads it), registers the new parameters, and leaves its record
  // here under the parameter's name; the registry points into the record.
  friend struct ReparametrizationAccess;
  Named<std::shared_ptr<Reparametrization>> reparametrizations_;

  std::string type_name_;
  Named<Tensor*> parameters_, buffers_;
  Named<std::shared_ptr<Module>> children_;
  bool training_ = true;
  std::shared_ptr<ModuleHooks> hooks_;  // null until a hook is registered
};

// Whether m.forward(args...) compiles where no friendship reaches (here, at
// namespace scope): true for a module whose forward is public, which a caller
// could run without the hooks; Layer refuses such a Self. A variable template,
// not a concept: g++ 12 checks a concept's access where it is first used and
// keeps that answer, and inside Layer, Self's friend, everything is accessible.
template <typename M, typename... Args>
inline constexpr bool forward_is_public = requires(M& m, Args&... args) {
  m.forward(args...);
};

// Layer<Self>: the base every module derives from, naming itself —
// class Linear : public Layer<Linear>. Its call operator takes whatever
// Self's forward takes and runs that forward between the hooks:
//
//   lstm(x, h0, c0)   = Self::forward(x, h0, c0), the hooks seeing x and Output::output
//   self_attn(q, k, v, padding, mask, true, false)
//   loss(logits, targets)
//
// Self keeps forward protected and befriends Layer<Self>
// (`friend Layer<Linear>;`), so module.forward(x) does not compile outside
// the class and no call can skip the hooks. The hooks see the first Tensor
// argument as the input and, as the output, the Tensor result or the struct
// result's `output` member (LSTM::Output, MultiheadAttention::Output); a
// forward hook's replacement replaces that member, the others stay the
// forward's. The arguments are deduced, so an absent tensor is nl::Tensor(),
// not {}. Without hooks a call is forward plus one pointer test.
template <typename Self>
class Layer : public Module {
 public:
  template <typename... Args>
  auto operator()(Args&&... args) {
    static_assert(!forward_is_public<Self, Args...>,
                  "a module's forward must be protected (friend Layer<Self>), or its callers could skip the hooks");
    static_assert((std::is_same_v<std::remove_cvref_t<Args>, Tensor> || ...),
                  "the hooks see a forward's first Tensor argument as its input: a forward needs one");
    if (hooks_) run_pre_hooks(first_tensor(args...));
    // args go on as lvalues, never moved from: the hooks still need the input.
    auto result = static_cast<Self&>(*this).forward(args...);
    static_assert(std::is_same_v<decltype(result), Tensor> || has_tensor_output<decltype(result)>,
                  "a forward returns a Tensor or a struct whose Tensor member `output` the hooks see");
    if (hooks_) {
      Tensor& output = output_of(result);
      output = run_hooks(first_tensor(args...), std::move(output));
    }
    return result;
  }

 protected:
  explicit Layer(std::string type_name) : Module(std::move(type_name)) {}

 private:
  template <typename Result>
  static constexpr bool has_tensor_output = requires(Result& r) {
    { r.output } -> std::same_as<Tensor&>;
  };
  template <typename Result>
  static Tensor& output_of(Result& result) {
    if constexpr (std::is_same_v<Result, Tensor>)
      return result;
    else
      return result.output;
  }
  template <typename First, typename... Rest>
  static const Tensor& first_tensor(const First& first, const Rest&... rest) {
    if constexpr (std::is_same_v<First, Tensor>)
      return first;
    else
      return first_tensor(rest...);
  }
};

}  // namespace nl::layers
