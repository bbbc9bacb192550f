#include "engine/graph/autodiff.hpp"

#include <optional>

#include "engine/core/error.hpp"
#include "engine/graph/op.hpp"

namespace loom {

namespace {

// Forward sweep: a value needs a gradient when a trainable parameter flows into it.
std::vector<bool> depends_on_trainable(const Graph& graph) {
  std::vector<bool> depends(graph.values().size(), false);
  for (ValueId p : graph.parameters()) depends[size_t(p)] = graph.value(p).trainable;
  for (const Node& node : graph.nodes()) {
    bool any = false;
    for (ValueId input : node.inputs) any = any || depends[size_t(input)];
    for (ValueId output : node.outputs) depends[size_t(output)] = any;
  }
  return depends;
}

// Backward sweep: a value matters when the loss depends on it.
std::vector<bool> reaches_loss(const Graph& graph, ValueId loss) {
  std::vector<bool> reaches(graph.values().size(), false);
  reaches[size_t(loss)] = true;
  const auto nodes = graph.nodes();
  for (auto node = nodes.rbegin(); node != nodes.rend(); ++node) {
    bool any = false;
    for (ValueId output : node->outputs) any = any || reaches[size_t(output)];
    if (!any) continue;
    for (ValueId input : node->inputs) reaches[size_t(input)] = true;
  }
  return reaches;
}

}  // namespace

void differentiate(Graph& graph) {
  const std::optional<ValueId> loss = graph.loss();
  if (!loss) throw RuntimeError("autodiff: the graph has no loss");
  if (graph.value(*loss).type.numel() != 1) {
    throw InputError("autodiff: the loss '" + graph.value(*loss).name + "' must be a scalar, got " +
                     to_string(graph.value(*loss).type));
  }

  const std::vector<bool> trainable_flows = depends_on_trainable(graph);
  const std::vector<bool> on_loss_path = reaches_loss(graph, *loss);
  auto needs_gradient = [&](ValueId v) {
    return trainable_flows[size_t(v)] && on_loss_path[size_t(v)];
  };

  // Gradient contributions per value, summed lazily when the value's producer is reached.
  std::vector<std::vector<ValueId>> contributions(graph.values().size());
  contributions[size_t(*loss)].push_back(
      graph.add_constant(graph.unique_name("d/" + graph.value(*loss).name), {DType::f32, {}}, 1));

  GradientBuilder builder(graph);
  std::vector<std::optional<ValueId>> total(graph.values().size());
  auto sum_contributions = [&](ValueId v) -> std::optional<ValueId> {
    auto& parts = contributions[size_t(v)];
    if (parts.empty()) return std::nullopt;
    if (parts.size() == 1) return parts.front();
    const std::string name = graph.unique_name("d/" + graph.value(v).name + "/sum");
    return graph.add_node1(name, "add", parts, {}, true);
  };

  // Iterate over a snapshot of the forward node count: emitted nodes are appended after it.
  const auto forward_count = static_cast<NodeId>(graph.nodes().size());
  for (NodeId id = forward_count - 1; id >= 0; --id) {
    const Node node = graph.node(id);  // a copy: emitting nodes may reallocate the list
    bool produces_needed = false;
    for (ValueId output : node.outputs) produces_needed = produces_needed || needs_gradient(output);
    if (!produces_needed) continue;

    std::vector<std::optional<ValueId>> output_gradients;
    bool any_gradient = false;
    const size_t differentiable = node.outputs.size() - node.op->signature().auxiliary_outputs;
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      output_gradients.push_back(sum_contributions(node.outputs[i]));
      if (i >= differentiable && output_gradients.back()) {
        throw InputError("node '" + node.name + "' (" + std::string(node.op->name()) +
                         "): its output '" + graph.value(node.outputs[i]).name +
                         "' is state for the backward pass and has no gradient, but the loss "
                         "depends on it");
      }
      any_gradient = any_gradient || output_gradients.back().has_value();
    }
    if (!any_gradient) continue;

    std::vector<bool> wanted;
    for (ValueId input : node.inputs) wanted.push_back(needs_gradient(input));

    const GradientRequest request{node, output_gradients, wanted};
    const std::vector<std::optional<ValueId>> input_gradients = node.op->gradient(builder, request);
    if (input_gradients.size() != node.inputs.size()) {
      throw RuntimeError("node '" + node.name + "': the gradient rule of '" +
                         std::string(node.op->name()) + "' returned " +
                         std::to_string(input_gradients.size()) + " gradients for " +
                         std::to_string(node.inputs.size()) + " inputs");
    }
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (wanted[i] && input_gradients[i]) {
        contributions[size_t(node.inputs[i])].push_back(*input_gradients[i]);
      }
    }
  }

  std::vector<ParameterGradient> gradients;
  for (ValueId p : graph.parameters()) {
    if (!graph.value(p).trainable || !needs_gradient(p)) continue;
    const std::optional<ValueId> gradient = sum_contributions(p);
    if (!gradient) continue;
    if (graph.value(*gradient).type.shape != graph.value(p).type.shape) {
      throw RuntimeError("autodiff: the gradient of '" + graph.value(p).name + "' has shape " +
                         to_string(graph.value(*gradient).type.shape) + ", expected " +
                         to_string(graph.value(p).type.shape));
    }
    gradients.push_back({p, *gradient});
  }
  graph.set_parameter_gradients(std::move(gradients));
}

}  // namespace loom
