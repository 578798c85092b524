#pragma once
// Module: the base of every layer, as torch.nn.Module.
//
// A module owns named parameters (leaf tensors that train), named buffers
// (state that does not train, e.g. BatchNorm's running_mean) and named
// submodules. Names nest with dots, as in PyTorch: "blocks.0.ln1.weight".
// A subclass keeps its tensors as ordinary members and registers them once in
// its constructor; the registry points at the members, so `weight` in the
// class and "weight" in state_dict() are always the same tensor.
//
//   class Affine : public nl::layers::Module {
//    public:
//     explicit Affine(int64_t n) : Module("Affine") {
//       register_parameter("weight", weight = nl::ones({n}));
//       register_parameter("bias", bias = nl::zeros({n}));
//     }
//     nl::Tensor forward(const nl::Tensor& x) override { return x * weight + bias; }
//     nl::Tensor weight, bias;
//   };
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/state_dict.h"
#include "core/tensor.h"

namespace nl::layers {

template <typename T>
using Named = std::vector<std::pair<std::string, T>>;

class Module;
struct ModuleHooks;

// Module hooks, as PyTorch's. A forward hook runs after forward() with
// (module, input, output) and may return a replacement output (an undefined
// Tensor keeps it). A backward pre-hook runs in backward() with the gradient
// of the module's output, before it flows into the module, and may return a
// replacement (undefined keeps it). Hooks run when the module is called as
// module(x) — Sequential and the models call their children that way — or,
// for a forward of another signature, through with_hooks(); never by forward(x).
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

class Module {
 public:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  // Registered members are referred to by address: a module never moves.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The class name ("Linear"), used in errors and printing.
  const std::string& type_name() const { return type_name_; }

  // One-tensor forward. Modules with other signatures (losses, LSTM,
  // attention) define their own forward and leave this one throwing.
  virtual Tensor forward(const Tensor& x);
  // forward(x), plus the hooks when any are registered (one pointer test otherwise).
  Tensor operator()(const Tensor& x) {
    return hooks_ ? call_with_hooks(x, [&] { return forward(x); }) : forward(x);
  }
  // The same for a forward of another signature (masks, initial states,
  // several inputs): runs `run` — a call of that forward returning the main
  // output — with the hooks around it, which see `input` as the input (PyTorch
  // passes them the whole argument tuple; here the main input stands for it).
  //   self_attn->with_hooks(x, [&] { return self_attn->forward(x, x, x, mask).output; })
  // Without hooks it is run() and one pointer test.
  template <typename Run>
  Tensor with_hooks(const Tensor& input, Run&& run) {
    return hooks_ ? call_with_hooks(input, std::forward<Run>(run)) : run();
  }

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
  virtual bool accept_replaced_module(const std::string& name, const std::shared_ptr<Module>& module) {
    return false;
  }
  // Constructor arguments shown by to_string(), e.g. "in_features=4, out_features=2".
  virtual std::string extra_repr() const { return ""; }

 private:
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
  Tensor call_with_hooks(const Tensor& x, const std::function<Tensor()>& run);
  friend class HookHandle;

  std::string type_name_;
  Named<Tensor*> parameters_, buffers_;
  Named<std::shared_ptr<Module>> children_;
  bool training_ = true;
  std::shared_ptr<ModuleHooks> hooks_;  // null until a hook is registered
};

}  // namespace nl::layers
