#include "engine/graph/graph.hpp"

#include <algorithm>
#include <sstream>

#include "engine/core/checked.hpp"
#include "engine/core/error.hpp"
#include "engine/graph/op.hpp"

namespace loom {

ValueId Graph::new_value(Value value) {
  if (has_name(value.name)) {
    throw InputError("the name '" + value.name + "' is defined twice");
  }
  // Checked once here, so every size the plan and the kernels take from a value is in range
  // (numel throws SizeError for a wrapped or absurd shape).
  try {
    value.type.numel();
  } catch (const SizeError& error) {
    throw SizeError("'" + value.name + "': " + error.what());
  }
  const auto id = static_cast<ValueId>(values_.size());
  value_by_name_.emplace(value.name, id);
  values_.push_back(std::move(value));
  return id;
}

ValueId Graph::add_input(const std::string& name, TensorType type, ValueRole role) {
  return new_value(Value{.name = name, .type = std::move(type), .role = role});
}

ValueId Graph::add_parameter(const std::string& name, TensorType type, Initializer initializer,
                             bool trainable) {
  return new_value(Value{.name = name,
                         .type = std::move(type),
                         .role = ValueRole::parameter,
                         .initializer = std::move(initializer),
                         .trainable = trainable});
}

ValueId Graph::add_constant(const std::string& name, TensorType type, float fill) {
  return new_value(
      Value{.name = name, .type = std::move(type), .role = ValueRole::constant, .fill = fill});
}

std::vector<ValueId> Graph::add_node(const std::string& name, std::string_view op_name,
                                     std::vector<ValueId> inputs, Attributes attributes,
                                     bool backward) {
  const Op& op = OpRegistry::global().get(op_name);
  if (node_by_name_.contains(name) || has_name(name)) {
    throw InputError("node '" + name + "' (" + std::string(op_name) + "): the name '" + name +
                     "' is defined twice");
  }
  Node node{.name = name,
            .op = &op,
            .attributes = std::move(attributes),
            .inputs = std::move(inputs),
            .outputs = {},
            .backward = backward};

  const OpSignature signature = op.signature();
  const size_t count = node.inputs.size();
  const size_t named = signature.inputs.size();
  const size_t fewest = named - signature.optional_inputs;
  const bool arity_ok = signature.variadic ? count >= named : count >= fewest && count <= named;
  if (!arity_ok) {
    const std::string expected = signature.variadic ? "at least " + std::to_string(named)
                                 : fewest == named
                                     ? std::to_string(named)
                                     : std::to_string(fewest) + " or " + std::to_string(named);
    fail_node(node, "expected " + expected + " input(s), got " + std::to_string(count));
  }
  std::vector<TensorType> input_types;
  for (ValueId input : node.inputs) input_types.push_back(value(input).type);
  std::vector<TensorType> output_types;
  try {
    output_types = op.infer(node, input_types);
    for (const TensorType& type : output_types) type.numel();
  } catch (const SizeError& error) {
    fail_node(node, error.what());  // names the node; the config building names its position
  }

  const auto id = static_cast<NodeId>(nodes_.size());
  for (size_t i = 0; i < output_types.size(); ++i) {
    const std::string output_name = i == 0 ? name : name + ":" + std::to_string(i);
    node.outputs.push_back(new_value(Value{.name = output_name,
                                           .type = output_types[i],
                                           .role = ValueRole::intermediate,
                                           .producer = id}));
  }
  node_by_name_.emplace(name, id);
  nodes_.push_back(std::move(node));
  return nodes_.back().outputs;
}

ValueId Graph::add_node1(const std::string& name, std::string_view op_name,
                         std::vector<ValueId> inputs, Attributes attributes, bool backward) {
  const std::vector<ValueId> outputs =
      add_node(name, op_name, std::move(inputs), std::move(attributes), backward);
  if (outputs.size() != 1) {
    throw RuntimeError("node '" + name + "' (" + std::string(op_name) + ") has " +
                       std::to_string(outputs.size()) + " outputs where one was expected");
  }
  return outputs.front();
}

std::optional<ValueId> Graph::find_value(std::string_view name) const {
  const auto it = value_by_name_.find(std::string(name));
  if (it == value_by_name_.end()) return std::nullopt;
  return it->second;
}

ValueId Graph::value_named(std::string_view name) const {
  if (auto id = find_value(name)) return *id;
  throw RuntimeError("the graph has no value named '" + std::string(name) + "'");
}

bool Graph::has_name(std::string_view name) const {
  const std::string key(name);
  return value_by_name_.contains(key) || node_by_name_.contains(key);
}

std::string Graph::unique_name(const std::string& base) const {
  if (!has_name(base)) return base;
  for (int suffix = 1;; ++suffix) {
    std::string candidate = base + "_" + std::to_string(suffix);
    if (!has_name(candidate)) return candidate;
  }
}

void Graph::replace_nodes(std::vector<Node> nodes) {
  for (Value& v : values_) {
    if (v.role == ValueRole::intermediate) v.producer = kNoProducer;
  }
  node_by_name_.clear();
  std::vector<bool> defined(values_.size(), false);
  for (size_t id = 0; id < values_.size(); ++id) {
    defined[id] = values_[id].role != ValueRole::intermediate;
  }
  for (size_t id = 0; id < nodes.size(); ++id) {
    const Node& node = nodes[id];
    for (ValueId input : node.inputs) {
      if (!defined[static_cast<size_t>(input)]) {
        throw RuntimeError("graph rewrite broke the order: node '" + node.name + "' reads '" +
                           value(input).name + "' before it is computed");
      }
    }
    for (ValueId output : node.outputs) {
      values_[static_cast<size_t>(output)].producer = static_cast<NodeId>(id);
      defined[static_cast<size_t>(output)] = true;
    }
    node_by_name_.emplace(node.name, static_cast<NodeId>(id));
  }
  nodes_ = std::move(nodes);
}

std::vector<ValueId> Graph::parameters() const {
  std::vector<ValueId> result;
  for (size_t id = 0; id < values_.size(); ++id) {
    if (values_[id].role == ValueRole::parameter) result.push_back(static_cast<ValueId>(id));
  }
  return result;
}

std::vector<std::vector<NodeId>> Graph::consumers() const {
  std::vector<std::vector<NodeId>> result(values_.size());
  for (size_t id = 0; id < nodes_.size(); ++id) {
    for (ValueId input : nodes_[id].inputs) {
      auto& readers = result[static_cast<size_t>(input)];
      if (readers.empty() || readers.back() != static_cast<NodeId>(id)) {
        readers.push_back(static_cast<NodeId>(id));
      }
    }
  }
  return result;
}

std::string Graph::describe() const {
  std::ostringstream out;
  out << "  #  node                                          op                                 "
         "output\n";
  for (size_t id = 0; id < nodes_.size(); ++id) {
    const Node& node = nodes_[id];
    std::string outputs;
    for (ValueId output : node.outputs) {
      outputs += (outputs.empty() ? "" : " ") + to_string(value(output).type);
    }
    std::string name = node.name;
    if (name.size() > 45) name = name.substr(0, 42) + "...";
    char line[256];
    std::snprintf(line, sizeof line, "%3zu  %-45s %-34s %s\n", id, name.c_str(),
                  std::string(node.op->name()).c_str(), outputs.c_str());
    out << line;
  }
  return out.str();
}

}  // namespace loom
