#include "engine/plugin/layer.hpp"

#include <algorithm>

#include "engine/core/error.hpp"

namespace loom {

LayerRegistry& LayerRegistry::global() {
  static LayerRegistry registry;
  return registry;
}

void LayerRegistry::add(const std::string& name, LayerDefinition definition) {
  if (find(name)) throw InputError("layer '" + name + "' is registered twice");
  if (std::ranges::find(kBuiltinLayerKinds, name) != kBuiltinLayerKinds.end()) {
    throw InputError("layer '" + name + "' is a built-in layer kind");
  }
  if (!definition.expand) throw InputError("layer '" + name + "' has no expand function");
  definitions_.emplace_back(name, std::move(definition));
}

const LayerDefinition* LayerRegistry::find(const std::string& name) const {
  for (const auto& [registered, definition] : definitions_) {
    if (registered == name) return &definition;
  }
  return nullptr;
}

std::vector<std::string> LayerRegistry::names() const {
  std::vector<std::string> names;
  for (const auto& entry : definitions_) names.push_back(entry.first);
  std::ranges::sort(names);
  return names;
}

}  // namespace loom
