#pragma once
// Graph-to-graph rewrites run between building the forward graph and planning it.

#include "engine/graph/graph.hpp"

namespace loom {

// softmax -> (sparse_)categorical_crossentropy becomes one softmax_crossentropy node that
// still produces the probabilities (same value) and the loss (same value). Run it before
// autodiff, so the backward pass gets the stable (p - y)/batch gradient. Returns how many
// pairs were fused.
int fuse_softmax_crossentropy(Graph& graph);

// matmul -> bias_add -> relu (bias and relu each optional) becomes one fused_matmul: one
// oneDNN matmul with a bias and a post-op. Only values with a single reader that the caller
// does not read are folded away. Run it before autodiff. Returns how many chains were fused.
int fuse_matmul_bias_activation(Graph& graph);

// conv2d -> relu becomes one conv2d with activation relu: oneDNN's convolution with a relu
// post-op, as a Keras Conv2D(activation="relu") is built. Imported models (PyTorch's ONNX
// export) carry the relu as a node of its own, which then cost a pass over the convolution's
// output each way. Same rule as above: the convolution's output must have the relu as its only
// reader. Run it before autodiff. Returns how many pairs were fused.
int fuse_conv_relu(Graph& graph);

// relu_backward(max_pool2d_backward(dy, x, y), x), the backward pass of a relu (or a
// convolution's fused relu) whose output x a max pool reads alone, becomes one
// max_pool2d_backward with through_relu: the window's winner holds the window's maximum y, so
// the relu passes its gradient exactly when y > 0, and the pass over x-sized memory that the
// relu's backward made is gone. Run it after autodiff. Returns how many pairs were fused.
int fuse_max_pool_relu_backward(Graph& graph);

// Drops nodes whose outputs nobody reads and that produce none of the values the caller
// reads after a step (loss, prediction, parameter gradients). Returns how many were dropped.
int prune_dead_nodes(Graph& graph);

}  // namespace loom
