#include "engine/optim/optimizer.hpp"

#include <algorithm>
#include <mutex>

#include "engine/core/error.hpp"

namespace loom {

void Optimizer::bind(std::vector<OptimizedParameter> parameters) {
  parameters_ = std::move(parameters);
  const std::vector<std::string> names = slot_names();
  slots_.clear();
  slot_pointers_.clear();
  for (const OptimizedParameter& parameter : parameters_) {
    auto& slots = slots_.emplace_back();
    auto& pointers = slot_pointers_.emplace_back();
    for (size_t k = 0; k < names.size(); ++k) {
      slots.emplace_back(parameter.weights.size_bytes());
      pointers.push_back(slots.back().floats().data());
    }
  }
}

void Optimizer::step(std::span<const float* const> gradients) {
  const auto rate = static_cast<float>(learning_rate_);
  for (size_t i = 0; i < parameters_.size(); ++i) {
    update(parameters_[i].weights, gradients[i], slot_pointers_[i], rate);
  }
  ++iterations_;
}

std::vector<OptimizerState> Optimizer::state() {
  std::vector<OptimizerState> result;
  const std::vector<std::string> names = slot_names();
  for (size_t i = 0; i < parameters_.size(); ++i) {
    for (size_t k = 0; k < names.size(); ++k) {
      result.push_back({parameters_[i].name + "/" + names[k], slots_[i][k].floats()});
    }
  }
  return result;
}

OptimizerRegistry& OptimizerRegistry::global() {
  static OptimizerRegistry registry;
  static std::once_flag registered;
  std::call_once(registered, [] { register_builtin_optimizers(registry); });
  return registry;
}

void OptimizerRegistry::add(const std::string& name, OptimizerFactory factory) {
  if (contains(name)) throw InputError("optimizer '" + name + "' is registered twice");
  factories_.emplace_back(name, std::move(factory));
}

bool OptimizerRegistry::contains(const std::string& name) const {
  return std::ranges::any_of(factories_, [&](const auto& entry) { return entry.first == name; });
}

std::unique_ptr<Optimizer> OptimizerRegistry::create(const std::string& name,
                                                     ConfigNode& options) const {
  for (const auto& [known, factory] : factories_) {
    if (known != name) continue;
    if (!options.is_null()) options.expect_map();
    std::unique_ptr<Optimizer> optimizer = factory(options);
    if (!options.is_null()) options.finish();
    return optimizer;
  }
  options.fail("unknown optimizer '" + name + "' (known: " + join_names(names()) + ")");
}

std::vector<std::string> OptimizerRegistry::names() const {
  std::vector<std::string> result;
  for (const auto& entry : factories_) result.push_back(entry.first);
  std::ranges::sort(result);
  return result;
}

}  // namespace loom
