#include "ops/reduce_common.hpp"

namespace loom {

std::vector<bool> reduced_axes(const Node& node, int64_t rank) {
  std::vector<bool> reduced(static_cast<size_t>(rank), false);
  for (int64_t axis : node.attributes.get_ints("axes", {})) {
    const int64_t normalized = axis < 0 ? axis + rank : axis;
    if (normalized < 0 || normalized >= rank) {
      fail_node(node, "axis " + std::to_string(axis) + " is out of range for rank " +
                          std::to_string(rank));
    }
    if (reduced[size_t(normalized)]) {
      fail_node(node, "axis " + std::to_string(axis) + " is listed twice");
    }
    reduced[size_t(normalized)] = true;
  }
  return reduced;
}

std::vector<TensorType> reduce_shape_rule(const Node& node, std::span<const TensorType> inputs) {
  expect_dtype(node, inputs, 0, DType::f32);
  if (!node.attributes.has("axes")) fail_node(node, "the attribute 'axes' is required");
  const std::vector<bool> reduced = reduced_axes(node, inputs[0].rank());
  Shape shape;
  for (size_t i = 0; i < reduced.size(); ++i) {
    if (!reduced[i]) shape.push_back(inputs[0].shape[i]);
  }
  return {TensorType{DType::f32, shape}};
}

ValueId spread_over_reduced_axes(GradientBuilder& builder, const Node& node, ValueId dy,
                                 double factor) {
  const TensorType& x = builder.graph().value(node.inputs[0]).type;
  const std::vector<bool> reduced = reduced_axes(node, x.rank());
  std::vector<int64_t> axes;
  for (size_t i = 0; i < reduced.size(); ++i) {
    if (reduced[i]) axes.push_back(int64_t(i));
  }
  ValueId spread = builder.emit(node, "broadcast_axes", {dy}, {{"axes", axes}, {"shape", x.shape}});
  if (factor != 1.0) spread = builder.emit(node, "scale", {spread}, {{"factor", factor}});
  return spread;
}

}  // namespace loom
