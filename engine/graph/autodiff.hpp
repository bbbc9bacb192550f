#pragma once
// Reverse-mode autodiff as a graph transformation: a reverse sweep over the topological
// order appends the gradient nodes to the same graph, so the backward pass can be printed,
// checked, fused and planned like the forward one.

#include "engine/graph/graph.hpp"

namespace loom {

// Appends d(loss)/d(p) for every trainable parameter p that the loss depends on and records
// them with Graph::set_parameter_gradients. Only values on a path from a trainable parameter
// to the loss get gradients (the data input gets none); a value read by several nodes gets
// the sum of its gradient contributions through one `add` node.
void differentiate(Graph& graph);

}  // namespace loom
