#include "engine/exec/parameter_store.hpp"

#include "engine/core/error.hpp"
#include "engine/core/random.hpp"

namespace loom {

void ParameterStore::initialize_from(const Graph& graph, uint64_t seed) {
  Random random(seed);
  for (ValueId id : graph.parameters()) {
    const Value& parameter = graph.value(id);
    if (tensors_.contains(parameter.name)) {
      if (shapes_.at(parameter.name) != parameter.type.shape) {
        throw RuntimeError("parameter '" + parameter.name + "' exists with shape " +
                           to_string(shapes_.at(parameter.name)) + ", the graph wants " +
                           to_string(parameter.type.shape));
      }
      continue;
    }
    AlignedBuffer buffer(static_cast<size_t>(parameter.type.bytes()));
    initialize(parameter.initializer, parameter.type.shape, buffer.floats(), random);
    tensors_.emplace(parameter.name, std::move(buffer));
    shapes_.emplace(parameter.name, parameter.type.shape);
  }
}

std::span<float> ParameterStore::at(const std::string& name) {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) throw RuntimeError("no parameter named '" + name + "'");
  return it->second.floats();
}

std::span<const float> ParameterStore::at(const std::string& name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) throw RuntimeError("no parameter named '" + name + "'");
  return it->second.floats();
}

const Shape& ParameterStore::shape(const std::string& name) const {
  return shapes_.at(name);
}

int64_t ParameterStore::total_elements() const {
  int64_t total = 0;
  for (const auto& [name, shape] : shapes_) total += numel(shape);
  return total;
}

}  // namespace loom
