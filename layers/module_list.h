#pragma once
// ModuleList: submodules named "0", "1", ... that the owner calls itself (as
// torch.nn.ModuleList), for stacks whose forward takes more than one tensor —
// e.g. a GPT's blocks, each called with the causal mask.
#include <memory>
#include <string>
#include <vector>

#include "layers/module.h"

namespace nl::layers {

template <typename M = Module>
class ModuleList : public Layer<ModuleList<M>> {
 public:
  ModuleList() : Layer<ModuleList<M>>("ModuleList") {}
  void push_back(std::shared_ptr<M> module) {
    modules_.push_back(this->register_module(std::to_string(modules_.size()), std::move(module)));
  }
  size_t size() const { return modules_.size(); }
  const std::shared_ptr<M>& operator[](size_t i) const { return modules_.at(i); }
  auto begin() const { return modules_.begin(); }
  auto end() const { return modules_.end(); }

 private:
  std::vector<std::shared_ptr<M>> modules_;
};

}  // namespace nl::layers
