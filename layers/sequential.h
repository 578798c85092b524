#pragma once
// Sequential: runs its submodules in order, named "0", "1", ... as in PyTorch.
//
//   auto model = std::make_shared<nl::layers::Sequential>();
//   model->push_back(std::make_shared<nl::layers::Linear>(784, 256));
//   model->push_back(std::make_shared<nl::layers::ReLU>());
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "layers/module.h"

namespace nl::layers {

class Sequential : public Layer<Sequential> {
 public:
  Sequential() : Layer("Sequential") {}
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules) : Layer("Sequential") {
    for (auto& m : modules) push_back(m);
  }
  void push_back(std::shared_ptr<Module> module) {
    modules_.push_back(register_module(std::to_string(modules_.size()), std::move(module)));
  }
  size_t size() const { return modules_.size(); }

 protected:
  friend Layer<Sequential>;
  Tensor forward(const Tensor& x) override {
    Tensor h = x;
    for (auto& m : modules_) h = (*m)(h);  // Module's call operator: forward(h) with the child's hooks
    return h;
  }
  // For models that are a Sequential under another name (models::MLP).
  explicit Sequential(const char* type_name) : Layer(type_name) {}
  // replace_module("2", m) swaps the module run third.
  bool accept_replaced_module(const std::string& name, const std::shared_ptr<Module>& module) override {
    for (size_t i = 0; i < modules_.size(); ++i)
      if (name == std::to_string(i)) {
        modules_[i] = module;
        return true;
      }
    return false;
  }

 public:
  const std::shared_ptr<Module>& operator[](size_t i) const { return modules_.at(i); }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

}  // namespace nl::layers
