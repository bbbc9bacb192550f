#include "engine/check/reference_evaluator.hpp"

#include <algorithm>

#include "engine/core/error.hpp"
#include "engine/graph/op.hpp"

namespace loom {

ReferenceEvaluator::ReferenceEvaluator(const Graph& graph, ValueId target, int64_t step)
    : graph_(graph), target_(target), step_(step), training_(graph.training()) {
  // Walk back from the target: a node is needed when one of its outputs is.
  std::vector<bool> value_needed(graph.values().size(), false);
  value_needed[size_t(target)] = true;
  const std::span<const Node> nodes = graph.nodes();
  for (auto id = NodeId(nodes.size()) - 1; id >= 0; --id) {
    const Node& node = nodes[size_t(id)];
    bool needed = false;
    for (ValueId output : node.outputs) needed = needed || value_needed[size_t(output)];
    if (!needed) continue;
    if (!node.op->has_reference()) {
      throw InputError("node '" + node.name + "' (" + std::string(node.op->name()) +
                       "): the op has no double-precision reference forward (Op::reference), "
                       "which gradient checking differentiates");
    }
    needed_.push_back(id);
    for (ValueId input : node.inputs) value_needed[size_t(input)] = true;
  }
  std::reverse(needed_.begin(), needed_.end());
  values_.resize(graph.values().size());
  for (size_t v = 0; v < values_.size(); ++v) {
    if (!value_needed[v]) continue;
    const Value& value = graph.value(ValueId(v));
    values_[v].assign(size_t(value.type.numel()),
                      value.role == ValueRole::constant ? double(value.fill) : 0.0);
  }
  // Auxiliary outputs nothing needed still get room: the reference may write them.
  for (NodeId id : needed_) {
    for (ValueId output : graph.node(id).outputs) {
      values_[size_t(output)].resize(size_t(graph.value(output).type.numel()));
    }
  }
}

std::span<double> ReferenceEvaluator::source(ValueId value) {
  if (graph_.value(value).producer != kNoProducer) {
    throw RuntimeError("reference evaluation: '" + graph_.value(value).name +
                       "' is computed, not a source");
  }
  return values_[size_t(value)];
}

std::span<const double> ReferenceEvaluator::value(ValueId value) const {
  return values_[size_t(value)];
}

void ReferenceEvaluator::run(NodeId id) {
  const Node& node = graph_.node(id);
  std::vector<TensorType> input_types, output_types;
  std::vector<std::span<const double>> inputs;
  std::vector<std::span<double>> outputs;
  for (ValueId input : node.inputs) {
    input_types.push_back(graph_.value(input).type);
    inputs.emplace_back(values_[size_t(input)]);
  }
  for (ValueId output : node.outputs) {
    output_types.push_back(graph_.value(output).type);
    std::vector<double>& data = values_[size_t(output)];
    std::fill(data.begin(), data.end(), 0.0);
    outputs.emplace_back(data);
  }
  node.op->reference({.node = node,
                      .training = training_,
                      .step = step_,
                      .input_types = input_types,
                      .output_types = output_types,
                      .inputs = inputs,
                      .outputs = outputs});
}

double ReferenceEvaluator::evaluate() {
  for (NodeId id : needed_) run(id);
  return values_[size_t(target_)].at(0);
}

const std::vector<NodeId>& ReferenceEvaluator::downstream_of(ValueId source) {
  const auto found = downstream_.find(source);
  if (found != downstream_.end()) return found->second;
  std::vector<bool> reached(values_.size(), false);
  reached[size_t(source)] = true;
  std::vector<NodeId> nodes;
  for (NodeId id : needed_) {
    const Node& node = graph_.node(id);
    bool reads = false;
    for (ValueId input : node.inputs) reads = reads || reached[size_t(input)];
    if (!reads) continue;
    nodes.push_back(id);
    for (ValueId output : node.outputs) reached[size_t(output)] = true;
  }
  return downstream_.emplace(source, std::move(nodes)).first->second;
}

double ReferenceEvaluator::evaluate_after_change(ValueId changed) {
  for (NodeId id : downstream_of(changed)) run(id);
  return values_[size_t(target_)].at(0);
}

}  // namespace loom
