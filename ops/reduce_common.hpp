#pragma once
// What reduce_sum and reduce_mean share: the axes attribute (negative counts from the end;
// Keras's keepdims=False, so reduced axes disappear from the shape) and the gradient, which
// spreads dy back over the reduced axes with the internal op broadcast_axes.

#include "engine/graph/op.hpp"

namespace loom {

// Which axes of a tensor of `rank` are reduced; errors name the node.
std::vector<bool> reduced_axes(const Node& node, int64_t rank);

std::vector<TensorType> reduce_shape_rule(const Node& node, std::span<const TensorType> inputs);

// d(loss)/dx for y = reduce(x): dy broadcast back to x's shape, times `factor` (1 for a sum,
// 1/count for a mean).
ValueId spread_over_reduced_axes(GradientBuilder& builder, const Node& node, ValueId dy,
                                 double factor);

}  // namespace loom
