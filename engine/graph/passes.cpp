#include "engine/graph/passes.hpp"

#include <algorithm>
#include <optional>
#include <span>

#include "engine/graph/op.hpp"

namespace loom {

namespace {

bool is_crossentropy_from_probabilities(const Node& node) {
  const std::string_view op = node.op->name();
  return op == "categorical_crossentropy" || op == "sparse_categorical_crossentropy";
}

bool is_last_axis_softmax(const Graph& graph, const Node& node) {
  if (node.op->name() != "softmax") return false;
  const int64_t rank = graph.value(node.outputs[0]).type.rank();
  const int64_t axis = node.attributes.get_int("axis", -1);
  return rank == 2 && (axis == -1 || axis == rank - 1);
}

// A sweep's edits to the graph's nodes, applied at once when it ends: node i is dropped when
// removed[i], else replaced by replacement[i] when that holds a node, else kept.
struct NodeEdits {
  explicit NodeEdits(const Graph& graph)
      : nodes(graph.nodes()), removed(nodes.size(), false), replacement(nodes.size()) {}
  void apply(Graph& graph) {
    std::vector<Node> rewritten;
    rewritten.reserve(nodes.size());
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (removed[i]) continue;
      rewritten.push_back(replacement[i] ? std::move(*replacement[i]) : nodes[i]);
    }
    graph.replace_nodes(std::move(rewritten));
  }

  std::span<const Node> nodes;
  std::vector<bool> removed;
  std::vector<std::optional<Node>> replacement;
};

}  // namespace

// One sweep over the nodes in order. Fusing a pair removes the softmax and puts the fused node
// where the loss was, which keeps every other node's relative order, so the reader positions
// computed before the sweep stay valid for the pairs after it; a softmax already fused into
// an earlier loss is no longer a softmax to a later one (its output is the fused node's).
int fuse_softmax_crossentropy(Graph& graph) {
  const Op& fused_op = OpRegistry::global().get("softmax_crossentropy");
  const auto consumers = graph.consumers();
  NodeEdits edits(graph);
  auto& [nodes, removed, replacement] = edits;
  int fused = 0;
  for (size_t loss_index = 0; loss_index < nodes.size(); ++loss_index) {
    const Node& loss_node = nodes[loss_index];
    if (!is_crossentropy_from_probabilities(loss_node)) continue;
    const NodeId softmax_index = graph.value(loss_node.inputs[0]).producer;
    if (softmax_index == kNoProducer || removed[size_t(softmax_index)]) continue;
    const Node& softmax_node = nodes[size_t(softmax_index)];
    if (!is_last_axis_softmax(graph, softmax_node)) continue;

    // The fused node sits where the loss node was, so every other reader of the
    // probabilities must come after it.
    const auto& readers = consumers[size_t(softmax_node.outputs[0])];
    const bool readers_after = std::ranges::all_of(
        readers, [&](NodeId reader) { return reader >= static_cast<NodeId>(loss_index); });
    if (!readers_after) continue;

    replacement[loss_index] = Node{.name = loss_node.name,
                                   .op = &fused_op,
                                   .attributes = {},
                                   .inputs = {softmax_node.inputs[0], loss_node.inputs[1]},
                                   .outputs = {softmax_node.outputs[0], loss_node.outputs[0]},
                                   .backward = false};
    removed[size_t(softmax_index)] = true;
    ++fused;
  }
  if (fused > 0) edits.apply(graph);
  return fused;
}

namespace {

// The single node reading `value`, if exactly one node reads it and the caller does not.
std::optional<NodeId> sole_reader(const Graph& graph,
                                  const std::vector<std::vector<NodeId>>& consumers,
                                  ValueId value) {
  if (value == graph.loss() || value == graph.prediction()) return std::nullopt;
  const auto& readers = consumers[size_t(value)];
  if (readers.size() != 1) return std::nullopt;
  const Node& reader = graph.node(readers[0]);
  if (std::ranges::count(reader.inputs, value) != 1) return std::nullopt;
  return readers[0];
}

}  // namespace

int fuse_matmul_bias_activation(Graph& graph) {
  const Op& fused_op = OpRegistry::global().get("fused_matmul");
  const auto consumers = graph.consumers();
  NodeEdits edits(graph);
  auto& [nodes, removed, replacement] = edits;
  int fused = 0;

  for (size_t m = 0; m < nodes.size(); ++m) {
    const Node& matmul = nodes[m];
    if (matmul.op->name() != "matmul" || removed[m]) continue;
    // fused_matmul's bias and oneDNN's fused kernels are for matrices, not batches of them.
    if (graph.value(matmul.outputs[0]).type.shape.size() != 2) continue;
    Node node{.name = matmul.name,
              .op = &fused_op,
              .attributes = matmul.attributes,
              .inputs = matmul.inputs,
              .outputs = matmul.outputs,
              .backward = matmul.backward};
    std::vector<size_t> chain = {m};
    if (auto reader = sole_reader(graph, consumers, node.outputs[0]);
        reader && nodes[size_t(*reader)].op->name() == "bias_add" &&
        nodes[size_t(*reader)].inputs[0] == node.outputs[0]) {
      const Node& bias_add = nodes[size_t(*reader)];
      node.inputs.push_back(bias_add.inputs[1]);
      node.outputs = bias_add.outputs;
      node.name += "+bias_add";
      chain.push_back(size_t(*reader));
    }
    if (auto reader = sole_reader(graph, consumers, node.outputs[0]);
        reader && nodes[size_t(*reader)].op->name() == "relu") {
      node.outputs = nodes[size_t(*reader)].outputs;
      node.attributes.set("activation", std::string("relu"));
      node.name += "+relu";
      chain.push_back(size_t(*reader));
    }
    if (chain.size() == 1) continue;
    // The fused node takes the place of the chain's last node: every reader of its output
    // comes after that, and its inputs were all defined before the matmul.
    for (size_t i = 0; i + 1 < chain.size(); ++i) removed[chain[i]] = true;
    replacement[chain.back()] = std::move(node);
    ++fused;
  }
  if (fused > 0) edits.apply(graph);
  return fused;
}

int fuse_conv_relu(Graph& graph) {
  const auto consumers = graph.consumers();
  NodeEdits edits(graph);
  auto& [nodes, removed, replacement] = edits;
  int fused = 0;
  for (size_t c = 0; c < nodes.size(); ++c) {
    const Node& conv = nodes[c];
    if (conv.op->name() != "conv2d" || conv.attributes.get_text("activation", "none") != "none") {
      continue;
    }
    const std::optional<NodeId> relu = sole_reader(graph, consumers, conv.outputs[0]);
    if (!relu || nodes[size_t(*relu)].op->name() != "relu") continue;
    // In the relu's place: the convolution's inputs were all defined before it.
    Node node = conv;
    node.attributes.set("activation", std::string("relu"));
    node.outputs = nodes[size_t(*relu)].outputs;
    node.name += "+relu";
    replacement[size_t(*relu)] = std::move(node);
    removed[c] = true;
    ++fused;
  }
  if (fused > 0) edits.apply(graph);
  return fused;
}

int fuse_max_pool_relu_backward(Graph& graph) {
  const auto consumers = graph.consumers();
  NodeEdits edits(graph);
  auto& [nodes, removed, replacement] = edits;
  int fused = 0;
  for (size_t r = 0; r < nodes.size(); ++r) {
    const Node& relu = nodes[r];
    if (relu.op->name() != "relu_backward") continue;
    const NodeId p = graph.value(relu.inputs[0]).producer;
    if (p == kNoProducer) continue;
    const Node& pool = nodes[size_t(p)];
    if (pool.op->name() != "max_pool2d_backward" || pool.inputs[1] != relu.inputs[1] ||
        pool.attributes.get_bool("through_relu", false) ||
        sole_reader(graph, consumers, pool.outputs[0]) != NodeId(r)) {
      continue;
    }
    // In the relu's place: the pool's inputs were all defined before the pool.
    Node node = pool;
    node.attributes.set("through_relu", true);
    node.outputs = relu.outputs;
    node.name += "+relu";  // as fused_matmul names its relu
    replacement[r] = std::move(node);
    removed[size_t(p)] = true;
    ++fused;
  }
  if (fused > 0) edits.apply(graph);
  return fused;
}

int prune_dead_nodes(Graph& graph) {
  std::vector<bool> needed(graph.values().size(), false);
  if (graph.loss()) needed[size_t(*graph.loss())] = true;
  if (graph.prediction()) needed[size_t(*graph.prediction())] = true;
  for (const ParameterGradient& g : graph.parameter_gradients()) needed[size_t(g.gradient)] = true;

  const auto nodes = graph.nodes();
  std::vector<bool> keep(nodes.size(), false);
  for (size_t i = nodes.size(); i-- > 0;) {
    keep[i] = std::ranges::any_of(nodes[i].outputs, [&](ValueId v) { return needed[size_t(v)]; });
    if (keep[i]) {
      for (ValueId input : nodes[i].inputs) needed[size_t(input)] = true;
    }
  }
  const auto dropped = static_cast<int>(std::ranges::count(keep, false));
  if (dropped == 0) return 0;
  std::vector<Node> kept;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (keep[i]) kept.push_back(nodes[i]);
  }
  graph.replace_nodes(std::move(kept));
  return dropped;
}

}  // namespace loom
