#pragma once
// The model's weights, by name. Owned outside any plan so that the training plan, the
// evaluation plan and the plan for a last partial batch all read and update the same memory.

#include <cstdint>
#include <map>
#include <span>
#include <string>

#include "engine/core/aligned_buffer.hpp"
#include "engine/graph/graph.hpp"

namespace loom {

class ParameterStore {
 public:
  // Creates (once) and initializes every parameter of the graph; a parameter that already
  // exists must have the same shape. Initialization draws from `seed` in graph order.
  void initialize_from(const Graph& graph, uint64_t seed);

  bool contains(const std::string& name) const { return tensors_.contains(name); }
  std::span<float> at(const std::string& name);
  std::span<const float> at(const std::string& name) const;
  const Shape& shape(const std::string& name) const;
  const std::map<std::string, Shape>& shapes() const { return shapes_; }
  int64_t total_elements() const;

 private:
  std::map<std::string, AlignedBuffer> tensors_;
  std::map<std::string, Shape> shapes_;
};

}  // namespace loom
